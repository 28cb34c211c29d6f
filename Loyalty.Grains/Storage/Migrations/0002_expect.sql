-- Lets one batched statement abort its transaction when a condition does not hold, with a
-- SQLSTATE of our own (LY001) that the ledger writer recognises. The writer's one-round-trip
-- path relies on it to detect a card version that moved since its activation read it.
CREATE FUNCTION loyalty_expect(condition boolean, message text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    IF NOT condition THEN
        RAISE EXCEPTION '%', message USING ERRCODE = 'LY001';
    END IF;
    RETURN true;
END $$;
