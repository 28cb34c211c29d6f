using Loyalty.Protos.V1;
using Npgsql;
using ShiftReconciliationRules = Loyalty.Grains.Domain.ShiftReconciliation;

namespace Loyalty.Chaos;

/// <summary>
/// What the offline stores did, as the model of every card needs it: the effect on each card
/// (balance, held) of the offline registers' receipts and voided holds, the sum of what they were
/// told, and every operation id they may have caused.
/// </summary>
public sealed record OfflineEffects(IReadOnlyDictionary<string, (long Balance, long Held)> ByCard, long WereTold, IReadOnlySet<string> OperationIds)
{
    public static OfflineEffects None { get; } = new(new Dictionary<string, (long, long)>(), 0, new HashSet<string>());
}

/// <summary>
/// The end-of-run checks of the offline stores (issue 11): every closed shift reconciled, every
/// offline receipt applied exactly once (ledger rows counted per derived operation id and per
/// receipt key), a re-upload answered as the first time, offline redemption beyond the balance
/// flagged as debt, the tills' online sales booked as answered, and a late online commit of an
/// applied receipt refused.
/// </summary>
public static class OfflineChecks
{
    /// <summary>Ledger kinds that commit a receipt (as opposed to holding or voiding for it).</summary>
    private static readonly string[] CommittingKinds = ["HoldPost", "OfflineRedeem", "Accrual"];

    private sealed record LedgerOfReceipt(string Operation, string Kind, string Card, long Amount, long Held, int Rows, long MinAvailableAfter);

    public static async Task<(IReadOnlyList<InvariantResult> Results, OfflineEffects Effects)> RunAsync(NpgsqlDataSource dataSource, OfflineHistory offline)
    {
        var shifts = offline.Shifts.ToList();
        if (shifts.Count == 0) return ([], OfflineEffects.None);
        var registers = shifts.Select(s => s.Register).Distinct().ToArray();
        var possibleIds = offline.PossibleOperationIds().ToHashSet(StringComparer.Ordinal);

        // Committed receipts of the offline registers, and their ledger rows by receipt key and operation.
        var receipts = new Dictionary<(string, string, long, long), (string Card, string Operation)>();
        await foreach (var r in Rows(dataSource,
            "SELECT store_id, register_id, shift_number, receipt_number, card_number, operation_id FROM receipts WHERE register_id = ANY($1)", registers))
            receipts[(r.GetString(0), r.GetString(1), r.GetInt64(2), r.GetInt64(3))] = (r.GetString(4), r.GetString(5));
        var ledger = new Dictionary<(string, string, long, long), List<LedgerOfReceipt>>();
        await foreach (var r in Rows(dataSource,
            """
            SELECT store_id, register_id, shift_number, receipt_number, operation_id, kind, card_number,
                   sum(amount)::bigint, sum(held_delta)::bigint, count(*)::int, min(available_after)
            FROM ledger WHERE register_id = ANY($1) GROUP BY 1, 2, 3, 4, 5, 6, 7
            """, registers))
        {
            var key = (r.GetString(0), r.GetString(1), r.GetInt64(2), r.GetInt64(3));
            if (!ledger.TryGetValue(key, out var list)) ledger[key] = list = [];
            list.Add(new LedgerOfReceipt(r.GetString(4), r.GetString(5), r.GetString(6), r.GetInt64(7), r.GetInt64(8), r.GetInt32(9), r.GetInt64(10)));
        }
        var recorded = new HashSet<string>(StringComparer.Ordinal);
        await foreach (var r in Rows(dataSource, "SELECT operation_id FROM operations WHERE operation_id = ANY($1)", [.. possibleIds]))
            recorded.Add(r.GetString(0));
        // Every ledger row of an operation an offline register caused, by card: the tills' online
        // holds and commits and the holds voided at shift close are taken as the ledger has them
        // (checked below against what the tills were told); receipts applied from a report as answered.
        var byOperation = new List<(string Operation, string Card, long Amount, long Held)>();
        await foreach (var r in Rows(dataSource,
            "SELECT operation_id, card_number, sum(amount)::bigint, sum(held_delta)::bigint FROM ledger WHERE operation_id = ANY($1) GROUP BY 1, 2", [.. possibleIds]))
            byOperation.Add((r.GetString(0), r.GetString(1), r.GetInt64(2), r.GetInt64(3)));

        var answered = shifts.Where(s => s.FirstAnswer is not null).ToList();
        var saleIds = new HashSet<string>(StringComparer.Ordinal);
        var effects = new Dictionary<string, (long Balance, long Held)>(StringComparer.Ordinal);
        void Add(string card, long balance, long held)
        {
            var (b, h) = effects.GetValueOrDefault(card);
            effects[card] = (b + balance, h + held);
        }
        long told = 0;
        foreach (var shift in answered)
            foreach (var receipt in shift.FirstAnswer!.Receipts)
            {
                var effect = receipt.AppliedAccrued - receipt.AppliedRedeemed + receipt.ReturnRestored - receipt.ReturnReversed;
                if (effect != 0) Add(receipt.CardNumber, effect, 0);
                told += effect;
                if (receipt.Outcome == ReceiptOutcome.AppliedFromReport) saleIds.Add(ShiftReconciliationRules.OperationIdFor("sale", shift.Ref(receipt.ReceiptNumber)));
            }
        foreach (var (operation, card, amount, held) in byOperation)
        {
            // A receipt applied from a report counts as answered (above); a stale hold it voided, as the ledger has it.
            Add(card, saleIds.Contains(operation) ? 0 : amount, held);
            if (!saleIds.Contains(operation)) told += amount;
        }

        var results = new List<InvariantResult>
        {
            Check("every closed shift of an offline register was uploaded and reconciled through the faults", shifts.Count,
                shifts.Select(s => s.Refusal is not null ? $"Shift {s.Store}/{s.Register}/{s.Shift} was refused: {s.Refusal}"
                    : s.FirstAnswer is null ? $"Shift {s.Store}/{s.Register}/{s.Shift} got no answer in {s.UploadAttempts} upload attempts."
                    : s.FirstAnswer.Receipts.Count < s.ReportedReceipts
                        ? $"Shift {s.Store}/{s.Register}/{s.Shift} reported {s.ReportedReceipts} receipts but was answered about {s.FirstAnswer.Receipts.Count}." : null)),
            Check("a shift report uploaded again (after an answer or an interrupted upload) is answered as the first time", answered.Sum(s => s.LaterAnswers.Count),
                answered.SelectMany(s => s.LaterAnswers.Where(a => !a.Equals(s.FirstAnswer))
                    .Select(a => $"Shift {s.Store}/{s.Register}/{s.Shift} was answered {Describe(s.FirstAnswer!)} first and {Describe(a)} later."))),
        };

        var once = new List<string>();
        var debts = new List<string>();
        var online = new List<string>();
        var checkedSales = 0;
        foreach (var shift in answered)
        {
            var outcomes = shift.FirstAnswer!.Receipts.ToDictionary(r => r.ReceiptNumber);
            foreach (var sale in shift.Sales)
            {
                checkedSales++;
                var key = shift.Ref(sale.ReceiptNumber);
                var where = $"Receipt {key} ({(sale.DecidedOffline ? "decided offline" : "answered online")}, card {sale.Card}, bonuses {sale.BonusKopecks})";
                var saleId = ShiftReconciliationRules.OperationIdFor("sale", key);
                var rows = ledger.GetValueOrDefault((key.StoreId, key.RegisterId, key.ShiftNumber, key.ReceiptNumber)) ?? [];
                var committing = rows.Where(l => CommittingKinds.Contains(l.Kind)).Select(l => l.Operation).Distinct().ToList();
                var stored = receipts.TryGetValue((key.StoreId, key.RegisterId, key.ShiftNumber, key.ReceiptNumber), out var committed);
                if (!outcomes.TryGetValue(sale.ReceiptNumber, out var outcome))
                {
                    once.Add($"{where} is not in the shift's reconciliation.");
                    continue;
                }
                var allowed = shift.Kind != OfflineRegisterKind.Till ? [ReceiptOutcome.AppliedFromReport]
                    // A till's offline receipt whose online attempt had in fact landed matches (or not); if that
                    // commit was still waiting in a frozen database when the report was planned, the card
                    // refuses the application instead (not applied). Either way one operation committed it (checked below).
                    : sale.DecidedOffline ? [ReceiptOutcome.AppliedFromReport, ReceiptOutcome.Matched, ReceiptOutcome.Mismatch, ReceiptOutcome.NotApplied]
                    : new[] { ReceiptOutcome.Matched };
                if (!allowed.Contains(outcome.Outcome))
                    once.Add($"{where} was reconciled as {outcome.Outcome} ({outcome.Note}).");
                if (committing.Count != 1)
                    once.Add($"{where} has ledger rows of {committing.Count} operations committing it ({string.Join(", ", committing)}); exactly one was expected.");
                if (!stored)
                    once.Add($"{where} is not among the committed receipts.");
                else if (committing.Count == 1 && committed.Operation != committing[0])
                    once.Add($"{where} was committed by {committed.Operation} but its ledger rows are of {committing[0]}.");
                var saleRows = rows.Where(l => l.Operation == saleId).ToList();
                if (outcome.Outcome == ReceiptOutcome.AppliedFromReport)
                {
                    if (!recorded.Contains(saleId)) once.Add($"{where} was answered as applied but its operation {saleId} is not recorded.");
                    var amount = saleRows.Sum(l => l.Amount);
                    if (amount != outcome.AppliedAccrued - outcome.AppliedRedeemed)
                        once.Add($"{where}: the ledger rows of {saleId} sum to {amount}; the answer said accrued {outcome.AppliedAccrued} − redeemed {outcome.AppliedRedeemed}.");
                    if (outcome.AppliedRedeemed != sale.BonusKopecks)
                        once.Add($"{where}: {outcome.AppliedRedeemed} kopecks of bonuses were applied; the register gave {sale.BonusKopecks}.");
                    if (saleRows.Any(l => l.Card != sale.Card))
                        once.Add($"{where}: operation {saleId} has ledger rows on another card.");
                    var redeemRow = saleRows.FirstOrDefault(l => l.Kind == "OfflineRedeem");
                    var wentBelowZero = redeemRow is not null && redeemRow.MinAvailableAfter < 0;
                    if (outcome.Debt != wentBelowZero)
                        debts.Add(outcome.Debt
                            ? $"{where} was flagged as debt but its redemption left {redeemRow?.MinAvailableAfter} kopecks available."
                            : $"{where} left {redeemRow!.MinAvailableAfter} kopecks available but was not flagged as debt.");
                }
                else if (saleRows.Count > 0 || recorded.Contains(saleId))
                {
                    once.Add($"{where} was reconciled as {outcome.Outcome} yet operation {saleId} applied it from the report as well.");
                }
                if (shift.Kind == OfflineRegisterKind.Till && !sale.DecidedOffline)
                {
                    var commitId = OfflineStores.TillOperationIds(key).Last();
                    var posted = rows.Where(l => l.Operation == commitId && l.Kind == "HoldPost").Sum(l => l.Amount);
                    if (!stored || committed.Operation != commitId)
                        online.Add($"{where} was answered as committed online, but the receipt was committed by {(stored ? committed.Operation : "nothing")}.");
                    else if (-posted != sale.BonusKopecks)
                        online.Add($"{where}: the till was told {sale.BonusKopecks} kopecks were redeemed; the ledger posted {-posted}.");
                }
            }
        }
        results.Add(Check("every offline receipt of an uploaded shift is applied exactly once (ledger rows counted per derived operation id and per receipt)", checkedSales, once));
        results.Add(Check("offline redemption beyond the balance is a flagged debt, and only that is", answered.Sum(s => s.FirstAnswer!.Receipts.Count(r => r.Outcome == ReceiptOutcome.AppliedFromReport)), debts));
        results.Add(Check("an offline till's online sales are in the ledger as the till was told", answered.Sum(s => s.Sales.Count(x => !x.DecidedOffline)), online));
        var late = shifts.SelectMany(s => s.LateCommits).ToList();
        results.Add(Check("an online commit of a receipt a report had applied is refused", late.Count,
            late.Select(o => o.Outcome == Outcome.Refused ? null : $"{o.OperationId} (a commit of a receipt applied from a report, card {o.Card}) ended {o.Outcome}.")));
        return (results, new OfflineEffects(effects, told, possibleIds));
    }

    private static string Describe(ShiftReconciliation answer) =>
        $"({answer.Status}, digest {answer.Digest}, {answer.Receipts.Count} receipts, {answer.HoldsVoided} holds voided, reconciled at {answer.ReconciledAt})";

    private static InvariantResult Check(string name, long count, IEnumerable<string?> findings) =>
        new(name, count, [.. findings.Where(f => f is not null).Select(f => f!)]);

    private static async IAsyncEnumerable<NpgsqlDataReader> Rows(NpgsqlDataSource dataSource, string sql, string[] values)
    {
        await using var command = dataSource.CreateCommand(sql);
        command.Parameters.Add(new NpgsqlParameter { Value = values });
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) yield return reader;
    }
}
