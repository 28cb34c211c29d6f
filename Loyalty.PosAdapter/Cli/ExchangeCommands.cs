using System.CommandLine;
using System.Globalization;
using Google.Protobuf.WellKnownTypes;
using Loyalty.PosAdapter.Client;
using Loyalty.PosAdapter.Formats;
using Loyalty.Protos.V1;
using ShiftReport = Loyalty.PosAdapter.Formats.ShiftReport;

namespace Loyalty.PosAdapter.Cli;

/// <summary>The offline exchange from the command line: catalog files down, sales reports up, shifts shown.</summary>
public static partial class LoyaltyCommandLine
{
    /// <summary>
    /// The category sent for report lines: neither Frontol's nor Кассир's sales report carries one
    /// (protocols.md §3.2, §3.3), so accrual on offline receipts uses the programme's base rate
    /// unless the adapter maps SKUs to categories (issue 11, left for the adapter's goods catalog).
    /// </summary>
    public const string DefaultReportCategory = "goods";

    private static Command BuildCatalogCommand(GlobalOptions globals)
    {
        var store = new Option<string>("--store") { Description = "The store whose registers get the file.", Required = true };
        var format = new Option<string>("--format") { Description = "kassir, frontol or csv.", Required = true };
        var output = new Option<string>("--out") { Description = "The catalog load file to write (atomically: temp file, fsync, rename).", Required = true };
        var export = new Command("export", "Write every card with its offline spendable amount into a register's catalog load file.") { store, format, output };
        SetClientAction(export, globals, async (parseResult, session, cancellationToken) =>
        {
            var path = Path.GetFullPath(parseResult.GetRequiredValue(output));
            if (!Directory.Exists(Path.GetDirectoryName(path)))
                throw new CommandLineInputException($"--out {path}: the folder {Path.GetDirectoryName(path)} does not exist.");
            var watermark = DateTimeOffset.MinValue;
            var formatName = parseResult.GetRequiredValue(format);
            if (formatName is not ("kassir" or "frontol" or "csv"))
                throw new CommandLineInputException($"--format '{formatName}' is not kassir, frontol or csv.");
            var result = await Adapter.StoreExchange.WriteCatalogAsync(formatName, path,
                Adapter.StoreExchange.CatalogCardsAsync(session.Client, parseResult.GetRequiredValue(store), w => watermark = w, cancellationToken), cancellationToken);
            session.Output.KeyValues(("file", result.Path), ("cards", Output.Number(result.CardCount)), ("bytes", Output.Number(result.Bytes)),
                ("as of", watermark.ToString("u", CultureInfo.InvariantCulture)));
            return ExitCodes.Success;
        });
        return new Command("catalog", "Catalog load files for registers working offline.") { export };
    }

    private static Command BuildReportCommand(GlobalOptions globals)
    {
        var file = new Argument<string>("file") { Description = "The register's sales report (transactions file)." };
        var store = new Option<string>("--store") { Description = "Our store id for this register.", Required = true };
        var register = new Option<string>("--register") { Description = "Our register id.", Required = true };
        var format = new Option<string>("--format") { Description = "frontol or kassir.", Required = true };
        var bonusTypes = new Option<string?>("--bonus-payment-types") { Description = "Comma-separated payment type codes that mean 'paid with bonuses' (default: none; see Formats/README.md)." };
        var lineBonuses = new Option<bool>("--line-discounts-are-bonuses") { Description = "Frontol: read each line's discount as bonuses (only where the register runs no promotions of its own; see README)." };
        var upload = new Command("upload", "Read a closed shift's sales report and upload it; prints the shift's reconciliation. Exit code non-zero when the report is refused.")
            { file, store, register, format, bonusTypes, lineBonuses };
        SetClientAction(upload, globals, async (parseResult, session, cancellationToken) =>
        {
            var options = new ReportReadOptions
            {
                StoreId = parseResult.GetRequiredValue(store),
                RegisterId = parseResult.GetRequiredValue(register),
                BonusPaymentTypeCodes = (parseResult.GetValue(bonusTypes) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.Ordinal),
                LineDiscountsAreBonuses = parseResult.GetValue(lineBonuses),
            };
            var path = parseResult.GetRequiredValue(file);
            if (!File.Exists(path))
                throw new CommandLineInputException($"{path}: no such file{(Directory.Exists(path) ? " (it is a folder)" : "")}.");
            ShiftReport report;
            try
            {
                var formatName = parseResult.GetRequiredValue(format);
                if (formatName is not ("frontol" or "kassir"))
                    throw new CommandLineInputException($"--format '{formatName}' is not frontol or kassir.");
                report = Adapter.StoreExchange.ReadReport(formatName, path, options, cancellationToken);
            }
            catch (RegisterFileException broken)
            {
                throw new CommandLineInputException(broken.Message);
            }
            var reconciliation = await RetryPolicy.Default.ExecuteAsync(ReportConversion.ToWire(report, DefaultReportCategory),
                (request, token) => session.Client.UploadShiftReportAsync(request, null, token), cancellationToken);
            session.Output.Reply(reconciliation, () => WriteShift(session.Output, reconciliation));
            // Field case A5: a Z total unlike the receipts is a finding for the accountant; it changes no balance.
            if (report.ZDifferenceKopecks is { } difference and not 0)
                await session.Error.WriteLineAsync($"warning: the Z record's total differs from the receipts by {Money.Format(difference)} roubles; no balance was changed for it.");
            return ExitCodes.Success;
        });
        return new Command("report", "Sales reports of closed shifts.") { upload };
    }

    private static Command BuildShiftCommand(GlobalOptions globals)
    {
        var store = new Argument<string>("store");
        var register = new Argument<string>("register");
        var number = new Argument<long>("shift");
        var show = new Command("show", "Show a shift's reconciliation: each receipt's outcome, both sides' figures; with an accountant or admin key also its resolutions.") { store, register, number };
        SetClientAction(show, globals, async (parseResult, session, cancellationToken) =>
        {
            var request = new GetShiftRequest { StoreId = parseResult.GetRequiredValue(store), RegisterId = parseResult.GetRequiredValue(register), ShiftNumber = parseResult.GetRequiredValue(number) };
            ShiftDetail? detail = null;
            try
            {
                detail = await RetryPolicy.Default.ExecuteAsync(request, (r, token) => session.Client.GetShiftDetailAsync(r, null, token), cancellationToken);
            }
            catch (RpcException refused) when (refused.StatusCode == StatusCode.PermissionDenied)
            {
                // A register's key: the Exchange service's view of its own store's shift, without resolutions.
            }
            if (detail is not null && detail.Reconciliation is { } reconciled)
            {
                session.Output.Reply(detail, () =>
                {
                    WriteShift(session.Output, reconciled);
                    session.Output.Table(["receipt", "resolution", "amount", "reason", "by", "at", "operation id"], detail.Resolutions.Select(r => (IReadOnlyList<string>)
                        [Output.Number(r.ReceiptNumber), Output.Words(r.Kind), Money.Format(r.Amount), r.Reason, r.Actor,
                         r.At?.ToDateTimeOffset().ToString("u", CultureInfo.InvariantCulture) ?? "", r.OperationId]), "amount");
                });
                return ExitCodes.Success;
            }
            var shift = await RetryPolicy.Default.ExecuteAsync(request, (r, token) => session.Client.GetShiftAsync(r, null, token), cancellationToken);
            session.Output.Reply(shift, () => WriteShift(session.Output, shift));
            return ExitCodes.Success;
        });
        return new Command("shift", "Shifts: reconciled ones, their receipts and resolutions.") { BuildShiftList(globals), show, BuildShiftResolve(globals) };
    }

    private static Command BuildAdapterCommand()
    {
        var config = new Option<string>("--config") { Description = "The adapter's JSON configuration (server, key file, store, data directory, registers).", Required = true };
        var once = new Option<bool>("--once") { Description = "One pass (export the catalog files, upload waiting reports), then exit." };
        var run = new Command("run", "Run the store adapter: catalog files on a schedule, sales reports uploaded once, broken ones moved aside. Ctrl+C stops it.") { config, once };
        run.SetAction(async (parseResult, cancellationToken) =>
        {
            var error = parseResult.InvocationConfiguration.Error;
            try
            {
                var settings = Adapter.AdapterConfig.Load(parseResult.GetRequiredValue(config));
                var key = File.ReadAllText(settings.KeyFile).Trim();
                using var client = LoyaltyClient.Create(settings.Server, key, TimeSpan.FromSeconds(30));
                var adapter = new Adapter.StoreAdapter(settings, client);
                if (parseResult.GetValue(once))
                {
                    var state = await adapter.PassAsync(cancellationToken, exportNow: true);
                    WriteAdapterState(new Output(parseResult.InvocationConfiguration.Output, json: false), state);
                    return state.LinkUp ? ExitCodes.Success : ExitCodes.For(StatusCode.Unavailable);
                }
                await adapter.RunAsync(cancellationToken);
                return ExitCodes.Success;
            }
            catch (Exception failure) when (failure is CommandLineInputException or IOException or UnauthorizedAccessException)
            {
                await error.WriteLineAsync($"error: {StatusCode.InvalidArgument.ToWireName()}: {OneLine(failure.Message)}");
                return ExitCodes.InvalidInput;
            }
        });
        var statusConfig = new Option<string>("--config") { Description = "The adapter's JSON configuration.", Required = true };
        var status = new Command("status", "Show the adapter's last export, waiting and uploaded reports, and whether the link to the server is up.") { statusConfig };
        status.SetAction(async (parseResult, cancellationToken) =>
        {
            try
            {
                var settings = Adapter.AdapterConfig.Load(parseResult.GetRequiredValue(statusConfig));
                var state = Adapter.StoreAdapter.ReadState(settings);
                if (state is null)
                {
                    await parseResult.InvocationConfiguration.Output.WriteLineAsync("The adapter has not run yet.");
                    return ExitCodes.Success;
                }
                WriteAdapterState(new Output(parseResult.InvocationConfiguration.Output, json: false), state);
                return ExitCodes.Success;
            }
            catch (CommandLineInputException failure)
            {
                await parseResult.InvocationConfiguration.Error.WriteLineAsync($"error: {StatusCode.InvalidArgument.ToWireName()}: {OneLine(failure.Message)}");
                return ExitCodes.InvalidInput;
            }
        });
        return new Command("adapter", "The store adapter: register exchange folders ↔ the loyalty server.") { run, status };
    }

    private static void WriteAdapterState(Output output, Adapter.AdapterState state) =>
        output.KeyValues(
            ("link", state.LinkUp ? "up" : "DOWN"),
            ("last export", state.LastExportAt?.ToString("u", CultureInfo.InvariantCulture) ?? "never"),
            ("cards exported", Output.Number(state.LastExportCards)),
            ("cards as of", state.CardsAsOf?.ToString("u", CultureInfo.InvariantCulture) ?? ""),
            ("reports waiting", Output.Number(state.QueuedReports)),
            ("reports uploaded", Output.Number(state.UploadedReports)),
            ("reports moved aside", Output.Number(state.BrokenReports)),
            ("last error", state.LastError ?? ""));

    private static void WriteShift(Output output, ShiftReconciliation shift)
    {
        output.KeyValues(("shift", $"{shift.StoreId}/{shift.RegisterId}/{shift.ShiftNumber}"), ("status", Output.Words(shift.Status)),
            ("reconciled", shift.ReconciledAt?.ToDateTimeOffset().ToString("u", CultureInfo.InvariantCulture) ?? ""), ("holds voided", Output.Number(shift.HoldsVoided)));
        output.Table(["outcome", "receipts"], shift.Receipts.GroupBy(r => r.Outcome).OrderBy(g => g.Key)
            .Select(g => (IReadOnlyList<string>)[Output.Words(g.Key), Output.Number(g.Count())]), "receipts");
        output.Table(["receipt", "outcome", "card", "online", "report", "bonuses (report)", "redeemed", "accrued", "note"], shift.Receipts.Select(r => (IReadOnlyList<string>)
            [Output.Number(r.ReceiptNumber), Output.Words(r.Outcome), r.CardNumber, Money.Format(r.OnlineTotal), Money.Format(r.ReportTotal),
             Money.Format(r.ReportRedeemed), Money.Format(r.AppliedRedeemed), Money.Format(r.AppliedAccrued), r.Note]),
            "online", "report", "bonuses (report)", "redeemed", "accrued");
    }
}

/// <summary>A register's sales report, read by a format's reader, as the Exchange service takes it.</summary>
public static class ReportConversion
{
    /// <param name="category">Sent as every line's category: the report formats carry none.</param>
    public static Protos.V1.ShiftReport ToWire(ShiftReport report, string category)
    {
        var wire = new Protos.V1.ShiftReport
        {
            StoreId = report.StoreId, RegisterId = report.RegisterId, ShiftNumber = report.ShiftNumber,
            // The files carry the register's local clock without a zone; it is sent as written.
            ClosedAt = Timestamp.FromDateTime(DateTime.SpecifyKind(report.ClosedAtLocal, DateTimeKind.Utc)),
            ZReportPresent = report.HasZRecord,
            SourceFormat = report.SourceFormat.ToString().ToLowerInvariant(),
            Digest = report.Sha256,
        };
        foreach (var receipt in report.Receipts)
        {
            var discounts = LineBonuses(receipt);
            var reported = new ReportedReceipt
            {
                ReceiptNumber = receipt.Number,
                Kind = receipt.Kind switch { ReceiptKind.Return => ReportedReceiptKind.Return, ReceiptKind.Cancelled => ReportedReceiptKind.Cancelled, _ => ReportedReceiptKind.Sale },
                CardNumber = receipt.CardNumber ?? "",
            };
            for (var i = 0; i < receipt.Lines.Count; i++)
            {
                var line = receipt.Lines[i];
                reported.Lines.Add(new ReportedLine
                {
                    Sku = line.Sku, Category = category, Name = line.Name, QuantityMilli = line.QuantityMilli,
                    Price = line.PriceKopecks, Amount = line.AmountKopecks, BonusDiscount = discounts[i],
                });
            }
            // A return names its sale by the register's POS number; only this register's own sales can be named by our ids.
            if (receipt.ReturnOf is { } original && original.RegisterNumber == report.RegisterNumber)
                reported.Original = new ReceiptRef { StoreId = report.StoreId, RegisterId = report.RegisterId, ShiftNumber = original.ShiftNumber, ReceiptNumber = original.ReceiptNumber };
            wire.Receipts.Add(reported);
        }
        return wire;
    }

    /// <summary>
    /// Bonuses per line: the register's line discounts, plus bonuses paid as a payment type (field
    /// cases C3) spread over the lines in proportion to what is left of each, the kopecks left by
    /// rounding going to the earliest lines with room. Sums exactly to the receipt's bonuses.
    /// </summary>
    public static long[] LineBonuses(ReportReceipt receipt)
    {
        var discounts = receipt.Lines.Select(l => l.BonusDiscountKopecks).ToArray();
        var paid = receipt.Payments.Where(p => p.IsBonus).Sum(p => p.AmountKopecks);
        var extra = BonusSpread.Proportional([.. receipt.Lines.Select((l, i) => l.AmountKopecks - discounts[i])], paid);
        return [.. discounts.Select((d, i) => d + extra[i])];
    }
}
