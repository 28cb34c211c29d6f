-- Issue 13 fixes SubmitReceiptRequest.receipt's line amounts as AFTER bonus discounts (what the
-- register prints; the payments add up to them). Jobs stored by the build before kept them before
-- the discount, with the discount beside them in request.lines. This rewrites each such stored
-- request once, so a job queued before an upgrade prints and books the same figures after it:
-- each receipt line's amountKopecks loses the bonusDiscountKopecks of its SKU. Jobs without a
-- discount are the same in both shapes and are left as they are.
UPDATE print_jobs AS job
SET request = jsonb_set(
    job.request::jsonb,
    '{receipt,lines}',
    (SELECT jsonb_agg(
                line || jsonb_build_object('amountKopecks',
                    (line ->> 'amountKopecks')::bigint - coalesce((
                        SELECT sum((detail ->> 'bonusDiscountKopecks')::bigint)
                        FROM jsonb_array_elements(job.request::jsonb -> 'lines') AS detail
                        WHERE detail ->> 'sku' = line ->> 'sku'), 0))
                ORDER BY position)
     FROM jsonb_array_elements(job.request::jsonb -> 'receipt' -> 'lines') WITH ORDINALITY AS receipt_line(line, position)))::text
WHERE EXISTS (
    SELECT 1 FROM jsonb_array_elements(job.request::jsonb -> 'lines') AS detail
    WHERE (detail ->> 'bonusDiscountKopecks')::bigint <> 0);
