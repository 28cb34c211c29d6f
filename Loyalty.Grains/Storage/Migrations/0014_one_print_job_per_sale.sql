-- A sale is fiscalised once (issue 13 point 2): a second print job for the same receipt (store,
-- register, shift, number) under another operation id is refused while the first has not failed;
-- a sale whose job failed may be submitted again. Copies (reprints) are not sales and are left out.
-- hold_id is the bonus hold a job commits when it is printed: while the job is open, the hold
-- cannot be cancelled by hand (Cards.Cancel), or the customer would keep both the discount and the
-- bonuses.
ALTER TABLE print_jobs ADD COLUMN receipt_ref text, ADD COLUMN hold_id text;

UPDATE print_jobs SET hold_id = nullif(request::jsonb ->> 'holdId', '')
WHERE request::jsonb ->> 'reprintOf' IS NULL;

-- Jobs stored before this could repeat a receipt; the first that did not fail keeps the key.
UPDATE print_jobs AS job SET receipt_ref = first.ref
FROM (SELECT job_id, ref, row_number() OVER (PARTITION BY store_id, ref ORDER BY submitted_at, job_id) AS n
      FROM (SELECT job_id, store_id, submitted_at,
                   (request::jsonb -> 'receipt' -> 'ref' ->> 'registerId') || '/' ||
                   (request::jsonb -> 'receipt' -> 'ref' ->> 'shiftNumber') || '/' ||
                   (request::jsonb -> 'receipt' -> 'ref' ->> 'receiptNumber') AS ref
            FROM print_jobs
            WHERE state <> 'Failed' AND request::jsonb ->> 'reprintOf' IS NULL) AS sale) AS first
WHERE job.job_id = first.job_id AND first.n = 1;

CREATE UNIQUE INDEX print_jobs_one_per_sale ON print_jobs (store_id, receipt_ref)
    WHERE receipt_ref IS NOT NULL AND state <> 'Failed';
CREATE INDEX print_jobs_by_hold ON print_jobs (hold_id) WHERE hold_id IS NOT NULL;
