-- The ledger's key is what identifies a movement: the operation, the card, the row's number within
-- that operation (unique from the start). The surrogate id stays, filled by its sequence, for
-- ordering and statement paging (ledger_by_card covers both), but no longer carries an index of its
-- own: one B-tree fewer to maintain on every ledger row.
ALTER TABLE ledger DROP CONSTRAINT ledger_pkey;
ALTER TABLE ledger DROP CONSTRAINT ledger_operation_id_card_number_entry_number_key;
ALTER TABLE ledger ADD CONSTRAINT ledger_pkey PRIMARY KEY (operation_id, card_number, entry_number);
