using Npgsql;

namespace Loyalty.Grains.Storage;

/// <summary>
/// Verifies the ledger over the whole database: every card's balance, held and pending figures
/// equal the sums of its ledger rows and its last row's balance; no row made online took the
/// available balance below zero; operation ids are unique (the schema enforces it; counted here).
/// Returns the violations as sentences; an empty list means the books balance.
/// </summary>
public static class InvariantChecker
{
    public static async Task<IReadOnlyList<string>> CheckAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken = default)
    {
        var violations = new List<string>();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        // One snapshot for all checks, so concurrent writers cannot make a consistent database look broken.
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken);

        await Collect(connection, transaction, violations, cancellationToken,
            """
            SELECT c.number, c.balance, c.held, c.pending, coalesce(l.amount, 0), coalesce(l.held, 0), coalesce(l.pending, 0)
            FROM cards c LEFT JOIN (
                SELECT card_number, sum(amount) AS amount, sum(held_delta) AS held, sum(pending_delta) AS pending
                FROM ledger GROUP BY card_number) l ON l.card_number = c.number
            WHERE c.balance <> coalesce(l.amount, 0) OR c.held <> coalesce(l.held, 0) OR c.pending <> coalesce(l.pending, 0)
            """,
            r => $"Card {r.GetString(0)} shows balance {r.GetInt64(1)}, held {r.GetInt64(2)}, pending {r.GetInt64(3)} but its ledger sums to {r.GetInt64(4)}, {r.GetInt64(5)}, {r.GetInt64(6)}.");

        await Collect(connection, transaction, violations, cancellationToken,
            """
            SELECT c.number, c.balance, last.balance_after FROM cards c
            JOIN LATERAL (SELECT balance_after FROM ledger WHERE card_number = c.number ORDER BY version_after DESC, id DESC LIMIT 1) last ON true
            WHERE last.balance_after <> c.balance
            """,
            r => $"Card {r.GetString(0)} shows balance {r.GetInt64(1)} but its last ledger row left {r.GetInt64(2)}.");

        await Collect(connection, transaction, violations, cancellationToken,
            """
            SELECT card_number, operation_id, kind, available_after FROM ledger
            WHERE NOT offline AND available_after < 0 AND amount - held_delta - pending_delta < 0
            ORDER BY id LIMIT 100
            """,
            r => $"Online operation {r.GetString(1)} ({r.GetString(2)}) left card {r.GetString(0)} with {r.GetInt64(3)} kopecks available.");

        await Collect(connection, transaction, violations, cancellationToken,
            "SELECT number, held, pending FROM cards WHERE held < 0 OR pending < 0",
            r => $"Card {r.GetString(0)} has negative held ({r.GetInt64(1)}) or pending ({r.GetInt64(2)}) bonuses.");

        await Collect(connection, transaction, violations, cancellationToken,
            "SELECT operation_id FROM ledger l WHERE NOT EXISTS (SELECT 1 FROM operations o WHERE o.operation_id = l.operation_id) AND l.operation_id NOT LIKE 'sys:%' LIMIT 100",
            r => $"Ledger rows of operation {r.GetString(0)} have no operation record.");

        await transaction.CommitAsync(cancellationToken);
        return violations;
    }

    private static async Task Collect(NpgsqlConnection connection, NpgsqlTransaction transaction, List<string> violations, CancellationToken cancellationToken,
        string sql, Func<NpgsqlDataReader, string> describe)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) violations.Add(describe(reader));
    }
}
