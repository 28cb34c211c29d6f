using Loyalty.Grains.Storage;
using Npgsql;

namespace Loyalty.Chaos;

/// <summary>One invariant, whether it held, and up to a few examples of where it did not.</summary>
public sealed record InvariantResult(string Name, long Checked, IReadOnlyList<string> Violations)
{
    /// <summary>Examples kept per invariant; the count says how many there were.</summary>
    public const int MaxExamples = 10;
    public bool Holds => Violations.Count == 0;
}

/// <summary>Sums of ledger amounts by kind of movement: what the total over all cards is made of.</summary>
public sealed record Totals(long CardsBalance, IReadOnlyDictionary<string, long> LedgerByKind, long TerminalsWereTold);

/// <summary>
/// The end-of-run checks, modelled on Jepsen's bank test: what the database holds is compared with
/// what every terminal was told, operation by operation and card by card, and the books must balance.
/// </summary>
public static class Checks
{
    public static async Task<(IReadOnlyList<InvariantResult> Results, Totals Totals)> RunAsync(string connectionString, History history, ChaosOptions options, OfflineHistory? offline = null)
    {
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        var ops = history.Operations.ToList();
        var sent = ops.ToDictionary(o => o.OperationId, StringComparer.Ordinal);
        var (offlineResults, offlineEffects) = offline is null ? ([], OfflineEffects.None) : await OfflineChecks.RunAsync(dataSource, offline);

        var stored = new HashSet<string>(StringComparer.Ordinal);
        await foreach (var r in Rows(dataSource, "SELECT operation_id FROM operations"))
            stored.Add(r.GetString(0));
        var ledgerByOp = new Dictionary<string, (string Card, long Amount, long Held)>(StringComparer.Ordinal);
        var opsOnTwoCards = new List<string>();
        await foreach (var r in Rows(dataSource, "SELECT operation_id, card_number, sum(amount)::bigint, sum(held_delta)::bigint FROM ledger GROUP BY 1, 2"))
        {
            if (!ledgerByOp.TryAdd(r.GetString(0), (r.GetString(1), r.GetInt64(2), r.GetInt64(3)))) opsOnTwoCards.Add(r.GetString(0));
        }
        var cards = new Dictionary<string, (long Balance, long Held, long Pending, long Version)>(StringComparer.Ordinal);
        await foreach (var r in Rows(dataSource, "SELECT number, balance, held, pending, version FROM cards"))
            cards[r.GetString(0)] = (r.GetInt64(1), r.GetInt64(2), r.GetInt64(3), r.GetInt64(4));

        var results = new List<InvariantResult>();

        var acknowledged = ops.Where(o => o.Outcome == Outcome.Acknowledged).ToList();
        results.Add(Check("every acknowledged operation is in the ledger exactly once, with the effect its answer stated", acknowledged.Count,
            acknowledged.Select(o =>
            {
                if (!stored.Contains(o.OperationId)) return $"{o.OperationId} ({o.Kind} on {o.Card}) was acknowledged but is not stored.";
                var (_, amount, held) = ledgerByOp.GetValueOrDefault(o.OperationId);
                return amount != o.Effect.Balance || held != o.Effect.Held
                    ? $"{o.OperationId} ({o.Kind} on {o.Card}) was answered with balance {o.Effect.Balance:+#;-#;0}, held {o.Effect.Held:+#;-#;0} but its ledger rows sum to {amount:+#;-#;0}, {held:+#;-#;0}."
                    : null;
            }).Concat(opsOnTwoCards.Select(id => $"{id} has ledger rows on two cards; the workload has no transfers."))));

        var refused = ops.Where(o => o.Outcome == Outcome.Refused).ToList();
        results.Add(Check("no operation that was refused is in the ledger", refused.Count,
            refused.Select(o => stored.Contains(o.OperationId) || ledgerByOp.ContainsKey(o.OperationId)
                ? $"{o.OperationId} ({o.Kind} on {o.Card}) was refused with {o.RefusedWith?.ToWireName()} (\"{o.RefusalMessage}\") yet it is stored." : null)));

        results.Add(Check("nothing is stored that no terminal sent", stored.Count,
            stored.Where(id => !sent.ContainsKey(id) && !offlineEffects.OperationIds.Contains(id)).Select(id => $"Operation {id} is stored but was never sent.")));

        var unknown = ops.Where(o => o.Outcome is Outcome.Unknown or Outcome.InFlight).ToList();
        results.Add(Check("every operation's outcome became known (retries with the same id after the faults)", ops.Count,
            unknown.Select(o => $"{o.OperationId} ({o.Kind} on {o.Card}) never got a definite answer in {o.Attempts} attempts.")));

        var ledger = await InvariantChecker.CheckAsync(dataSource);
        results.Add(Check("each card's balance, held and pending equal the sums of its ledger rows; nothing online below zero", cards.Count, ledger));

        // The model: opening balance plus the effect of every acknowledged operation, as answered, plus
        // what the offline stores' receipts did (see OfflineChecks, which checks those against their answers).
        var expected = cards.Keys.ToDictionary(c => c, c => offlineEffects.ByCard.GetValueOrDefault(c), StringComparer.Ordinal);
        foreach (var o in acknowledged)
        {
            var (balance, held) = expected.GetValueOrDefault(o.Card);
            expected[o.Card] = (balance + o.Effect.Balance, held + o.Effect.Held);
        }
        results.Add(Check("each card holds what the terminals were told (opening balance + every acknowledged effect + the offline stores' receipts)", cards.Count,
            cards.Select(c =>
            {
                var e = expected[c.Key];
                return c.Value.Balance != e.Balance || c.Value.Held != e.Held
                    ? $"Card {c.Key} holds balance {c.Value.Balance}, held {c.Value.Held}; the answers add up to {e.Balance}, {e.Held}."
                    : null;
            })));

        var byKind = new SortedDictionary<string, long>(StringComparer.Ordinal);
        // Opening balances are adjustments in the ledger; they are shown apart as what was issued.
        await foreach (var r in Rows(dataSource,
            $"SELECT CASE WHEN operation_id LIKE 'chaos-{options.Seed}-open-%' THEN 'Issued (opening balances)' ELSE kind END, sum(amount)::bigint FROM ledger GROUP BY 1"))
            byKind[r.GetString(0)] = r.GetInt64(1);
        var totals = new Totals(cards.Values.Sum(c => c.Balance), byKind, acknowledged.Sum(o => o.Effect.Balance) + offlineEffects.WereTold);
        var ledgerTotal = byKind.Values.Sum();
        results.Add(Check("sum over all cards = issued + accrued − redeemed − expired ± adjustments and refunds", 1,
            totals.CardsBalance == ledgerTotal && ledgerTotal == totals.TerminalsWereTold
                ? []
                : [$"Cards hold {totals.CardsBalance} in total; the ledger's movements sum to {ledgerTotal}; the answers to {totals.TerminalsWereTold}."]));

        // Versions: in the ledger, in commit order per card; in the answers, distinct per card (two
        // acknowledged writes leaving the same version would be a lost update) and increasing along
        // each terminal's own sequence of operations on a card.
        var versionViolations = new List<string>();
        await foreach (var r in Rows(dataSource,
            """
            SELECT card_number, count(*) FROM (
                SELECT card_number, version_after, lag(version_after) OVER (PARTITION BY card_number ORDER BY id) AS previous FROM ledger) t
            WHERE version_after < previous GROUP BY card_number
            """))
            versionViolations.Add($"Card {r.GetString(0)} has {r.GetInt64(1)} ledger rows whose version is below the row before.");
        await foreach (var r in Rows(dataSource,
            "SELECT c.number, c.version, l.v FROM cards c JOIN (SELECT card_number, max(version_after) AS v FROM ledger GROUP BY 1) l ON l.card_number = c.number WHERE l.v > c.version"))
            versionViolations.Add($"Card {r.GetString(0)} is at version {r.GetInt64(1)} but its ledger reached {r.GetInt64(2)}.");
        foreach (var group in acknowledged.GroupBy(o => o.Card))
            foreach (var same in group.GroupBy(o => o.VersionAfter).Where(g => g.Count() > 1))
                versionViolations.Add($"Card {group.Key}: operations {string.Join(", ", same.Select(o => o.OperationId))} were all answered with version {same.Key}.");
        foreach (var session in acknowledged.GroupBy(o => (o.Terminal, o.Card)))
        {
            OpRecord? previous = null;
            foreach (var o in session.OrderBy(o => o.Sequence))
            {
                // An operation resolved after the run was stored at some unknown time, possibly after later ones.
                if (o.ResolvedAfterRun) continue;
                if (previous is not null && o.VersionAfter <= previous.VersionAfter)
                    versionViolations.Add($"Terminal {o.Terminal} saw card {o.Card} at version {previous.VersionAfter} after {previous.OperationId}, then {o.VersionAfter} after the later {o.OperationId}.");
                previous = o;
            }
        }
        results.Add(Check("card versions only grow", cards.Count + acknowledged.Count, versionViolations));
        results.AddRange(offlineResults);
        return (results, totals);
    }

    private static InvariantResult Check(string name, long count, IEnumerable<string?> findings)
    {
        var all = findings.Where(f => f is not null).Select(f => f!).ToList();
        return new InvariantResult(name, count, all);
    }

    private static async IAsyncEnumerable<NpgsqlDataReader> Rows(NpgsqlDataSource dataSource, string sql)
    {
        await using var command = dataSource.CreateCommand(sql);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) yield return reader;
    }
}
