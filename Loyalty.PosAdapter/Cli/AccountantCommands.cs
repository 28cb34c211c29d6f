using System.Globalization;
using System.Text;
using Loyalty.PosAdapter.Client;
using Loyalty.Protos.V1;
using System.CommandLine;

namespace Loyalty.PosAdapter.Cli;

/// <summary>The accountant's commands (issue 12): shifts listed and resolved, the bonus liability statement.</summary>
public static partial class LoyaltyCommandLine
{
    private static Command BuildShiftList(GlobalOptions globals)
    {
        var store = new Option<string?>("--store") { Description = "Only this store." };
        var register = new Option<string?>("--register") { Description = "Only this register." };
        var from = new Option<string?>("--from") { Description = "First book day (YYYY-MM-DD, Moscow time) of the shifts' close." };
        var to = new Option<string?>("--to") { Description = "Last book day (YYYY-MM-DD)." };
        var limit = new Option<int>("--limit") { Description = "At most this many shifts (1-1000).", DefaultValueFactory = _ => 100 };
        var list = new Command("list", "List shifts newest first with counts per outcome and their state (open, needs attention, settled). Accountant or admin key.")
            { store, register, from, to, limit };
        SetClientAction(list, globals, async (parseResult, session, cancellationToken) =>
        {
            var request = new ListShiftsRequest
            {
                StoreId = parseResult.GetValue(store) ?? "", RegisterId = parseResult.GetValue(register) ?? "",
                From = ParseDay(parseResult.GetValue(from), "--from"), To = ParseDay(parseResult.GetValue(to), "--to"), Limit = parseResult.GetValue(limit),
            };
            var reply = await RetryPolicy.Default.ExecuteAsync(request, (r, token) => session.Client.ListShiftsAsync(r, null, token), cancellationToken);
            session.Output.Reply(reply, () => session.Output.Table(
                ["store", "register", "shift", "at", "state", "receipts", "matched", "applied", "online only", "mismatch", "other", "debts", "unresolved"],
                reply.Shifts.Select(s => (IReadOnlyList<string>)
                [
                    s.StoreId, s.RegisterId, Output.Number(s.ShiftNumber), s.At?.ToDateTimeOffset().ToString("u", CultureInfo.InvariantCulture) ?? "", Output.Words(s.State),
                    Output.Number(s.Receipts), Output.Number(s.Matched), Output.Number(s.AppliedFromReport), Output.Number(s.OnlineOnly), Output.Number(s.Mismatch),
                    Output.Number(s.Other), Output.Number(s.Debts), Output.Number(s.Unresolved),
                ]), "shift", "receipts", "matched", "applied", "online only", "mismatch", "other", "debts", "unresolved"));
            return ExitCodes.Success;
        });
        return list;
    }

    private static Command BuildShiftResolve(GlobalOptions globals)
    {
        var store = new Argument<string>("store");
        var register = new Argument<string>("register");
        var number = new Argument<long>("shift");
        var receipt = new Argument<long>("receipt");
        var kind = new Option<string>("--as")
        {
            Description = "accept-report (apply the difference to the report's figures), keep-online, or adjustment (with --amount and --reason).", Required = true,
        };
        var amount = new Option<string?>("--amount") { Description = "Adjustment only: roubles, signed (e.g. -20.50)." };
        var reason = new Option<string?>("--reason") { Description = "Why (required for an adjustment); goes into the ledger with the key's name." };
        var resolve = new Command("resolve", "Resolve a receipt waiting for an accountant. Safe to repeat: the same resolution again applies nothing more.")
            { store, register, number, receipt, kind, amount, reason };
        SetClientAction(resolve, globals, async (parseResult, session, cancellationToken) =>
        {
            var asked = parseResult.GetRequiredValue(kind);
            var request = new ResolveReceiptRequest
            {
                StoreId = parseResult.GetRequiredValue(store), RegisterId = parseResult.GetRequiredValue(register),
                ShiftNumber = parseResult.GetRequiredValue(number), ReceiptNumber = parseResult.GetRequiredValue(receipt),
                Kind = asked switch
                {
                    "accept-report" => ResolutionKind.AcceptReport,
                    "keep-online" => ResolutionKind.KeepOnline,
                    "adjustment" => ResolutionKind.Adjustment,
                    _ => throw new CommandLineInputException($"--as '{asked}' is not accept-report, keep-online or adjustment."),
                },
                Amount = parseResult.GetValue(amount) is { } roubles ? ParseAmount(roubles, "--amount") : 0,
                Reason = parseResult.GetValue(reason) ?? "",
            };
            var reply = await RetryPolicy.Default.ExecuteAsync(request, (r, token) => session.Client.ResolveReceiptAsync(r, null, token), cancellationToken);
            session.Output.Reply(reply, () =>
            {
                session.Output.KeyValues(("receipt", Output.Number(reply.Resolution.ReceiptNumber)), ("resolution", Output.Words(reply.Resolution.Kind)),
                    ("by", reply.Resolution.Actor), ("at", reply.Resolution.At?.ToDateTimeOffset().ToString("u", CultureInfo.InvariantCulture) ?? ""),
                    ("operation id", reply.Resolution.OperationId), ("repeated", reply.Repeated ? "yes: nothing more was applied" : "no"));
                session.Output.Table(["card", "amount", "operation id"], reply.Movements.Select(m => (IReadOnlyList<string>)[m.CardNumber, Money.Format(m.Amount), m.OperationId]), "amount");
            });
            return ExitCodes.Success;
        });
        return resolve;
    }

    private static Command BuildLiabilityCommand(GlobalOptions globals)
    {
        var from = new Option<string>("--from") { Description = "First book day (YYYY-MM-DD, Moscow time).", Required = true };
        var to = new Option<string>("--to") { Description = "Last book day (YYYY-MM-DD).", Required = true };
        var csv = new Option<string?>("--csv") { Description = "Also write the statement to this CSV file (';'-separated, UTF-8 with BOM, for Excel)." };
        var liability = new Command("liability", "The bonus liability statement for a period, per programme and store, tied out to the ledger. Accountant or admin key.")
            { from, to, csv };
        SetClientAction(liability, globals, async (parseResult, session, cancellationToken) =>
        {
            var request = new LiabilityRequest { From = ParseDay(parseResult.GetRequiredValue(from), "--from"), To = ParseDay(parseResult.GetRequiredValue(to), "--to") };
            var file = parseResult.GetValue(csv);
            if (file is not null && !Directory.Exists(Path.GetDirectoryName(Path.GetFullPath(file))))
                throw new CommandLineInputException($"--csv {file}: the folder {Path.GetDirectoryName(Path.GetFullPath(file))} does not exist.");
            var reply = await RetryPolicy.Default.ExecuteAsync(request, (r, token) => session.Client.GetLiabilityStatementAsync(r, null, token), cancellationToken);
            var lines = reply.Lines.Concat(reply.Programs).Append(reply.Total).ToList();
            if (file is not null)
                await File.WriteAllBytesAsync(file, LiabilityCsv(lines), cancellationToken);
            session.Output.Reply(reply, () =>
            {
                session.Output.Table(["programme", "store", .. LiabilityColumns],
                    lines.Select(l => (IReadOnlyList<string>)[l.ProgramId, l.StoreId == "" ? "(none)" : l.StoreId, .. LiabilityFigures(l).Select(Money.Format)]),
                    LiabilityColumns);
                session.Output.KeyValues(
                    ("rolls forward", reply.RollsForward ? "yes: opening + movements = closing on every line" : "NO"),
                    ("ties to cards", !reply.CheckedAgainstCards ? "not checked: the period ended before today"
                        : reply.TiesToCards ? $"yes: closing + pending = Σ card balances ({Money.Format(reply.CardsBalance)})" : $"NO: Σ balances {Money.Format(reply.CardsBalance)}"),
                    ("csv", file ?? ""));
            });
            return reply.RollsForward && (!reply.CheckedAgainstCards || reply.TiesToCards) ? ExitCodes.Success : ExitCodes.For(StatusCode.Internal);
        });
        return liability;
    }

    private static readonly string[] LiabilityColumns =
    [
        "opening", "accrued", "released", "redeemed online", "redeemed offline", "expired", "returns", "adjustments", "transfers", "other", "closing",
        "pending opening", "pending accrued", "pending released", "pending returned", "pending closing", "held",
    ];

    private static long[] LiabilityFigures(LiabilityLine l) =>
    [
        l.Opening, l.Accrued, l.ReleasedFromPending, l.RedeemedOnline, l.RedeemedOffline, l.Expired, l.Returns, l.Adjustments, l.Transfers, l.Other, l.Closing,
        l.PendingOpening, l.PendingAccrued, l.PendingReleased, l.PendingReturned, l.PendingClosing, l.HeldClosing,
    ];

    /// <summary>The statement as the web page's CSV: ';'-separated, UTF-8 with BOM, roubles with a comma (Excel in Russian).</summary>
    private static byte[] LiabilityCsv(IEnumerable<LiabilityLine> lines)
    {
        var sb = new StringBuilder();
        sb.Append(string.Join(';', new[] { "programme", "store" }.Concat(LiabilityColumns))).Append("\r\n");
        foreach (var l in lines)
            sb.Append(string.Join(';', new[] { l.ProgramId, l.StoreId }.Concat(LiabilityFigures(l).Select(k => (k / 100m).ToString("0.00", CultureInfo.InvariantCulture).Replace('.', ',')))))
              .Append("\r\n");
        return [.. Encoding.UTF8.GetPreamble(), .. Encoding.UTF8.GetBytes(sb.ToString())];
    }

    private static BookDay? ParseDay(string? text, string option)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        if (!DateOnly.TryParseExact(text.Trim(), "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day))
            throw new CommandLineInputException($"{option} '{text}' is not a date written YYYY-MM-DD.");
        return new BookDay { Year = day.Year, Month = day.Month, Day = day.Day };
    }
}
