using Loyalty.Grains.Domain;
using Loyalty.Grains.Storage;
using Npgsql;

namespace Loyalty.Grains.Runtime;

public enum ShiftStatus { Settled, NeedsAttention }

/// <summary>
/// One receipt of a reconciled shift as the uploader and the accountant see it: the outcome, both
/// sides' figures, a note (the difference, why it was not applied), what was applied (kopecks) and
/// whether the application drove the card into debt.
/// </summary>
[Orleans.Immutable]
public sealed record ReconciledReceipt(
    ReceiptRef Ref, ReceiptOutcome Outcome, ReceiptFigures? Online, ReceiptFigures? Report, string? Note,
    long AppliedRedeemedKopecks, long AppliedAccruedKopecks, long ReturnRestoredKopecks, long ReturnReversedKopecks, bool Debt);

/// <summary>A reconciled shift: the report it came from (digest, format, close), its status, each receipt's outcome and the holds it voided.</summary>
[Orleans.Immutable]
public sealed record ShiftResult(
    ShiftKey Shift, string Digest, string SourceFormat, DateTimeOffset ClosedAt, DateTimeOffset ReconciledAt,
    ShiftStatus Status, IReadOnlyList<ReconciledReceipt> Receipts, int HoldsVoided)
{
    public int Count(ReceiptOutcome outcome) => Receipts.Count(r => r.Outcome == outcome);
    public int Debts => Receipts.Count(r => r.Debt);
}

/// <summary>
/// Reconciles a closed shift's sales report end to end: decides every receipt
/// (<see cref="ShiftReconciliation.Plan"/>), applies what the report adds through the card grains
/// under ids derived from the receipt keys, voids holds the shift left open, and stores the result
/// once. Every step is idempotent, so an upload interrupted anywhere (crash, lost connection) is
/// simply uploaded again: receipts already applied answer with their stored result and nothing is
/// applied twice; the same report uploaded after it was stored gets the stored answer; a different
/// report for a reconciled shift is refused naming the difference. (The ShiftGrain of the Orleans
/// move will host this; the rules are in the domain.)
/// </summary>
public sealed class ShiftReconciler(CardDirectory runtime, TimeProvider time)
{
    /// <summary>Cards whose receipts are applied at once: enough to fill the writer's batches, well under its queue bound.</summary>
    public const int MaxCardsInParallel = 64;

    private NpgsqlDataSource DataSource => runtime.Store.DataSource;

    /// <summary>The card a planned receipt acts on: the report's, else the sale's (a return), else the online one's.</summary>
    private static string? CardOf(ReceiptReconciliation line) => line.Report?.CardNumber ?? line.Online?.CardNumber;

    public async Task<ShiftResult> UploadAsync(ShiftReportData report, CancellationToken cancellationToken = default)
    {
        ShiftReconciliation.Validate(report);
        if (await LoadAsync(report.Shift, cancellationToken) is { } done)
            return SameOrRefused(done.Result, done.Report, report);

        var committed = await runtime.Store.LoadShiftReceiptsAsync(report.Shift, cancellationToken);
        // Receipts this report's own earlier (interrupted) upload applied are not "seen online": they
        // are planned again, and applying them again answers with what was stored the first time.
        var online = committed.Where(r => r.OperationId != ShiftReconciliation.OperationIdFor("sale", r.Ref)).ToList();
        var originals = new Dictionary<ReceiptRef, ReceiptRecord?>();
        foreach (var r in report.Receipts.Where(r => r.Kind == ReportedReceiptKind.Return && r.Original is not null))
            originals[r.Original!] = await runtime.Store.LoadReceiptAsync(r.Original!);
        var plan = ShiftReconciliation.Plan(report, online, key => originals.GetValueOrDefault(key));

        // Each card's receipts are applied in report order, one after another (a later receipt may
        // spend what an earlier one accrued); different cards go in parallel, so their writes meet
        // in the ledger writer's group commits instead of one transaction per receipt.
        var results = new ReconciledReceipt[plan.Count];
        var byCard = plan.Select((line, index) => (line, index)).GroupBy(x => CardOf(x.line) ?? $"#{x.index}");
        // TaskScheduler.Current: in the ShiftGrain the loop stays on the grain's scheduler (its turn), elsewhere it is the pool.
        await Parallel.ForEachAsync(byCard, new ParallelOptions { MaxDegreeOfParallelism = MaxCardsInParallel, CancellationToken = cancellationToken, TaskScheduler = TaskScheduler.Current }, async (card, token) =>
        {
            foreach (var (line, index) in card)
                results[index] = await ApplyAsync(line, token);
        });
        var voided = await VoidLeftoverHoldsAsync(report.Shift, cancellationToken);

        var needsAttention = results.Any(r => r.Outcome is ReceiptOutcome.Mismatch or ReceiptOutcome.OnlineOnly or ReceiptOutcome.ReturnUnmatched or ReceiptOutcome.NotApplied || r.Debt);
        var result = new ShiftResult(report.Shift, report.Digest, report.SourceFormat, report.ClosedAt, time.GetUtcNow(),
            needsAttention ? ShiftStatus.NeedsAttention : ShiftStatus.Settled, results, voided);
        // Two uploads of one shift at once: both apply (idempotently), the first to store wins, and
        // the other answers with what was stored, or is refused if its report differs.
        if (!await StoreAsync(result, report, cancellationToken))
        {
            var stored = await LoadAsync(report.Shift, cancellationToken) ?? throw new InvalidOperationException($"Shift {report.Shift} was stored and then vanished.");
            return SameOrRefused(stored.Result, stored.Report, report);
        }
        return result;
    }

    /// <summary>The stored reconciliation of a shift, or null if its report has not been reconciled.</summary>
    public async Task<ShiftResult?> GetAsync(ShiftKey shift, CancellationToken cancellationToken = default) =>
        (await LoadAsync(shift, cancellationToken))?.Result;

    private async Task<ReconciledReceipt> ApplyAsync(ReceiptReconciliation line, CancellationToken cancellationToken)
    {
        var card = CardOf(line);
        ReconciledReceipt Result(ReceiptOutcome outcome, string? note = null, long redeemed = 0, long accrued = 0, long restored = 0, long reversed = 0, bool debt = false) =>
            new(line.Ref, outcome, line.Online, line.Report, note ?? line.Difference, redeemed, accrued, restored, reversed, debt);
        try
        {
            switch (line.Outcome)
            {
                case ReceiptOutcome.AppliedFromReport:
                    var applied = await runtime.Card(card!).ApplyFromShiftAsync(line.OperationId!, line.ToApply!, [.. line.LineDiscounts!], cancellationToken);
                    return Result(line.Outcome, applied.DroveBalanceNegative ? "offline redemption beyond the card's balance: recorded as debt" : null,
                        applied.RedeemedKopecks, applied.AccruedKopecks, debt: applied.DroveBalanceNegative);
                case ReceiptOutcome.ReturnApplied:
                    var sale = await runtime.Store.LoadReceiptAsync(line.ReturnOf!);
                    var refunded = await runtime.Card(sale!.CardNumber).RefundFromShiftAsync(line.OperationId!, line.ReturnOf!, [.. line.Returned!], cancellationToken);
                    return Result(line.Outcome, $"return of {line.ReturnOf}", restored: refunded.RedeemRestoredKopecks, reversed: refunded.AccrualReversedKopecks);
                default:
                    return Result(line.Outcome);
            }
        }
        catch (CardException refused) when (refused.Code is not (CardErrorCode.Unavailable or CardErrorCode.Overloaded or CardErrorCode.InvalidArgument))
        {
            // The card said no (unknown, closed, a return it cannot pay back): nothing of it was
            // applied, and the accountant decides. A retry of the upload asks the card again.
            return Result(ReceiptOutcome.NotApplied, refused.Message);
        }
    }

    /// <summary>Voids holds made online for receipts of the shift that were never committed: the shift is closed, they can no longer be.</summary>
    private async Task<int> VoidLeftoverHoldsAsync(ShiftKey shift, CancellationToken cancellationToken)
    {
        var voided = 0;
        var cards = new List<string>();
        await using (var command = DataSource.CreateCommand(
            "SELECT DISTINCT card_number FROM ledger WHERE store_id = $1 AND register_id = $2 AND shift_number = $3 AND kind = 'Hold'"))
        {
            AddShift(command, shift);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken)) cards.Add(reader.GetString(0));
        }
        foreach (var number in cards)
        {
            var state = await runtime.Store.LoadCardAsync(number);
            foreach (var hold in state?.Holds.Where(h => h.Receipt.Ref.StoreId == shift.StoreId && h.Receipt.Ref.RegisterId == shift.RegisterId
                         && h.Receipt.Ref.ShiftNumber == shift.ShiftNumber) ?? [])
            {
                var result = await runtime.Card(number).VoidFromShiftAsync(ShiftReconciliation.OperationIdFor("void", hold.Receipt.Ref), hold.Id, cancellationToken);
                if (result.ReleasedKopecks > 0) voided++;
            }
        }
        return voided;
    }

    private static ShiftResult SameOrRefused(ShiftResult stored, ShiftReportData storedReport, ShiftReportData uploaded)
    {
        // The same file, or the same receipts re-exported into a new file (field case A1): the same answer.
        if (stored.Digest == uploaded.Digest || Json.Serialize(storedReport.Receipts) == Json.Serialize(uploaded.Receipts)) return stored;
        throw new CardException(CardErrorCode.AlreadyResolved,
            $"Shift {stored.Shift} was reconciled at {stored.ReconciledAt:u} from a report with digest {stored.Digest}; this report (digest {uploaded.Digest}) differs: {Difference(storedReport, uploaded)}. An accountant resolves the shift's receipts instead.");
    }

    /// <summary>The first difference between two reports of one shift, in words.</summary>
    private static string Difference(ShiftReportData before, ShiftReportData now)
    {
        var old = before.Receipts.ToDictionary(r => r.ReceiptNumber);
        var @new = now.Receipts.ToDictionary(r => r.ReceiptNumber);
        foreach (var (number, receipt) in @new.OrderBy(r => r.Key))
        {
            if (!old.TryGetValue(number, out var was)) return $"receipt {number} is new";
            if (was.Kind != receipt.Kind || was.CardNumber != receipt.CardNumber || was.TotalKopecks != receipt.TotalKopecks || was.BonusKopecks != receipt.BonusKopecks)
                return $"receipt {number} was {Describe(was)} and is now {Describe(receipt)}";
        }
        if (old.Keys.Except(@new.Keys).Order().FirstOrDefault() is var missing && old.ContainsKey(missing))
            return $"receipt {missing} is missing";
        return "the receipts are the same but the file is not (lines or payments differ)";
    }

    private static string Describe(ReportedReceipt r) =>
        $"a {r.Kind.ToString().ToLowerInvariant()} with card {r.CardNumber ?? "none"}, total {r.TotalKopecks} kopecks, bonuses {r.BonusKopecks} kopecks";

    private sealed record Stored(ShiftResult Result, ShiftReportData Report);

    private async Task<Stored?> LoadAsync(ShiftKey shift, CancellationToken cancellationToken)
    {
        await using var command = DataSource.CreateCommand(
            "SELECT report::text, result::text FROM shifts WHERE store_id = $1 AND register_id = $2 AND shift_number = $3");
        AddShift(command, shift);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken)) return null;
        return new Stored(Json.Deserialize<ShiftResult>(reader.GetString(1)), Json.Deserialize<ShiftReportData>(reader.GetString(0)));
    }

    /// <summary>Stores the result once; false when another upload of the shift stored its result first.</summary>
    private async Task<bool> StoreAsync(ShiftResult result, ShiftReportData report, CancellationToken cancellationToken)
    {
        await using var command = DataSource.CreateCommand(
            """
            INSERT INTO shifts (store_id, register_id, shift_number, digest, source_format, closed_at, status, report, result, reconciled_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8::json, $9::json, $10) ON CONFLICT DO NOTHING
            """);
        AddShift(command, result.Shift);
        command.Parameters.Add(new NpgsqlParameter { Value = result.Digest });
        command.Parameters.Add(new NpgsqlParameter { Value = result.SourceFormat });
        command.Parameters.Add(new NpgsqlParameter { Value = result.ClosedAt });
        command.Parameters.Add(new NpgsqlParameter { Value = result.Status.ToString() });
        command.Parameters.Add(new NpgsqlParameter { Value = Json.Serialize(report) });
        command.Parameters.Add(new NpgsqlParameter { Value = Json.Serialize(result) });
        command.Parameters.Add(new NpgsqlParameter { Value = result.ReconciledAt });
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    private static void AddShift(NpgsqlCommand command, ShiftKey shift)
    {
        command.Parameters.Add(new NpgsqlParameter { Value = shift.StoreId });
        command.Parameters.Add(new NpgsqlParameter { Value = shift.RegisterId });
        command.Parameters.Add(new NpgsqlParameter { Value = shift.ShiftNumber });
    }
}
