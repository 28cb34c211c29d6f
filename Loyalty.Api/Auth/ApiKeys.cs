using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Loyalty.Grains.Domain;
using Npgsql;

namespace Loyalty.Api.Auth;

public enum Role { Pos, Accountant, Admin }

/// <summary>
/// Who is calling: the key's id and name (for the ledger's "who did it"), its role and, for a
/// register, its store; <paramref name="OfficeRegisterId"/> is set on the key of an office register
/// (the device that prints the drivers' receipts), which alone takes that register's print feed.
/// </summary>
public sealed record Caller(string KeyId, string Name, Role Role, string? StoreId, string? OfficeRegisterId = null)
{
    public string Actor => $"key:{KeyId} ({Name})";
}

/// <summary>What the server knows of a key: everything but the secret.</summary>
public sealed record ApiKeyRecord(Caller Caller, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt);

/// <summary>A key as given to its holder once: the id (public, names the key) and the secret (only its hash is stored).</summary>
public sealed record IssuedKey(string ApiKey, Caller Caller);

/// <summary>
/// API keys in PostgreSQL. A key reads "lk_&lt;id&gt;_&lt;secret&gt;": the id finds the row, the secret is
/// checked against its SHA-256. The secret is 256 random bits, so a fast hash is enough (a slow
/// password hash protects guessable secrets, and these are not guessable); it keeps the check to
/// a microsecond. Keys looked up are cached for <see cref="CacheSeconds"/> (unknown ids too), so a
/// busy register's calls cost one primary-key read per second at most, and a key revoked through any
/// server stops working on every server within that second.
/// </summary>
public sealed class ApiKeyStore(NpgsqlDataSource dataSource, TimeProvider time)
{
    public const string Prefix = "lk_";
    /// <summary>The promise that a revocation reaches every server within a second (issue 10), kept by re-reading each key at most this often.</summary>
    public const int CacheSeconds = 1;
    /// <summary>Distinct keys kept verified in memory; past it the cache starts afresh (one database read per key).</summary>
    public const int MaxCachedKeys = 10_000;
    private const int SecretBytes = 32;
    private const int KeyIdBytes = 8;

    // A key id with no row is remembered too (Caller null), so a client hammering with made-up keys
    // costs a dictionary lookup per call, not a database query.
    private readonly ConcurrentDictionary<string, (Caller? Caller, byte[] SecretHash, DateTimeOffset Until)> _verified = new(StringComparer.Ordinal);

    public static string RoleName(Role role) => role switch
    {
        Role.Pos => "pos",
        Role.Accountant => "accountant",
        _ => "admin",
    };

    public static Role? ParseRole(string? text) => text?.Trim().ToLowerInvariant() switch
    {
        "pos" or "role_pos" => Role.Pos,
        "accountant" or "role_accountant" => Role.Accountant,
        "admin" or "role_admin" => Role.Admin,
        _ => null,
    };

    /// <summary>Creates a key; <paramref name="officeRegisterId"/> makes a pos key the key of that office register of its store.</summary>
    public async Task<IssuedKey> CreateAsync(Role role, string? storeId, string name, string? officeRegisterId = null, CancellationToken cancellationToken = default)
    {
        if (role == Role.Pos)
            Validate.Identifier(storeId, "store id of a pos key");
        else if (!string.IsNullOrEmpty(storeId))
            throw Validate.Invalid($"Only a pos key belongs to a store; a {RoleName(role)} key takes no store id.");
        if (!string.IsNullOrEmpty(officeRegisterId))
        {
            if (role != Role.Pos) throw Validate.Invalid($"Only a pos key can be an office register's key; a {RoleName(role)} key takes no office register id.");
            Validate.Identifier(officeRegisterId, "office register id");
        }
        Validate.Text(name, "key name (who holds the key)", required: true);
        var (keyId, secret) = NewKey();
        var caller = new Caller(keyId, name.Trim(), role, role == Role.Pos ? storeId : null, string.IsNullOrEmpty(officeRegisterId) ? null : officeRegisterId);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using (var insert = Insert(caller, secret, connection, transaction: null))
            await insert.ExecuteNonQueryAsync(cancellationToken);
        _verified.TryRemove(keyId, out _);
        return new IssuedKey($"{Prefix}{keyId}_{secret}", caller);
    }

    /// <summary>Listing is for people; past this many keys the list is cut (newest first).</summary>
    public const int MaxListedKeys = 10_000;

    public async Task<IReadOnlyList<ApiKeyRecord>> ListAsync(bool includeRevoked, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT key_id, role, store_id, name, created_at, revoked_at, office_register_id FROM api_keys WHERE $1 OR revoked_at IS NULL ORDER BY created_at DESC, key_id LIMIT $2");
        command.Parameters.AddWithValue(includeRevoked);
        command.Parameters.AddWithValue(MaxListedKeys);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var keys = new List<ApiKeyRecord>();
        while (await reader.ReadAsync(cancellationToken))
            keys.Add(Record(reader));
        return keys;
    }

    /// <summary>
    /// Revokes a key: at once here (its cache entry goes), within <see cref="CacheSeconds"/> on other
    /// servers. Revoking a revoked key answers the same. The last admin key in force is kept, so the
    /// server can never be left without anyone able to administer it.
    /// </summary>
    public async Task<ApiKeyRecord> RevokeAsync(string keyId, CancellationToken cancellationToken = default)
    {
        Validate.Identifier(keyId, "key id");
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        // Two admins revoking each other's keys at once cannot both pass the "another admin remains" check.
        await LockAdminKeysAsync(connection, transaction, cancellationToken);
        await using var revoke = new NpgsqlCommand(
            "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE key_id = $1 " +
            "RETURNING key_id, role, store_id, name, created_at, revoked_at, office_register_id, " +
            "(SELECT count(*) FROM api_keys WHERE role = 'admin' AND revoked_at IS NULL AND key_id <> $1)", connection, transaction);
        revoke.Parameters.AddWithValue(keyId);
        ApiKeyRecord record;
        long otherAdmins;
        await using (var reader = await revoke.ExecuteReaderAsync(cancellationToken))
        {
            if (!await reader.ReadAsync(cancellationToken))
                throw new CardException(CardErrorCode.NotFound, $"There is no API key with id {keyId}.");
            record = Record(reader);
            otherAdmins = reader.GetInt64(7);
        }
        if (record.Caller.Role == Role.Admin && otherAdmins == 0)
            throw new CardException(CardErrorCode.LimitExceeded, $"Key {keyId} is the last admin key in force; create another admin key before revoking it.");
        await transaction.CommitAsync(cancellationToken);
        _verified.TryRemove(keyId, out _);
        return record;
    }

    private static ApiKeyRecord Record(NpgsqlDataReader reader) => new(
        new Caller(reader.GetString(0), reader.GetString(3), ParseRole(reader.GetString(1)) ?? Role.Pos, reader.IsDBNull(2) ? null : reader.GetString(2),
            reader.IsDBNull(6) ? null : reader.GetString(6)),
        reader.GetFieldValue<DateTimeOffset>(4),
        reader.IsDBNull(5) ? null : reader.GetFieldValue<DateTimeOffset>(5));

    /// <summary>The caller a key belongs to, or null when the key is malformed, unknown, revoked or wrong.</summary>
    public async ValueTask<Caller?> VerifyAsync(string apiKey, CancellationToken cancellationToken = default)
    {
        if (!TrySplit(apiKey, out var keyId, out var secret)) return null;
        var now = time.GetUtcNow();
        if (_verified.TryGetValue(keyId, out var cached) && cached.Until > now)
            return cached.Caller is not null && Matches(secret, cached.SecretHash) ? cached.Caller : null;

        await using var command = dataSource.CreateCommand(
            "SELECT secret_hash, role, store_id, name, office_register_id FROM api_keys WHERE key_id = $1 AND revoked_at IS NULL");
        command.Parameters.AddWithValue(keyId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (_verified.Count >= MaxCachedKeys) _verified.Clear();
        if (!await reader.ReadAsync(cancellationToken))
        {
            _verified[keyId] = (null, [], now.AddSeconds(CacheSeconds));
            return null;
        }
        var hash = (byte[])reader[0];
        var caller = new Caller(keyId, reader.GetString(3), ParseRole(reader.GetString(1)) ?? Role.Pos, reader.IsDBNull(2) ? null : reader.GetString(2),
            reader.IsDBNull(4) ? null : reader.GetString(4));
        _verified[keyId] = (caller, hash, now.AddSeconds(CacheSeconds));
        if (!Matches(secret, hash)) return null;
        return caller;
    }

    /// <summary>
    /// On the first start of a database, creates its first admin key and writes it to
    /// <paramref name="path"/>, readable by the owner only. Several servers starting together on
    /// one database create one key between them (an advisory lock). Returns false when an admin
    /// key existed already (the file is then left as it is).
    /// </summary>
    public async Task<bool> EnsureFirstAdminKeyAsync(string path, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await LockAdminKeysAsync(connection, transaction, cancellationToken);
        await using (var exists = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM api_keys WHERE role = 'admin' AND revoked_at IS NULL)", connection, transaction))
            if ((bool)(await exists.ExecuteScalarAsync(cancellationToken))!) return false;

        var (keyId, secret) = NewKey();
        // The file is written before the key is committed: a crash in between leaves an unusable
        // file that the next start replaces, never a key nobody can read.
        WriteOwnerOnly(path, $"{Prefix}{keyId}_{secret}\n");
        await using (var insert = Insert(new Caller(keyId, "first admin key", Role.Admin, null), secret, connection, transaction))
            await insert.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    /// <summary>Serialises what depends on "is there another admin key" (first key, revocation) across servers.</summary>
    private const long AdminKeysLockId = 7_261_001;

    private static async Task LockAdminKeysAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT pg_advisory_xact_lock($1)", connection, transaction);
        command.Parameters.AddWithValue(AdminKeysLockId);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>A fresh key id and secret; the key given out is "lk_&lt;id&gt;_&lt;secret&gt;".</summary>
    private static (string KeyId, string Secret) NewKey() =>
        (Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(KeyIdBytes)), Base64Url(RandomNumberGenerator.GetBytes(SecretBytes)));

    private static NpgsqlCommand Insert(Caller caller, string secret, NpgsqlConnection connection, NpgsqlTransaction? transaction)
    {
        var command = new NpgsqlCommand(
            "INSERT INTO api_keys (key_id, secret_hash, role, store_id, name, office_register_id) VALUES ($1, $2, $3, $4, $5, $6)", connection, transaction);
        command.Parameters.AddWithValue(caller.KeyId);
        command.Parameters.AddWithValue(Hash(secret));
        command.Parameters.AddWithValue(RoleName(caller.Role));
        command.Parameters.AddWithValue((object?)caller.StoreId ?? DBNull.Value);
        command.Parameters.AddWithValue(caller.Name);
        command.Parameters.AddWithValue((object?)caller.OfficeRegisterId ?? DBNull.Value);
        return command;
    }

    private static void WriteOwnerOnly(string path, string content)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var temporary = path + ".tmp";
        File.Delete(temporary);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        // Created owner-only from the first byte, not chmod-ed afterwards, so there is no moment another user could read it.
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var stream = new FileStream(temporary, options))
        {
            stream.Write(Encoding.ASCII.GetBytes(content));
            stream.Flush(flushToDisk: true);
        }
        File.Move(temporary, path, overwrite: true);
    }

    private static bool TrySplit(string apiKey, out string keyId, out string secret)
    {
        keyId = secret = "";
        if (apiKey.Length != Prefix.Length + KeyIdBytes * 2 + 1 + 43 || !apiKey.StartsWith(Prefix, StringComparison.Ordinal)) return false;
        var separator = Prefix.Length + KeyIdBytes * 2;
        if (apiKey[separator] != '_') return false;
        keyId = apiKey[Prefix.Length..separator];
        secret = apiKey[(separator + 1)..];
        foreach (var c in keyId)
            if (!char.IsAsciiHexDigitLower(c) && !char.IsAsciiDigit(c)) return false;
        return true;
    }

    private static bool Matches(string secret, byte[] storedHash) =>
        CryptographicOperations.FixedTimeEquals(Hash(secret), storedHash);

    private static byte[] Hash(string secret) => SHA256.HashData(Encoding.ASCII.GetBytes(secret));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
