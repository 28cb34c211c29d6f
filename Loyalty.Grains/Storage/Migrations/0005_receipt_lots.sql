-- Which lots a receipt's redemption took, with what returns gave back to each (a JSON array of
-- {AmountKopecks, AvailableAt, ExpiresAt, RestoredKopecks}), so a return gives bonuses back with
-- their original dates instead of as new bonuses. NULL for receipts committed before this: their
-- returns credit new bonuses, as they did when they were committed.
ALTER TABLE receipts ADD COLUMN redeemed_lots json;
