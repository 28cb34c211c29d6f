-- The system of record. Amounts are bigint kopecks. The ledger is append-only: a trigger refuses
-- UPDATE, DELETE and TRUNCATE, so mistakes can only be corrected by new rows.
-- Card state, stored results and receipt lines are `json`, not `jsonb`: they are written on every
-- operation and read back whole, never queried inside by the engine, and `json` keeps the text
-- as written instead of converting it (measured: about 10 % more writes per second). Ad-hoc
-- queries can still cast them to jsonb.

CREATE TABLE programs (
    program_id  text PRIMARY KEY,
    settings    jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE cards (
    number      text PRIMARY KEY,
    program_id  text NOT NULL REFERENCES programs (program_id),
    status      text NOT NULL,
    -- Optimistic concurrency token: every write is "UPDATE ... WHERE version = expected".
    version     bigint NOT NULL CHECK (version > 0),
    balance     bigint NOT NULL,
    held        bigint NOT NULL CHECK (held >= 0),
    pending     bigint NOT NULL CHECK (pending >= 0),
    state       json NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
)
-- Every operation rewrites its card's row; room left on each page lets PostgreSQL keep the new
-- version on the same page without touching the index (a HOT update).
WITH (fillfactor = 50);

CREATE TABLE ledger (
    id              bigserial PRIMARY KEY,
    card_number     text NOT NULL,
    operation_id    text NOT NULL,
    entry_number    int NOT NULL,
    kind            text NOT NULL,
    amount          bigint NOT NULL,
    held_delta      bigint NOT NULL,
    pending_delta   bigint NOT NULL,
    balance_after   bigint NOT NULL,
    available_after bigint NOT NULL,
    version_after   bigint NOT NULL,
    store_id        text,
    register_id     text,
    shift_number    bigint,
    receipt_number  bigint,
    offline         boolean NOT NULL,
    reason          text,
    actor           text,
    at              timestamptz NOT NULL,
    -- A transfer writes one operation on two cards; each card numbers its own rows.
    UNIQUE (operation_id, card_number, entry_number)
);
CREATE INDEX ledger_by_card ON ledger (card_number, id);
-- No index by receipt key here: receipts are found through the receipts table, keyed by it.

CREATE FUNCTION ledger_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only; correct a mistake with a new row';
END $$;
CREATE TRIGGER ledger_no_update BEFORE UPDATE OR DELETE ON ledger FOR EACH ROW EXECUTE FUNCTION ledger_is_append_only();
CREATE TRIGGER ledger_no_truncate BEFORE TRUNCATE ON ledger FOR EACH STATEMENT EXECUTE FUNCTION ledger_is_append_only();

-- One row per accepted write: the idempotency record. A retry with the same id and payload
-- gets `result` back; a different payload is refused.
CREATE TABLE operations (
    operation_id  text PRIMARY KEY,
    card_number   text NOT NULL,
    kind          text NOT NULL,
    payload_hash  bytea NOT NULL,
    result        json NOT NULL,
    at            timestamptz NOT NULL
);

-- Committed receipts, by the key registers print and sales reports carry. Refunds update the
-- returned quantities in `lines`.
CREATE TABLE receipts (
    store_id        text NOT NULL,
    register_id     text NOT NULL,
    shift_number    bigint NOT NULL,
    receipt_number  bigint NOT NULL,
    card_number     text NOT NULL,
    offline         boolean NOT NULL,
    redeemed        bigint NOT NULL,
    accrued         bigint NOT NULL,
    lines           json NOT NULL,
    operation_id    text NOT NULL,
    at              timestamptz NOT NULL,
    PRIMARY KEY (store_id, register_id, shift_number, receipt_number)
);
CREATE INDEX receipts_by_card ON receipts (card_number);
