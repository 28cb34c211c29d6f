-- Reconciled shifts: one row per (store, register, shift), written once when its sales report has
-- been reconciled. `report` is the normalised report as uploaded (to tell a re-upload from a
-- different report), `result` the answer the uploader got (per-receipt outcomes, holds voided), so
-- the same report uploaded again is answered the same without applying anything.
CREATE TABLE shifts (
    store_id        text NOT NULL,
    register_id     text NOT NULL,
    shift_number    bigint NOT NULL,
    digest          text NOT NULL,
    source_format   text NOT NULL,
    closed_at       timestamptz NOT NULL,
    status          text NOT NULL,
    report          json NOT NULL,
    result          json NOT NULL,
    reconciled_at   timestamptz NOT NULL,
    PRIMARY KEY (store_id, register_id, shift_number)
);

-- Holds by the shift of their receipt, to void those a closed shift left uncommitted. Partial, so
-- only hold rows (one per Redeem) pay for it, not every ledger row.
CREATE INDEX ledger_holds_by_shift ON ledger (store_id, register_id, shift_number) WHERE kind = 'Hold';
