-- The accountant's workplace (issue 12): the bonus liability's daily summary, web sessions, and the
-- accountant's resolutions of reconciled shifts' receipts.

-- The books' day: Moscow time, where the company keeps its books. One function, so the summary and
-- the statement's period agree; changing the zone means rebuilding ledger_days.
CREATE FUNCTION loyalty_book_day(at timestamptz) RETURNS date LANGUAGE sql STABLE
    AS $$ SELECT (at AT TIME ZONE 'Europe/Moscow')::date $$;

-- Sums of ledger movements per book day, programme, store ('' for rows tied to no store: expiry,
-- releases, adjustments, transfers) and kind. A liability statement reads these few thousand rows
-- instead of the ledger's millions. Maintained in the same transaction as the ledger rows by the
-- statement-level trigger below: the ledger writer inserts a whole group commit in one statement, so
-- the trigger runs once per batch and folds its rows into a handful of upserts, with no change to
-- the writer. Rows are upserted in key order, so two servers' batches lock them in the same order.
-- A movement is booked on the day of its `at`, even when it is written later (a release or an expiry
-- settled on the card's next touch carries the moment it happened), so a past day's sums can grow.
CREATE TABLE ledger_days (
    day            date NOT NULL,
    program_id     text NOT NULL,
    store_id       text NOT NULL,
    kind           text NOT NULL,
    rows           bigint NOT NULL,
    amount         bigint NOT NULL,
    held_delta     bigint NOT NULL,
    pending_delta  bigint NOT NULL,
    PRIMARY KEY (day, program_id, store_id, kind)
);

CREATE FUNCTION ledger_days_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ledger_days AS d (day, program_id, store_id, kind, rows, amount, held_delta, pending_delta)
    SELECT loyalty_book_day(n.at), coalesce(c.program_id, ''), coalesce(n.store_id, ''), n.kind,
           count(*), sum(n.amount), sum(n.held_delta), sum(n.pending_delta)
    FROM new_rows n LEFT JOIN cards c ON c.number = n.card_number
    GROUP BY 1, 2, 3, 4
    ORDER BY 1, 2, 3, 4
    ON CONFLICT (day, program_id, store_id, kind) DO UPDATE SET
        rows = d.rows + excluded.rows,
        amount = d.amount + excluded.amount,
        held_delta = d.held_delta + excluded.held_delta,
        pending_delta = d.pending_delta + excluded.pending_delta;
    RETURN NULL;
END $$;

CREATE TRIGGER ledger_days_maintained AFTER INSERT ON ledger
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ledger_days_add();

-- What was written before this migration.
INSERT INTO ledger_days (day, program_id, store_id, kind, rows, amount, held_delta, pending_delta)
SELECT loyalty_book_day(l.at), coalesce(c.program_id, ''), coalesce(l.store_id, ''), l.kind,
       count(*), sum(l.amount), sum(l.held_delta), sum(l.pending_delta)
FROM ledger l LEFT JOIN cards c ON c.number = l.card_number
GROUP BY 1, 2, 3, 4;

-- Offline redemptions that drove a card below zero (the debts page); partial, so only such rows pay for it.
CREATE INDEX ledger_debts ON ledger (at) WHERE kind = 'OfflineRedeem' AND available_after < 0;

-- Signed-in web sessions, here rather than in one server's memory so they work across servers. The
-- cookie carries a 256-bit random secret; only its SHA-256 is stored, so a copy of this table signs
-- no one in. The role and store are the key's, read again on every request (a revoked key's
-- sessions end at once).
CREATE TABLE web_sessions (
    id_hash     bytea PRIMARY KEY,
    key_id      text NOT NULL,
    csrf_token  text NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX web_sessions_by_expiry ON web_sessions (expires_at);

-- An accountant's resolution of one receipt of a reconciled shift: at most one per receipt, so a
-- form posted twice, or two accountants at once, resolve it once. `state` is 'claimed' while its
-- movements are being written through the card grains, 'applied' once they are durable; the
-- movements carry `operation_id` (derived from shift, receipt and resolution) and its suffixes.
CREATE TABLE shift_resolutions (
    store_id        text NOT NULL,
    register_id     text NOT NULL,
    shift_number    bigint NOT NULL,
    receipt_number  bigint NOT NULL,
    resolution      text NOT NULL,
    amount          bigint NOT NULL,
    reason          text NOT NULL,
    operation_id    text NOT NULL,
    actor           text NOT NULL,
    state           text NOT NULL,
    at              timestamptz NOT NULL,
    PRIMARY KEY (store_id, register_id, shift_number, receipt_number)
);
