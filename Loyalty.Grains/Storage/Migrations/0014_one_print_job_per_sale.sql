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

-- The later jobs of such a sale that no register has taken yet (queued, or waiting for a person)
-- are not printed: they fail, naming the job that keeps the sale. Their hold is that job's too, so
-- they owe no bonus step (bonuses None): the kept job commits or cancels it. A later job already
-- handed out (Printing) is left to its register: it may be on the paper already.
UPDATE print_jobs AS later
SET state = 'Failed', bonuses = 'None', bonus_message = NULL, updated_at = now(),
    message = 'Not printed: this receipt is already print job ' || kept.job_id || ' (a sale is fiscalised once; migration 0014).'
FROM (SELECT job_id, store_id,
             (request::jsonb -> 'receipt' -> 'ref' ->> 'registerId') || '/' ||
             (request::jsonb -> 'receipt' -> 'ref' ->> 'shiftNumber') || '/' ||
             (request::jsonb -> 'receipt' -> 'ref' ->> 'receiptNumber') AS ref
      FROM print_jobs
      WHERE receipt_ref IS NULL AND state IN ('Queued', 'NeedsAttention') AND request::jsonb ->> 'reprintOf' IS NULL) AS duplicate,
     print_jobs AS kept
WHERE later.job_id = duplicate.job_id
  AND kept.store_id = duplicate.store_id AND kept.receipt_ref = duplicate.ref AND kept.state <> 'Failed';

CREATE UNIQUE INDEX print_jobs_one_per_sale ON print_jobs (store_id, receipt_ref)
    WHERE receipt_ref IS NOT NULL AND state <> 'Failed';
CREATE INDEX print_jobs_by_hold ON print_jobs (hold_id) WHERE hold_id IS NOT NULL;
