-- API keys of terminals, integrations and administrators. Only a hash of the secret part is kept:
-- the key is shown once, when it is created, and a stolen database does not reveal usable keys.
CREATE TABLE api_keys (
    key_id       text PRIMARY KEY,
    secret_hash  bytea NOT NULL,
    role         text NOT NULL CHECK (role IN ('pos', 'accountant', 'admin')),
    store_id     text,
    name         text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    CHECK ((role = 'pos') = (store_id IS NOT NULL))
);
