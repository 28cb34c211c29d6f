-- Office-register print jobs (issue 13 point 4): one row per submitted sale, written before
-- SubmitReceipt answers. The job state is not money: bonuses move only through the card grains
-- (the hold is committed or cancelled there with an operation id derived from the job).
-- `request` is the job's immutable request (receipt, lines, payments, customer, delivery) as JSON,
-- compared as text to tell a retried submit from a different one; `fiscal` the register's answer.
CREATE TABLE print_jobs (
    job_id              text PRIMARY KEY,
    store_id            text NOT NULL,
    office_register_id  text NOT NULL,
    sequence            bigint NOT NULL,
    operation_id        text NOT NULL,
    request             text NOT NULL,
    state               text NOT NULL,
    message             text NOT NULL,
    contact_used        text,
    fiscal              json,
    bonuses             text NOT NULL,
    bonus_message       text,
    receipt_token       text NOT NULL,
    deliveries          integer NOT NULL,
    submitted_by        text NOT NULL,
    submitted_at        timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    -- What became of the receipt link sent by SMS or e-mail.
    notice              text,
    -- Idempotency: one job per operation id within a store (the drivers' keys are the store's).
    UNIQUE (store_id, operation_id),
    -- Queue order per register.
    UNIQUE (store_id, office_register_id, sequence),
    -- The receipt page's link.
    UNIQUE (receipt_token)
);

-- The feed reads a register's open jobs; finished ones are many and never read by it.
CREATE INDEX print_jobs_open ON print_jobs (store_id, office_register_id, sequence) WHERE state NOT IN ('Done', 'Failed');

-- The per-driver setting "mode 3" (issue 13 point 4): a driver key whose receipts go out
-- electronically, no paper, unless a request names another delivery.
CREATE TABLE print_driver_modes (
    key_id          text PRIMARY KEY,
    electronic_only boolean NOT NULL,
    updated_at      timestamptz NOT NULL
);
