-- An office register's own key (issue 13 point 4): a pos key made for one office register of its
-- store. Only that key (or an admin key) may take the register's print feed and report its
-- results; the drivers' keys of the store submit sales and read their jobs, but can neither mark a
-- job printed nor take the feed (and with it other drivers' customers).
ALTER TABLE api_keys ADD COLUMN office_register_id text;
ALTER TABLE api_keys ADD CHECK (office_register_id IS NULL OR role = 'pos');
