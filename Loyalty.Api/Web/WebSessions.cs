using System.Security.Cryptography;
using System.Text;
using Loyalty.Api.Auth;
using Npgsql;

namespace Loyalty.Api.Web;

/// <summary>A signed-in browser: the key it signed in with (name, role, store as they are now) and its CSRF token.</summary>
public sealed record WebSession(byte[] IdHash, Caller Caller, string CsrfToken, DateTimeOffset ExpiresAt);

/// <summary>
/// Web sessions kept in PostgreSQL (table <c>web_sessions</c>), so any server of a cluster serves a
/// signed-in browser. The cookie holds a 256-bit random secret; the table holds its SHA-256, so
/// reading the table signs no one in. Each lookup joins the key's row: a revoked key's sessions end
/// at once, and a role change is seen on the next page.
/// </summary>
public sealed class WebSessions(NpgsqlDataSource dataSource, TimeProvider time)
{
    public const string Cookie = "loyalty_session";

    /// <summary>How long a session lasts from sign-in (a working day); then the user signs in again.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(10);

    /// <summary>Creates a session for <paramref name="caller"/>; returns the cookie value (shown to the browser only) and the session.</summary>
    public async Task<(string Cookie, WebSession Session)> CreateAsync(Caller caller, CancellationToken cancellationToken)
    {
        var secret = Base64Url(RandomNumberGenerator.GetBytes(32));
        var csrf = Base64Url(RandomNumberGenerator.GetBytes(32));
        var hash = Hash(secret);
        var now = time.GetUtcNow();
        await using var command = dataSource.CreateCommand(
            """
            WITH gone AS (DELETE FROM web_sessions WHERE expires_at < $5)
            INSERT INTO web_sessions (id_hash, key_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5 + $6)
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = hash });
        command.Parameters.Add(new NpgsqlParameter { Value = caller.KeyId });
        command.Parameters.Add(new NpgsqlParameter { Value = csrf });
        command.Parameters.Add(new NpgsqlParameter { Value = now });
        command.Parameters.Add(new NpgsqlParameter { Value = now });
        command.Parameters.Add(new NpgsqlParameter { Value = Lifetime });
        await command.ExecuteNonQueryAsync(cancellationToken);
        return (secret, new WebSession(hash, caller, csrf, now + Lifetime));
    }

    /// <summary>The live session a cookie names, or null (no cookie, malformed, unknown, expired, or its key revoked).</summary>
    public async Task<WebSession?> FindAsync(string? cookie, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(cookie) || cookie.Length != 43 || !cookie.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_')) return null;
        await using var command = dataSource.CreateCommand(
            """
            SELECT k.key_id, k.name, k.role, k.store_id, s.csrf_token, s.expires_at
            FROM web_sessions s JOIN api_keys k ON k.key_id = s.key_id AND k.revoked_at IS NULL
            WHERE s.id_hash = $1 AND s.expires_at > $2
            """);
        var hash = Hash(cookie);
        command.Parameters.Add(new NpgsqlParameter { Value = hash });
        command.Parameters.Add(new NpgsqlParameter { Value = time.GetUtcNow() });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken)) return null;
        var caller = new Caller(reader.GetString(0), reader.GetString(1), ApiKeyStore.ParseRole(reader.GetString(2)) ?? Role.Pos, reader.IsDBNull(3) ? null : reader.GetString(3));
        return new WebSession(hash, caller, reader.GetString(4), reader.GetFieldValue<DateTimeOffset>(5));
    }

    public async Task DeleteAsync(WebSession session, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("DELETE FROM web_sessions WHERE id_hash = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = session.IdHash });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Compares a posted token with the expected one in constant time.</summary>
    public static bool TokensMatch(string? posted, string expected) =>
        posted is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(posted), Encoding.UTF8.GetBytes(expected));

    public static string NewToken() => Base64Url(RandomNumberGenerator.GetBytes(32));

    private static byte[] Hash(string secret) => SHA256.HashData(Encoding.ASCII.GetBytes(secret));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
