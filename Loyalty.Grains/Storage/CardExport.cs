using System.Runtime.CompilerServices;
using Loyalty.Grains.Domain;
using Loyalty.Grains.Runtime;
using Npgsql;

namespace Loyalty.Grains.Storage;

/// <summary>
/// One card as a store's registers get it in their catalog files: number, status, the offline
/// spendable amount (<see cref="ProgramRules.OfflineSpendable"/>) and the balance, in kopecks.
/// </summary>
public sealed record ExportedCard(string Number, CardStatus Status, long OfflineSpendableKopecks, long BalanceKopecks);

/// <summary>As of when an export's figures are: the database's clock and the last ledger row committed before it started.</summary>
public sealed record ExportWatermark(DateTimeOffset At, long LedgerPosition);

/// <summary>
/// Streams every card for the catalog files, in card-number order, from the card rows' figure
/// columns rather than their JSON state: a million cards stream in seconds with memory flat in the
/// card count. The columns are as of each card's last write; time-driven changes written since
/// (the sweeper's job) make the offline amount lower, never higher, except a lot burnt but not yet
/// written, which an offline redemption may then spend: booked as a flagged debt at reconciliation.
/// A card in debt has nothing available (debt is repaid from released lots first), so it exports 0.
/// </summary>
public sealed class CardExport(NpgsqlDataSource dataSource, ProgramCatalog programs)
{
    /// <summary>Rows fetched per round trip from the server-side cursor: bounds the memory of a run.</summary>
    public const int FetchRows = 8_192;

    /// <summary>
    /// Every card, in number order. <paramref name="watermark"/> is called once, before the first
    /// card, with where the export stands, read in the same snapshot as the cards.
    /// </summary>
    public async IAsyncEnumerable<ExportedCard> StreamAsync(Action<ExportWatermark> watermark, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        // One REPEATABLE READ snapshot: the watermark and every card are as of the same instant.
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken);
        await using (var mark = new NpgsqlCommand("SELECT now(), coalesce((SELECT max(id) FROM ledger), 0)", connection, transaction))
        await using (var reader = await mark.ExecuteReaderAsync(cancellationToken))
        {
            await reader.ReadAsync(cancellationToken);
            watermark(new ExportWatermark(reader.GetFieldValue<DateTimeOffset>(0), reader.GetInt64(1)));
        }
        await using (var declare = new NpgsqlCommand(
            "DECLARE export_cards NO SCROLL CURSOR FOR SELECT number, program_id, status, balance, held, pending FROM cards ORDER BY number", connection, transaction))
            await declare.ExecuteNonQueryAsync(cancellationToken);
        var programCache = new Dictionary<string, ProgramSettings>(StringComparer.Ordinal);
        while (true)
        {
            var rows = new List<(string Number, string Program, CardStatus Status, long Balance, long Held, long Pending)>(FetchRows);
            await using (var fetch = new NpgsqlCommand($"FETCH {FetchRows} FROM export_cards", connection, transaction))
            await using (var reader = await fetch.ExecuteReaderAsync(cancellationToken))
                while (await reader.ReadAsync(cancellationToken))
                    rows.Add((reader.GetString(0), reader.GetString(1), Enum.Parse<CardStatus>(reader.GetString(2)), reader.GetInt64(3), reader.GetInt64(4), reader.GetInt64(5)));
            if (rows.Count == 0) break;
            foreach (var row in rows)
            {
                if (!programCache.TryGetValue(row.Program, out var program))
                    programCache[row.Program] = program = await programs.GetAsync(row.Program);
                var figures = new CardState
                {
                    Number = row.Number, ProgramId = row.Program, Status = row.Status,
                    BalanceKopecks = row.Balance, HeldKopecks = row.Held, PendingKopecks = row.Pending,
                };
                yield return new ExportedCard(row.Number, row.Status, ProgramRules.OfflineSpendable(program, figures), row.Balance);
            }
        }
        await transaction.CommitAsync(cancellationToken);
    }
}
