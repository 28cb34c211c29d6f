-- The customer display's link per office register (issue 13 point 6). A display polls
-- /display/<token>; the token is 192 random bits given only to the register's own keys
-- (Fiscal.GetDisplayLink), so only a display the store set up reads the register's last receipt.
-- Rotating replaces the token and the old link stops working.
CREATE TABLE print_displays (
    store_id            text NOT NULL,
    office_register_id  text NOT NULL,
    token               text NOT NULL UNIQUE,
    created_at          timestamptz NOT NULL,
    PRIMARY KEY (store_id, office_register_id)
);

-- How many times a receipt's link was sent again (Fiscal.ResendReceipt), sent or not: bounded by
-- PrintQueue.MaxResendsPerReceipt, counted by one conditional UPDATE so concurrent resends cannot
-- pass the bound.
ALTER TABLE print_jobs ADD COLUMN resends integer NOT NULL DEFAULT 0;
