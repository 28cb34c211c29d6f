-- Orleans 10.4.2 on our PostgreSQL: cluster membership (Microsoft.Orleans.Clustering.AdoNet), reminders
-- (Microsoft.Orleans.Reminders.AdoNet) and small non-money grain state (Microsoft.Orleans.Persistence.AdoNet).
--
-- The ADO.NET providers issue no SQL of their own: at start-up they run
-- `SELECT QueryKey, QueryText FROM OrleansQuery` and afterwards only execute the texts found there by key,
-- binding their parameters by bare name (@DeploymentId, ...; Npgsql rewrites them to $n) and reading the
-- result columns by name. So the tables below are ours (snake_case, our constraints); the contract with
-- Orleans is only: the query keys, the parameter names and types, the result column names, and for the
-- writes that can lose a race, one row with one integer column, > 0 meaning "won". The contract is
-- summarised in shared/docs/orleans.md §2 and was checked against the 10.4.2 assemblies.
--
-- Conventions in every query text:
--  * Parameters are cast (@Version::int, @GrainIdExtensionString::text, ...): a NULL parameter reaches
--    PostgreSQL untyped, and "could not determine data type of parameter" would follow without a cast.
--  * Result columns carry quoted aliases spelled as the provider asks for them ("Address", "Version"),
--    so the provider's by-name lookup matches exactly instead of relying on Npgsql's case-insensitive
--    fallback.
--  * Writes are single statements (writable CTEs): the provider runs each query outside any explicit
--    transaction, so one statement is the unit that commits or not as a whole.

-- The providers name this table and its columns in their own start-up query; unquoted, so PostgreSQL
-- folds all three names to lower case and the identifiers below match them.
CREATE TABLE OrleansQuery (
    QueryKey  varchar(64) PRIMARY KEY,
    QueryText text NOT NULL
);

----------------------------------------------------------------------------------------------------
-- Clustering
----------------------------------------------------------------------------------------------------

-- One row per cluster id (Orleans calls it DeploymentId). Its version is the membership table's
-- optimistic-concurrency token: every membership change must name the version it read and bumps it.
CREATE TABLE orleans_cluster_version (
    deployment_id text PRIMARY KEY,
    version       integer NOT NULL DEFAULT 0,
    changed_at    timestamptz NOT NULL DEFAULT now()
);

-- One row per silo incarnation (address, port, generation). ON DELETE CASCADE so that removing a
-- cluster id (DeleteMembershipTableEntriesKey, tests) is one statement.
CREATE TABLE orleans_silo (
    deployment_id   text NOT NULL REFERENCES orleans_cluster_version (deployment_id) ON DELETE CASCADE,
    address         text NOT NULL,            -- IP address as text
    port            integer NOT NULL,         -- silo-to-silo port
    generation      integer NOT NULL,         -- distinguishes restarts on the same endpoint
    silo_name       text NOT NULL,
    host_name       text NOT NULL,
    status          integer NOT NULL,         -- 1 Created, 2 Joining, 3 Active, 4 ShuttingDown, 5 Stopping, 6 Dead
    proxy_port      integer,                  -- gateway port; 0 or NULL = not a gateway
    suspect_times   text,                     -- Orleans' own "silo@gen,date|..." list of votes, opaque to us
    start_time      timestamptz NOT NULL,
    i_am_alive_time timestamptz NOT NULL,     -- heartbeat, written without touching the version
    PRIMARY KEY (deployment_id, address, port, generation)
);

INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES

-- Creates the cluster's version row on first start. The provider only logs the answer, but it reads one
-- row, so one row (0 or 1) comes back whether or not the row was new.
('InsertMembershipVersionKey', $q$
WITH created AS (
    INSERT INTO orleans_cluster_version (deployment_id) VALUES (@DeploymentId::text)
    ON CONFLICT (deployment_id) DO NOTHING
    RETURNING 1)
SELECT count(*)::int FROM created
$q$),

-- Compare-and-set: the version row is bumped only if it still holds @Version (and the silo is not
-- already there); the member row is inserted only from the bumped row. UPDATE takes the version row's
-- lock, so a concurrent CAS on the same version waits and then re-checks `version = @Version` against
-- the committed row and loses (answers 0) instead of both winning.
('InsertMembershipKey', $q$
WITH bumped AS (
    UPDATE orleans_cluster_version v
       SET version = v.version + 1, changed_at = now()
     WHERE v.deployment_id = @DeploymentId::text
       AND v.version = @Version::int
       AND NOT EXISTS (SELECT 1 FROM orleans_silo s
                        WHERE s.deployment_id = @DeploymentId::text AND s.address = @Address::text
                          AND s.port = @Port::int AND s.generation = @Generation::int)
    RETURNING v.deployment_id),
inserted AS (
    INSERT INTO orleans_silo (deployment_id, address, port, generation, silo_name, host_name, status,
                              proxy_port, start_time, i_am_alive_time)
    SELECT b.deployment_id, @Address::text, @Port::int, @Generation::int, @SiloName::text, @HostName::text,
           @Status::int, @ProxyPort::int, @StartTime::timestamptz, @IAmAliveTime::timestamptz
      FROM bumped b
    RETURNING 1)
SELECT count(*)::int FROM inserted
$q$),

-- The same CAS for a status change or a suspicion vote: bump the version only if it is unchanged and
-- the member exists, and update the member only from the bumped row.
('UpdateMembershipKey', $q$
WITH bumped AS (
    UPDATE orleans_cluster_version v
       SET version = v.version + 1, changed_at = now()
     WHERE v.deployment_id = @DeploymentId::text
       AND v.version = @Version::int
       AND EXISTS (SELECT 1 FROM orleans_silo s
                    WHERE s.deployment_id = @DeploymentId::text AND s.address = @Address::text
                      AND s.port = @Port::int AND s.generation = @Generation::int)
    RETURNING v.deployment_id),
updated AS (
    UPDATE orleans_silo s
       SET status = @Status::int, suspect_times = @SuspectTimes::text, i_am_alive_time = @IAmAliveTime::timestamptz
      FROM bumped b
     WHERE s.deployment_id = b.deployment_id AND s.address = @Address::text
       AND s.port = @Port::int AND s.generation = @Generation::int
    RETURNING 1)
SELECT count(*)::int FROM updated
$q$),

-- Heartbeat. Deliberately not a versioned change: it would make every silo's CAS lose every few seconds.
('UpdateIAmAlivetimeKey', $q$
UPDATE orleans_silo
   SET i_am_alive_time = @IAmAliveTime::timestamptz
 WHERE deployment_id = @DeploymentId::text AND address = @Address::text
   AND port = @Port::int AND generation = @Generation::int
$q$),

-- The whole table: the version row LEFT JOINed with its members, so an empty cluster still returns its
-- version (one row with NULL member columns).
('MembershipReadAllKey', $q$
SELECT v.deployment_id AS "DeploymentId", s.address AS "Address", s.port AS "Port", s.generation AS "Generation",
       s.silo_name AS "SiloName", s.host_name AS "HostName", s.status AS "Status", s.proxy_port AS "ProxyPort",
       s.suspect_times AS "SuspectTimes", s.start_time AS "StartTime", s.i_am_alive_time AS "IAmAliveTime",
       v.version AS "Version"
  FROM orleans_cluster_version v
  LEFT JOIN orleans_silo s ON s.deployment_id = v.deployment_id
 WHERE v.deployment_id = @DeploymentId::text
$q$),

-- One member, same shape; the member conditions sit in the JOIN so the version row comes back even if
-- the member does not exist.
('MembershipReadRowKey', $q$
SELECT v.deployment_id AS "DeploymentId", s.address AS "Address", s.port AS "Port", s.generation AS "Generation",
       s.silo_name AS "SiloName", s.host_name AS "HostName", s.status AS "Status", s.proxy_port AS "ProxyPort",
       s.suspect_times AS "SuspectTimes", s.start_time AS "StartTime", s.i_am_alive_time AS "IAmAliveTime",
       v.version AS "Version"
  FROM orleans_cluster_version v
  LEFT JOIN orleans_silo s ON s.deployment_id = v.deployment_id
        AND s.address = @Address::text AND s.port = @Port::int AND s.generation = @Generation::int
 WHERE v.deployment_id = @DeploymentId::text
$q$),

-- Gateways for clients: members in the given status (the provider passes 3, Active) with a gateway port.
('GatewaysQueryKey', $q$
SELECT address AS "Address", proxy_port AS "ProxyPort", generation AS "Generation"
  FROM orleans_silo
 WHERE deployment_id = @DeploymentId::text AND status = @Status::int AND proxy_port > 0
$q$),

-- Removes a cluster id; the member rows go with it (ON DELETE CASCADE).
('DeleteMembershipTableEntriesKey', $q$
DELETE FROM orleans_cluster_version WHERE deployment_id = @DeploymentId::text
$q$),

-- Periodic clean-up of dead incarnations whose last heartbeat is older than the cut-off. Active rows are
-- never removed here, whatever their heartbeat: only the membership protocol may declare a silo dead.
-- (The optional CleanupDefunctSiloEntryKey of 10.4.2 is left out: the provider runs without it, and
-- nobody has seen it invoked, so it would be SQL we cannot test.)
('CleanupDefunctSiloEntriesKey', $q$
DELETE FROM orleans_silo
 WHERE deployment_id = @DeploymentId::text AND i_am_alive_time < @IAmAliveTime::timestamptz AND status <> 3
$q$);

----------------------------------------------------------------------------------------------------
-- Reminders
----------------------------------------------------------------------------------------------------

-- grain_hash is kept as the UNSIGNED 32-bit hash in a bigint. The provider sends hashes as a signed int
-- ((int)uint), and Orleans' ring ranges are unsigned: compared as signed ints a range that crosses
-- 0x80000000 would select nothing. Masking with 4294967295 maps both the stored hash and the range
-- bounds back to 0..2^32-1 (and is a no-op if a bound arrives as a non-negative bigint).
CREATE TABLE orleans_reminder (
    service_id    text NOT NULL,
    grain_id      text NOT NULL,
    reminder_name text NOT NULL,
    start_time    timestamptz NOT NULL,
    period_ms     bigint NOT NULL,            -- the provider reads it with GetInt64
    grain_hash    bigint NOT NULL CHECK (grain_hash BETWEEN 0 AND 4294967295),
    version       integer NOT NULL,           -- the reminder's ETag
    PRIMARY KEY (service_id, grain_id, reminder_name)
);

-- Each silo reads the reminders of its hash range on start and on every membership change.
CREATE INDEX orleans_reminder_range ON orleans_reminder (service_id, grain_hash);

INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES

('ReadReminderRowsKey', $q$
SELECT grain_id AS "GrainId", reminder_name AS "ReminderName", start_time AS "StartTime",
       period_ms AS "Period", version AS "Version"
  FROM orleans_reminder
 WHERE service_id = @ServiceId::text AND grain_id = @GrainId::text
$q$),

('ReadReminderRowKey', $q$
SELECT grain_id AS "GrainId", reminder_name AS "ReminderName", start_time AS "StartTime",
       period_ms AS "Period", version AS "Version"
  FROM orleans_reminder
 WHERE service_id = @ServiceId::text AND grain_id = @GrainId::text AND reminder_name = @ReminderName::text
$q$),

-- A range that does not wrap: (BeginHash, EndHash].
('ReadRangeRows1Key', $q$
SELECT grain_id AS "GrainId", reminder_name AS "ReminderName", start_time AS "StartTime",
       period_ms AS "Period", version AS "Version"
  FROM orleans_reminder
 WHERE service_id = @ServiceId::text
   AND grain_hash > (@BeginHash::bigint & 4294967295)
   AND grain_hash <= (@EndHash::bigint & 4294967295)
$q$),

-- A range that wraps past the top of the ring: (BeginHash, max] plus [0, EndHash].
('ReadRangeRows2Key', $q$
SELECT grain_id AS "GrainId", reminder_name AS "ReminderName", start_time AS "StartTime",
       period_ms AS "Period", version AS "Version"
  FROM orleans_reminder
 WHERE service_id = @ServiceId::text
   AND (grain_hash > (@BeginHash::bigint & 4294967295) OR grain_hash <= (@EndHash::bigint & 4294967295))
$q$),

-- Insert or replace; the answer is the row's new version (its ETag). Period arrives as int or bigint
-- depending on its size, hence the cast.
('UpsertReminderRowKey', $q$
INSERT INTO orleans_reminder AS r (service_id, grain_id, reminder_name, start_time, period_ms, grain_hash, version)
VALUES (@ServiceId::text, @GrainId::text, @ReminderName::text, @StartTime::timestamptz, @Period::bigint,
        (@GrainHash::bigint & 4294967295), 0)
ON CONFLICT (service_id, grain_id, reminder_name) DO UPDATE
   SET start_time = excluded.start_time, period_ms = excluded.period_ms,
       grain_hash = excluded.grain_hash, version = r.version + 1
RETURNING r.version AS "Version"
$q$),

-- Conditional on the ETag the caller holds; answers how many rows went (1 = deleted, 0 = changed or gone).
('DeleteReminderRowKey', $q$
WITH deleted AS (
    DELETE FROM orleans_reminder
     WHERE service_id = @ServiceId::text AND grain_id = @GrainId::text
       AND reminder_name = @ReminderName::text AND version = @Version::int
    RETURNING 1)
SELECT count(*)::int FROM deleted
$q$),

('DeleteReminderRowsKey', $q$
DELETE FROM orleans_reminder WHERE service_id = @ServiceId::text
$q$);

----------------------------------------------------------------------------------------------------
-- Grain persistence (small non-money state: programmes, shifts, print queues; money goes only through
-- the ledger)
----------------------------------------------------------------------------------------------------

-- A grain's identity is (service, grain type, N0, N1, key extension); string-keyed grains have N0 = N1 = 0
-- and their key in grain_id_ext, integer/Guid keys have NULL there unless they carry an extension. The
-- unique constraint treats NULLs as equal (PostgreSQL 15+) so two activations inserting the same new
-- grain's state cannot both succeed. The hashes are what the provider computes (its HashPicker); they are
-- stored for diagnostics and not used as keys, since a hash can collide and the full key cannot.
CREATE TABLE orleans_grain_state (
    service_id      text NOT NULL,
    grain_type      text NOT NULL,
    grain_id_n0     bigint NOT NULL,
    grain_id_n1     bigint NOT NULL,
    grain_id_ext    text,
    grain_type_hash integer NOT NULL,
    grain_id_hash   integer NOT NULL,
    payload         bytea,                   -- NULL after ClearStateAsync
    version         integer NOT NULL,        -- the state's ETag, 1 on first write, +1 on every change
    modified_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT orleans_grain_state_key UNIQUE NULLS NOT DISTINCT (service_id, grain_type, grain_id_n0, grain_id_n1, grain_id_ext)
);

INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES

-- No row = the provider creates a fresh state with a NULL ETag.
('ReadFromStorageKey', $q$
SELECT payload AS "PayloadBinary", version AS "Version"
  FROM orleans_grain_state
 WHERE service_id = @ServiceId::text AND grain_type = @GrainTypeString::text
   AND grain_id_n0 = @GrainIdN0::bigint AND grain_id_n1 = @GrainIdN1::bigint
   AND grain_id_ext IS NOT DISTINCT FROM @GrainIdExtensionString::text
$q$),

-- Optimistic concurrency on the ETag. With an ETag: update only if the stored version still equals it.
-- Without one (never written): insert, unless another activation already did. Exactly one row always
-- comes back, because the provider decides from it alone: the new version on success; on a lost race
-- the ETag it sent (equal = conflict), or NULL when it sent none (read as "" = conflict). An empty
-- result would read as "no conflict" and silently lose a write.
('WriteToStorageKey', $q$
WITH updated AS (
    UPDATE orleans_grain_state
       SET payload = @PayloadBinary::bytea, version = version + 1, modified_at = now(),
           grain_type_hash = @GrainTypeHash::int, grain_id_hash = @GrainIdHash::int
     WHERE @GrainStateVersion::int IS NOT NULL
       AND service_id = @ServiceId::text AND grain_type = @GrainTypeString::text
       AND grain_id_n0 = @GrainIdN0::bigint AND grain_id_n1 = @GrainIdN1::bigint
       AND grain_id_ext IS NOT DISTINCT FROM @GrainIdExtensionString::text
       AND version = @GrainStateVersion::int
    RETURNING version),
inserted AS (
    INSERT INTO orleans_grain_state (service_id, grain_type, grain_id_n0, grain_id_n1, grain_id_ext,
                                     grain_type_hash, grain_id_hash, payload, version)
    SELECT @ServiceId::text, @GrainTypeString::text, @GrainIdN0::bigint, @GrainIdN1::bigint,
           @GrainIdExtensionString::text, @GrainTypeHash::int, @GrainIdHash::int, @PayloadBinary::bytea, 1
     WHERE @GrainStateVersion::int IS NULL
    ON CONFLICT ON CONSTRAINT orleans_grain_state_key DO NOTHING
    RETURNING version)
SELECT COALESCE((SELECT version FROM updated), (SELECT version FROM inserted), @GrainStateVersion::int)
       AS "NewGrainStateVersion"
$q$),

-- Clearing keeps the row (payload NULL) and bumps the version, so a stale activation's later write with
-- the old ETag still fails. Same one-row answer as the write.
('ClearStorageKey', $q$
WITH cleared AS (
    UPDATE orleans_grain_state
       SET payload = NULL, version = version + 1, modified_at = now()
     WHERE service_id = @ServiceId::text AND grain_type = @GrainTypeString::text
       AND grain_id_n0 = @GrainIdN0::bigint AND grain_id_n1 = @GrainIdN1::bigint
       AND grain_id_ext IS NOT DISTINCT FROM @GrainIdExtensionString::text
       AND version = @GrainStateVersion::int
    RETURNING version)
SELECT COALESCE((SELECT version FROM cleared), @GrainStateVersion::int) AS "NewGrainStateVersion"
$q$),

-- Only used with DeleteStateOnClear = true, which we do not set (a deleted row lets a stale activation
-- insert again as if the grain were new). Kept so the option fails safe: conditional on the ETag, answering
-- like the clear (the version after the change on success, the sent ETag on conflict).
('DeleteStorageKey', $q$
WITH deleted AS (
    DELETE FROM orleans_grain_state
     WHERE service_id = @ServiceId::text AND grain_type = @GrainTypeString::text
       AND grain_id_n0 = @GrainIdN0::bigint AND grain_id_n1 = @GrainIdN1::bigint
       AND grain_id_ext IS NOT DISTINCT FROM @GrainIdExtensionString::text
       AND version = @GrainStateVersion::int
    RETURNING version + 1 AS version)
SELECT COALESCE((SELECT version FROM deleted), @GrainStateVersion::int) AS "NewGrainStateVersion"
$q$);
