-- When a card next has a time-driven change due (a hold timing out, an accrual becoming spendable, a
-- lot burning) without any command: Card.NextDueAt of its state, written with the card row by every
-- write. The sweeper (CardSweeperGrain) settles the cards whose moment has passed, so a card nobody
-- touches still shows those changes in its ledger within the sweep period.
ALTER TABLE cards ADD COLUMN due_at timestamptz;

-- Only cards with something waiting are indexed: most cards have nothing pending.
CREATE INDEX cards_due_at ON cards (due_at) WHERE due_at IS NOT NULL;

-- Cards written before this migration: the same rule as Card.NextDueAt, read from the stored state
-- (camelCase JSON: holds[].expiresAt; lots[].released ? expiresAt : availableAt).
UPDATE cards c SET due_at = (
    SELECT min(t) FROM (
        SELECT (h ->> 'expiresAt')::timestamptz AS t FROM json_array_elements(c.state -> 'holds') h
        UNION ALL
        SELECT CASE WHEN (l ->> 'released')::boolean THEN (l ->> 'expiresAt')::timestamptz ELSE (l ->> 'availableAt')::timestamptz END
          FROM json_array_elements(c.state -> 'lots') l
    ) due);
