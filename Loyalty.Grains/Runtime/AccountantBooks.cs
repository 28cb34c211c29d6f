using Loyalty.Grains.Domain;
using Loyalty.Grains.Storage;
using Npgsql;

namespace Loyalty.Grains.Runtime;

/// <summary>Where a shift stands for the accountant: no report yet, reconciled with receipts to resolve, or done.</summary>
public enum ShiftState { Open, NeedsAttention, Settled }

/// <summary>A shift in the accountant's list: its key, when it closed (or its last receipt), counts per outcome, debts, unresolved receipts.</summary>
public sealed record ShiftSummary(
    ShiftKey Shift, DateTimeOffset At, ShiftState State, int Receipts, int Matched, int AppliedFromReport, int OnlineOnly, int Mismatch,
    int Other, int Debts, int Unresolved);

/// <summary>An accountant's resolution of one receipt, as stored: who, when, what, the movements' operation id, and whether they are all durable.</summary>
public sealed record ResolutionRecord(
    ReceiptRef Receipt, ResolutionKind Kind, long AmountKopecks, string Reason, string OperationId, string Actor, DateTimeOffset At, bool Applied);

/// <summary>A reconciled shift with its resolutions and the ledger rows they wrote, newest last.</summary>
public sealed record ShiftDetail(ShiftSummary Summary, ShiftResult? Result, IReadOnlyList<ResolutionRecord> Resolutions, IReadOnlyList<LedgerEntry> Movements);

/// <summary>The answer to a resolution: the record, the movements written, and whether this request found it already resolved the same way.</summary>
public sealed record ResolutionOutcome(ResolutionRecord Record, IReadOnlyList<ResolutionMovement> Movements, bool Repeated);

/// <summary>
/// A card driven below zero by offline redemption: the row that did it, the debt left now, and the
/// later rows that repaid it (credits that went to the debt first), the last one when it was repaid in full.
/// </summary>
public sealed record DebtRecord(string CardNumber, LedgerEntry Incurred, long DebtNowKopecks, IReadOnlyList<DebtRepayment> Repayments, DateTimeOffset? RepaidAt);

/// <summary>A ledger row that repaid part of a debt, and how much of the debt it repaid (kopecks).</summary>
public sealed record DebtRepayment(LedgerEntry Row, long RepaidKopecks);

/// <summary>The liability statement with its daily closing figures and the checks it was tied out with.</summary>
public sealed record LiabilityReport(
    LiabilityStatement Statement, IReadOnlyList<(DateOnly Day, long LiabilityKopecks, long PendingKopecks)> Daily, CardTotals? Cards)
{
    /// <summary>Ties to the card table when the period ends today or later: closing liability + pending = Σ balances, pending = Σ pending, held = Σ held.</summary>
    public bool? TiesToCards => Cards is null ? null
        : Statement.Total.ClosingKopecks + Statement.Total.PendingClosingKopecks == Cards.BalanceKopecks
          && Statement.Total.PendingClosingKopecks == Cards.PendingKopecks && Statement.Total.HeldClosingKopecks == Cards.HeldKopecks;
}

/// <summary>
/// The accountant's reads and writes over the engine: shifts with their outcomes and resolutions,
/// resolving a receipt through the card grains, debts, the bonus liability statement. The rules are in
/// the domain (<see cref="ShiftResolution"/>, <see cref="Liability"/>); here are the queries and the
/// order of writes. Shared by the web pages and the gRPC Reconciliation service.
/// </summary>
public sealed class AccountantBooks(CardDirectory runtime, TimeProvider time)
{
    /// <summary>Rows any list returns at most; the pages and the service say when there were more.</summary>
    public const int MaxListRows = 1_000;

    /// <summary>Ledger rows read after a debt to find its repayments.</summary>
    public const int MaxRowsAfterDebt = 200;

    /// <summary>The book day's time zone (as <c>loyalty_book_day</c> in migration 0009).</summary>
    public static readonly TimeZoneInfo BookZone = TimeZoneInfo.FindSystemTimeZoneById("Europe/Moscow");

    private NpgsqlDataSource DataSource => runtime.Store.DataSource;

    public DateOnly Today => DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(time.GetUtcNow(), BookZone).DateTime);

    /// <summary>Shifts newest first, filtered by store, register and book days of their close (or last receipt); at most <paramref name="limit"/>.</summary>
    public async Task<IReadOnlyList<ShiftSummary>> ListShiftsAsync(string? storeId, string? registerId, DateOnly? from, DateOnly? to, int limit, CancellationToken cancellationToken = default)
    {
        if (!string.IsNullOrEmpty(storeId)) Validate.Identifier(storeId, "store id");
        if (!string.IsNullOrEmpty(registerId)) Validate.Identifier(registerId, "register id");
        limit = Math.Clamp(limit, 1, MaxListRows);
        await using var command = DataSource.CreateCommand(
            """
            WITH seen AS (
                -- Receipts grouped by shift (the receipts table's key starts with store, register, shift),
                -- then the shifts that have a report left out: those are listed from `shifts`.
                SELECT r.store_id, r.register_id, r.shift_number, max(r.at) AS at, count(*) AS receipts
                FROM receipts r
                WHERE ($1::text IS NULL OR r.store_id = $1) AND ($2::text IS NULL OR r.register_id = $2)
                GROUP BY 1, 2, 3),
            open_shifts AS (
                SELECT * FROM seen o
                WHERE NOT EXISTS (SELECT 1 FROM shifts s WHERE (s.store_id, s.register_id, s.shift_number) = (o.store_id, o.register_id, o.shift_number))),
            all_shifts AS (
                SELECT store_id, register_id, shift_number, closed_at AS at, result::text AS result, 0::bigint AS receipts FROM shifts
                WHERE ($1::text IS NULL OR store_id = $1) AND ($2::text IS NULL OR register_id = $2)
                UNION ALL
                SELECT store_id, register_id, shift_number, at, NULL, receipts FROM open_shifts)
            SELECT a.store_id, a.register_id, a.shift_number, a.at, a.result, a.receipts,
                   (SELECT coalesce(array_agg(x.receipt_number), '{}') FROM shift_resolutions x
                    WHERE (x.store_id, x.register_id, x.shift_number) = (a.store_id, a.register_id, a.shift_number))
            FROM all_shifts a
            WHERE ($3::date IS NULL OR loyalty_book_day(a.at) >= $3) AND ($4::date IS NULL OR loyalty_book_day(a.at) <= $4)
            ORDER BY a.at DESC, a.store_id, a.register_id, a.shift_number DESC
            LIMIT $5
            """);
        command.Parameters.Add(new NpgsqlParameter<string?> { TypedValue = string.IsNullOrEmpty(storeId) ? null : storeId, DataTypeName = "text" });
        command.Parameters.Add(new NpgsqlParameter<string?> { TypedValue = string.IsNullOrEmpty(registerId) ? null : registerId, DataTypeName = "text" });
        command.Parameters.Add(new NpgsqlParameter { Value = from.HasValue ? from.Value : DBNull.Value, DataTypeName = "date" });
        command.Parameters.Add(new NpgsqlParameter { Value = to.HasValue ? to.Value : DBNull.Value, DataTypeName = "date" });
        command.Parameters.Add(new NpgsqlParameter { Value = limit });
        var list = new List<ShiftSummary>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var key = new ShiftKey(reader.GetString(0), reader.GetString(1), reader.GetInt64(2));
            var at = reader.GetFieldValue<DateTimeOffset>(3);
            var resolved = reader.GetFieldValue<long[]>(6);
            list.Add(reader.IsDBNull(4)
                ? new ShiftSummary(key, at, ShiftState.Open, (int)reader.GetInt64(5), 0, 0, 0, 0, 0, 0, 0)
                : Summarise(Json.Deserialize<ShiftResult>(reader.GetString(4)), resolved));
        }
        return list;
    }

    /// <summary>Counts per outcome and the state, from a reconciled shift and the receipt numbers resolved so far.</summary>
    public static ShiftSummary Summarise(ShiftResult result, IReadOnlyCollection<long> resolved)
    {
        var done = resolved.ToHashSet();
        var unresolved = result.Receipts.Count(r => ShiftResolution.NeedsResolution(r.Outcome) && !done.Contains(r.Ref.ReceiptNumber));
        int Count(ReceiptOutcome o) => result.Count(o);
        var main = Count(ReceiptOutcome.Matched) + Count(ReceiptOutcome.AppliedFromReport) + Count(ReceiptOutcome.OnlineOnly) + Count(ReceiptOutcome.Mismatch);
        return new ShiftSummary(result.Shift, result.ClosedAt, unresolved > 0 ? ShiftState.NeedsAttention : ShiftState.Settled, result.Receipts.Count,
            Count(ReceiptOutcome.Matched), Count(ReceiptOutcome.AppliedFromReport), Count(ReceiptOutcome.OnlineOnly), Count(ReceiptOutcome.Mismatch),
            result.Receipts.Count - main, result.Debts, unresolved);
    }

    /// <summary>A shift with its receipts, resolutions and their ledger rows; null when the server knows nothing of it.</summary>
    public async Task<ShiftDetail?> GetShiftAsync(ShiftKey shift, CancellationToken cancellationToken = default)
    {
        Validate.Identifier(shift.StoreId, "store id");
        Validate.Identifier(shift.RegisterId, "register id");
        var result = await new ShiftReconciler(runtime, time).GetAsync(shift, cancellationToken);
        var resolutions = await LoadResolutionsAsync(shift, cancellationToken);
        if (result is null)
        {
            var online = await runtime.Store.LoadShiftReceiptsAsync(shift, cancellationToken);
            if (online.Count == 0) return null;
            // No report yet: the receipts seen online, each as it stands until the report comes.
            var receipts = online.OrderBy(r => r.Ref.ReceiptNumber).Select(r => new ReconciledReceipt(r.Ref, ReceiptOutcome.OnlineOnly,
                new ReceiptFigures(r.CardNumber, r.Lines.Sum(l => l.AmountKopecks), r.Redeemed), null, null, 0, 0, 0, 0, false)).ToList();
            var open = new ShiftResult(shift, "", "", online.Max(r => r.CommittedAt), online.Max(r => r.CommittedAt), ShiftStatus.NeedsAttention, receipts, 0);
            return new ShiftDetail(new ShiftSummary(shift, open.ClosedAt, ShiftState.Open, receipts.Count, 0, 0, 0, 0, 0, 0, 0), open, resolutions, []);
        }
        var ids = resolutions.SelectMany(r => new[] { r.OperationId, r.OperationId + ":1", r.OperationId + ":2" }).ToArray();
        var movements = new List<LedgerEntry>();
        if (ids.Length > 0)
        {
            await using var command = DataSource.CreateCommand(
                """
                SELECT card_number, operation_id, entry_number, kind, amount, held_delta, pending_delta, balance_after, available_after,
                       version_after, store_id, register_id, shift_number, receipt_number, offline, reason, actor, at
                FROM ledger WHERE operation_id = ANY($1) ORDER BY at, operation_id, card_number, entry_number
                """);
            command.Parameters.Add(new NpgsqlParameter { Value = ids });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken)) movements.Add(ReadEntry(reader, 0));
        }
        return new ShiftDetail(Summarise(result, [.. resolutions.Select(r => r.Receipt.ReceiptNumber)]), result, resolutions, movements);
    }

    /// <summary>
    /// Resolves one receipt of a reconciled shift (<see cref="ShiftResolution"/>): claims it (one
    /// resolution per receipt), writes its movements through the card grains as adjustments by
    /// <paramref name="actor"/> under the derived operation ids, then marks it applied. The same
    /// request again (a form posted twice, a retry after a failure) applies nothing more and answers
    /// with <see cref="ResolutionOutcome.Repeated"/>; another resolution of a resolved receipt is refused.
    /// A card that refuses a movement (not enough bonuses to take back) releases the claim and the
    /// refusal is returned as is; nothing of that resolution stays.
    /// </summary>
    public async Task<ResolutionOutcome> ResolveAsync(ShiftKey shift, long receiptNumber, ResolutionKind kind, long amountKopecks, string? reason, string actor,
        CancellationToken cancellationToken = default)
    {
        Validate.Identifier(shift.StoreId, "store id");
        Validate.Identifier(shift.RegisterId, "register id");
        Validate.Text(actor, "author of the resolution", required: true);
        var receiptRef = shift.Receipt(receiptNumber);
        var stored = await LoadShiftAsync(shift, cancellationToken)
            ?? throw new CardException(CardErrorCode.NotFound, $"Shift {shift} has no reconciled report; receipts are resolved after its report is uploaded.");
        var line = stored.Result.Receipts.FirstOrDefault(r => r.Ref.ReceiptNumber == receiptNumber)
            ?? throw new CardException(CardErrorCode.NotFound, $"Shift {shift} has no receipt {receiptNumber}.");
        reason = string.IsNullOrWhiteSpace(reason) ? "" : reason.Trim();
        ShiftResolution.Validate(receiptRef, line.Outcome, kind, amountKopecks, reason);

        var online = line.Online is null ? null : await runtime.Store.LoadReceiptAsync(receiptRef);
        var onlineEffect = online is null ? null : new ReceiptEffect(online.CardNumber, online.Redeemed, online.Accrued);
        var reported = stored.Report.Receipts.FirstOrDefault(r => r.ReceiptNumber == receiptNumber);
        var reportEffect = reported is { Kind: ReportedReceiptKind.Sale, CardNumber: { } reportCard } && kind == ResolutionKind.AcceptReport
            ? await ReportEffectAsync(stored.Report.Shift, reported, reportCard)
            : null;
        var movements = ShiftResolution.Movements(receiptRef, kind, amountKopecks, reason, onlineEffect, reportEffect);
        var operationId = ShiftResolution.OperationIdFor(receiptRef, kind, amountKopecks, reason);

        var (record, claimed) = await ClaimAsync(new ResolutionRecord(receiptRef, kind, amountKopecks, reason, operationId, actor, time.GetUtcNow(), false), cancellationToken);
        if (record.OperationId != operationId)
            throw new CardException(CardErrorCode.AlreadyResolved,
                $"Receipt {receiptRef} was resolved by {record.Actor} at {record.At:u} ({ShiftResolution.Name(record.Kind)}{(record.Kind == ResolutionKind.Adjustment ? $" {record.AmountKopecks} kopecks" : "")}).");
        if (record.Applied) return new ResolutionOutcome(record, movements, Repeated: true);
        try
        {
            foreach (var movement in movements)
                await runtime.Card(movement.CardNumber).AdjustAsync(movement.OperationId, movement.AmountKopecks, movement.Reason, actor, cancellationToken);
        }
        catch (CardException refused) when (claimed && refused.Code is not (CardErrorCode.Unavailable or CardErrorCode.Overloaded))
        {
            await ReleaseClaimAsync(receiptRef, operationId, cancellationToken);
            throw;
        }
        await MarkAppliedAsync(receiptRef, cancellationToken);
        return new ResolutionOutcome(record with { Applied = true }, movements, Repeated: !claimed);
    }

    /// <summary>What the report's receipt does to its card under the card's programme (as <see cref="Card.ApplyOffline"/> would: a blocked card earns nothing).</summary>
    private async Task<ReceiptEffect> ReportEffectAsync(ShiftKey shift, ReportedReceipt reported, string cardNumber)
    {
        var state = await runtime.Store.LoadCardAsync(cardNumber)
            ?? throw new CardException(CardErrorCode.NotFound, $"Card {cardNumber} of the report does not exist; resolve the receipt with an adjustment.");
        var program = await runtime.Programs.GetAsync(state.ProgramId);
        var receipt = ShiftReconciliation.ToReceipt(shift, reported);
        var accrued = state.Status == CardStatus.Blocked ? 0 : ProgramRules.Accruals(program, receipt, [.. reported.Lines.Select(l => l.BonusDiscountKopecks)]).Sum();
        return new ReceiptEffect(cardNumber, reported.BonusKopecks, accrued);
    }

    private async Task<(ResolutionRecord Record, bool Claimed)> ClaimAsync(ResolutionRecord wanted, CancellationToken cancellationToken)
    {
        await using var command = DataSource.CreateCommand(
            """
            WITH claimed AS (
                INSERT INTO shift_resolutions (store_id, register_id, shift_number, receipt_number, resolution, amount, reason, operation_id, actor, state, at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'claimed', $10) ON CONFLICT DO NOTHING
                RETURNING resolution, amount, reason, operation_id, actor, state, at, true AS mine)
            SELECT * FROM claimed
            UNION ALL
            SELECT resolution, amount, reason, operation_id, actor, state, at, false FROM shift_resolutions
            WHERE store_id = $1 AND register_id = $2 AND shift_number = $3 AND receipt_number = $4 AND NOT EXISTS (SELECT 1 FROM claimed)
            """);
        AddReceipt(command, wanted.Receipt);
        command.Parameters.Add(new NpgsqlParameter { Value = ShiftResolution.Name(wanted.Kind) });
        command.Parameters.Add(new NpgsqlParameter { Value = wanted.AmountKopecks });
        command.Parameters.Add(new NpgsqlParameter { Value = wanted.Reason });
        command.Parameters.Add(new NpgsqlParameter { Value = wanted.OperationId });
        command.Parameters.Add(new NpgsqlParameter { Value = wanted.Actor });
        command.Parameters.Add(new NpgsqlParameter { Value = wanted.At });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
            // The row was there for the insert and gone for the read: a failed resolution released it. Ask again.
            throw new CardException(CardErrorCode.Unavailable, $"Receipt {wanted.Receipt} was being resolved by someone else; try again.");
        return (ReadResolution(reader, wanted.Receipt, 0), reader.GetBoolean(7));
    }

    private async Task ReleaseClaimAsync(ReceiptRef receipt, string operationId, CancellationToken cancellationToken)
    {
        await using var command = DataSource.CreateCommand(
            "DELETE FROM shift_resolutions WHERE store_id = $1 AND register_id = $2 AND shift_number = $3 AND receipt_number = $4 AND operation_id = $5 AND state = 'claimed'");
        AddReceipt(command, receipt);
        command.Parameters.Add(new NpgsqlParameter { Value = operationId });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private async Task MarkAppliedAsync(ReceiptRef receipt, CancellationToken cancellationToken)
    {
        await using var command = DataSource.CreateCommand(
            "UPDATE shift_resolutions SET state = 'applied' WHERE store_id = $1 AND register_id = $2 AND shift_number = $3 AND receipt_number = $4");
        AddReceipt(command, receipt);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private async Task<IReadOnlyList<ResolutionRecord>> LoadResolutionsAsync(ShiftKey shift, CancellationToken cancellationToken)
    {
        await using var command = DataSource.CreateCommand(
            """
            SELECT resolution, amount, reason, operation_id, actor, state, at, receipt_number FROM shift_resolutions
            WHERE store_id = $1 AND register_id = $2 AND shift_number = $3 ORDER BY at, receipt_number
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = shift.StoreId });
        command.Parameters.Add(new NpgsqlParameter { Value = shift.RegisterId });
        command.Parameters.Add(new NpgsqlParameter { Value = shift.ShiftNumber });
        var list = new List<ResolutionRecord>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) list.Add(ReadResolution(reader, shift.Receipt(reader.GetInt64(7)), 0));
        return list;
    }

    private static ResolutionRecord ReadResolution(NpgsqlDataReader reader, ReceiptRef receipt, int first) => new(
        receipt, ShiftResolution.Parse(reader.GetString(first)) ?? ResolutionKind.KeepOnline, reader.GetInt64(first + 1), reader.GetString(first + 2),
        reader.GetString(first + 3), reader.GetString(first + 4), reader.GetFieldValue<DateTimeOffset>(first + 6), reader.GetString(first + 5) == "applied");

    private sealed record StoredShift(ShiftResult Result, ShiftReportData Report);

    private async Task<StoredShift?> LoadShiftAsync(ShiftKey shift, CancellationToken cancellationToken)
    {
        await using var command = DataSource.CreateCommand(
            "SELECT report::text, result::text FROM shifts WHERE store_id = $1 AND register_id = $2 AND shift_number = $3");
        command.Parameters.Add(new NpgsqlParameter { Value = shift.StoreId });
        command.Parameters.Add(new NpgsqlParameter { Value = shift.RegisterId });
        command.Parameters.Add(new NpgsqlParameter { Value = shift.ShiftNumber });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken)) return null;
        return new StoredShift(Json.Deserialize<ShiftResult>(reader.GetString(1)), Json.Deserialize<ShiftReportData>(reader.GetString(0)));
    }

    /// <summary>
    /// Offline redemptions that drove a card below zero, newest first (at most <paramref name="limit"/>),
    /// each with the debt the card carries now and the rows after it that repaid it.
    /// </summary>
    public async Task<IReadOnlyList<DebtRecord>> ListDebtsAsync(bool outstandingOnly, int limit, CancellationToken cancellationToken = default)
    {
        limit = Math.Clamp(limit, 1, MaxListRows);
        var incurred = new List<(long Id, LedgerEntry Entry, long Debt)>();
        await using (var command = DataSource.CreateCommand(
            $"""
            SELECT l.id, l.card_number, l.operation_id, l.entry_number, l.kind, l.amount, l.held_delta, l.pending_delta, l.balance_after, l.available_after,
                   l.version_after, l.store_id, l.register_id, l.shift_number, l.receipt_number, l.offline, l.reason, l.actor, l.at,
                   coalesce((c.state->>'debtKopecks')::bigint, 0)
            FROM ledger l LEFT JOIN cards c ON c.number = l.card_number
            WHERE l.kind = 'OfflineRedeem' AND l.available_after < 0
              AND ($1 = false OR coalesce((c.state->>'debtKopecks')::bigint, 0) > 0)
            ORDER BY l.at DESC LIMIT $2
            """))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = outstandingOnly });
            command.Parameters.Add(new NpgsqlParameter { Value = limit });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
                incurred.Add((reader.GetInt64(0), ReadEntry(reader, 1), reader.GetInt64(19)));
        }
        var list = new List<DebtRecord>();
        foreach (var (id, entry, debt) in incurred)
        {
            var after = new List<LedgerEntry>();
            await using var command = DataSource.CreateCommand(
                """
                SELECT card_number, operation_id, entry_number, kind, amount, held_delta, pending_delta, balance_after, available_after,
                       version_after, store_id, register_id, shift_number, receipt_number, offline, reason, actor, at
                FROM ledger WHERE card_number = $1 AND id > $2 ORDER BY id LIMIT $3
                """);
            command.Parameters.Add(new NpgsqlParameter { Value = entry.CardNumber });
            command.Parameters.Add(new NpgsqlParameter { Value = id });
            command.Parameters.Add(new NpgsqlParameter { Value = MaxRowsAfterDebt });
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
                while (await reader.ReadAsync(cancellationToken)) after.Add(ReadEntry(reader, 0));
            // A credit repays debt first (CardChange.Credit), so while the card is below zero every row
            // that raises what it may spend is a repayment; the first to reach zero repaid it in full.
            var repayments = new List<DebtRepayment>();
            DateTimeOffset? repaidAt = null;
            var level = entry.AvailableAfterKopecks;
            foreach (var row in after)
            {
                if (row.AvailableAfterKopecks > level && level < 0) repayments.Add(new DebtRepayment(row, Math.Min(row.AvailableAfterKopecks, 0) - level));
                if (level < 0 && row.AvailableAfterKopecks >= 0) { repaidAt = row.At; break; }
                level = row.AvailableAfterKopecks;
            }
            list.Add(new DebtRecord(entry.CardNumber, entry, debt, repayments, repaidAt));
        }
        return list;
    }

    /// <summary>
    /// The bonus liability statement for book days [<paramref name="from"/>, <paramref name="to"/>]:
    /// movement sums from <c>ledger_days</c> (opening = everything before the period), the lines by
    /// <see cref="Liability.Build"/>, the daily closing figures, and, when the period reaches today,
    /// the card table's totals to tie the closing figures to.
    /// </summary>
    public async Task<LiabilityReport> LiabilityAsync(DateOnly from, DateOnly to, CancellationToken cancellationToken = default)
    {
        Liability.ValidatePeriod(from, to);
        var sums = new List<MovementSum>();
        var days = new List<(DateOnly, long, long)>();
        await using var connection = await DataSource.OpenConnectionAsync(cancellationToken);
        // One snapshot for the sums, the days and the card totals, so a write between them cannot unbalance the check.
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken);
        await using (var command = new NpgsqlCommand(
            """
            SELECT program_id, store_id, kind, day < $1, sum(rows)::bigint, sum(amount)::bigint, sum(held_delta)::bigint, sum(pending_delta)::bigint
            FROM ledger_days WHERE day <= $2 GROUP BY 1, 2, 3, 4
            """, connection, transaction))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = from, DataTypeName = "date" });
            command.Parameters.Add(new NpgsqlParameter { Value = to, DataTypeName = "date" });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
                sums.Add(new MovementSum(reader.GetString(0), reader.GetString(1), reader.GetString(2),
                    reader.GetBoolean(3) ? LiabilityPeriodPart.Before : LiabilityPeriodPart.During,
                    reader.GetInt64(4), reader.GetInt64(5), reader.GetInt64(6), reader.GetInt64(7)));
        }
        await using (var command = new NpgsqlCommand(
            "SELECT day, sum(amount - pending_delta)::bigint, sum(pending_delta)::bigint FROM ledger_days WHERE day BETWEEN $1 AND $2 GROUP BY day",
            connection, transaction))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = from, DataTypeName = "date" });
            command.Parameters.Add(new NpgsqlParameter { Value = to, DataTypeName = "date" });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
                days.Add((reader.GetFieldValue<DateOnly>(0), reader.GetInt64(1), reader.GetInt64(2)));
        }
        CardTotals? cards = null;
        if (to >= Today)
        {
            await using var command = new NpgsqlCommand(
                "SELECT coalesce(sum(balance), 0)::bigint, coalesce(sum(pending), 0)::bigint, coalesce(sum(held), 0)::bigint, count(*) FROM cards",
                connection, transaction);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            cards = new CardTotals(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3));
        }
        await transaction.CommitAsync(cancellationToken);
        var statement = Liability.Build(from, to, sums);
        return new LiabilityReport(statement, Liability.DailyClosing(from, to, statement.Total.OpeningKopecks, statement.Total.PendingOpeningKopecks, days), cards);
    }

    /// <summary>
    /// Compares the summary with the ledger itself (a full scan: for tests and the benchmark, not for
    /// pages): per book day, programme, store and kind, rows and sums. Returns the differences in words.
    /// </summary>
    public async Task<IReadOnlyList<string>> VerifySummaryAsync(CancellationToken cancellationToken = default)
    {
        await using var command = DataSource.CreateCommand(
            """
            WITH l AS (
                SELECT loyalty_book_day(l.at) AS day, coalesce(c.program_id, '') AS program_id, coalesce(l.store_id, '') AS store_id, l.kind,
                       count(*) AS rows, sum(l.amount) AS amount, sum(l.held_delta) AS held_delta, sum(l.pending_delta) AS pending_delta
                FROM ledger l LEFT JOIN cards c ON c.number = l.card_number GROUP BY 1, 2, 3, 4)
            SELECT coalesce(l.day, d.day)::text || ' ' || coalesce(l.program_id, d.program_id) || ' ' || coalesce(l.store_id, d.store_id) || ' ' || coalesce(l.kind, d.kind)
                   || ': ledger ' || coalesce(l.rows, 0) || ' rows ' || coalesce(l.amount, 0) || '/' || coalesce(l.pending_delta, 0)
                   || ', summary ' || coalesce(d.rows, 0) || ' rows ' || coalesce(d.amount, 0) || '/' || coalesce(d.pending_delta, 0)
            FROM l FULL JOIN ledger_days d USING (day, program_id, store_id, kind)
            WHERE l.rows IS DISTINCT FROM d.rows OR l.amount IS DISTINCT FROM d.amount
               OR l.held_delta IS DISTINCT FROM d.held_delta OR l.pending_delta IS DISTINCT FROM d.pending_delta
            LIMIT 100
            """);
        command.CommandTimeout = 0;
        var differences = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) differences.Add(reader.GetString(0));
        return differences;
    }

    private static void AddReceipt(NpgsqlCommand command, ReceiptRef receipt)
    {
        command.Parameters.Add(new NpgsqlParameter { Value = receipt.StoreId });
        command.Parameters.Add(new NpgsqlParameter { Value = receipt.RegisterId });
        command.Parameters.Add(new NpgsqlParameter { Value = receipt.ShiftNumber });
        command.Parameters.Add(new NpgsqlParameter { Value = receipt.ReceiptNumber });
    }

    /// <summary>A ledger row from 18 columns starting at <paramref name="first"/> (card_number … at).</summary>
    private static LedgerEntry ReadEntry(NpgsqlDataReader reader, int first)
    {
        var o = first;
        ReceiptRef? receipt = reader.IsDBNull(o + 10) ? null
            : new ReceiptRef(reader.GetString(o + 10), reader.GetString(o + 11), reader.GetInt64(o + 12), reader.GetInt64(o + 13));
        return new LedgerEntry(reader.GetString(o), reader.GetString(o + 1), reader.GetInt32(o + 2), Enum.Parse<LedgerKind>(reader.GetString(o + 3)),
            reader.GetInt64(o + 4), reader.GetInt64(o + 5), reader.GetInt64(o + 6), reader.GetInt64(o + 7), reader.GetInt64(o + 8), reader.GetInt64(o + 9),
            receipt, reader.GetBoolean(o + 14), reader.IsDBNull(o + 15) ? null : reader.GetString(o + 15), reader.IsDBNull(o + 16) ? null : reader.GetString(o + 16),
            reader.GetFieldValue<DateTimeOffset>(o + 17));
    }
}
