using System.CommandLine;
using System.Globalization;
using Loyalty.PosAdapter.Client;
using Loyalty.PosAdapter.Fiscal;
using Loyalty.PosAdapter.Office;
using Loyalty.Protos.V1;

namespace Loyalty.PosAdapter.Cli;

/// <summary>Fiscal printing through an office register (issue 13): drivers' commands and the office adapter.</summary>
public static partial class LoyaltyCommandLine
{
    /// <summary>Between two reads of a job while <c>fiscal print --wait</c> waits for it.</summary>
    private static readonly TimeSpan WaitPollInterval = TimeSpan.FromMilliseconds(500);

    private static Command BuildFiscalCommand(GlobalOptions globals)
    {
        var file = new Argument<string>("file") { Description = "The sale as a SubmitReceiptRequest in protobuf JSON (protos/loyalty/v1/fiscal.proto; amounts in kopecks), see README 'Office register'." };
        var wait = new Option<bool>("--wait")
        {
            Description = "Wait until the job is done, failed or needs attention, then print it. It returns at the first needs_attention " +
                $"(the office register waits for a person) with exit code {ExitCodes.NeedsAttention}: the office adapter keeps retrying a job waiting for " +
                $"paper, cover or shift, so it may still print; follow it with 'fiscal status JOB'. Done exits 0, failed {ExitCodes.Refused}.",
        };
        var print = new Command("print", "Submit a sale to an office register's print queue; prints the job. The same operation_id again answers the same job.") { file, wait };
        SetClientAction(print, globals, async (parseResult, session, cancellationToken) =>
        {
            var request = await ProtobufJsonFile.ReadAsync<SubmitReceiptRequest>(parseResult.GetRequiredValue(file), cancellationToken);
            var job = await RetryPolicy.Default.ExecuteAsync(request, (r, token) => session.Client.SubmitReceiptAsync(r, null, token), cancellationToken);
            if (parseResult.GetValue(wait) && job.State is PrintJobState.Queued or PrintJobState.Printing)
                await session.Error.WriteLineAsync($"Job {job.JobId} is stored on the server; waiting for the office register.");
            while (parseResult.GetValue(wait) && job.State is PrintJobState.Queued or PrintJobState.Printing)
            {
                await Task.Delay(WaitPollInterval, cancellationToken);
                try
                {
                    job = await RetryPolicy.Default.ExecuteAsync(job.JobId, (id, token) => session.Client.GetPrintJobAsync(id, null, token), cancellationToken);
                }
                catch (RpcException lost)
                {
                    // The sale is stored and will print whatever happens to this wait; say so, not "nothing was sent".
                    throw new RpcException(lost.StatusCode, $"Job {job.JobId} is stored and queued, but following it failed: {lost.Message} Follow it with 'fiscal status {job.JobId}'.", lost);
                }
            }
            session.Output.Reply(job, () => WritePrintJob(session.Output, job));
            return ExitCodes.ForPrintJob(job.State);
        });

        var jobId = new Argument<string>("job") { Description = "The job id (pj_…)." };
        var status = new Command("status", "Show a print job: its state, fiscal data, contact used, bonuses and link.") { jobId };
        SetClientAction(status, globals, async (parseResult, session, cancellationToken) =>
        {
            var job = await RetryPolicy.Default.ExecuteAsync(parseResult.GetRequiredValue(jobId), (id, token) => session.Client.GetPrintJobAsync(id, null, token), cancellationToken);
            session.Output.Reply(job, () => WritePrintJob(session.Output, job));
            return ExitCodes.Success;
        });

        var resendJob = new Argument<string>("job") { Description = "The job id (pj_…)." };
        var channel = new Option<string>("--by") { Description = "sms or email.", Required = true };
        var to = new Option<string?>("--to") { Description = "A phone (+7…) or e-mail; default: the job's own contact." };
        var resend = new Command("resend", "Send a printed receipt's link again by SMS or e-mail.") { resendJob, channel, to };
        SetClientAction(resend, globals, async (parseResult, session, cancellationToken) =>
        {
            var by = parseResult.GetRequiredValue(channel) switch
            {
                "sms" => ResendChannel.Sms,
                "email" => ResendChannel.Email,
                var other => throw new CommandLineInputException($"--by '{other}' is not sms or email."),
            };
            var job = await session.Client.ResendReceiptAsync(new ResendReceiptRequest { JobId = parseResult.GetRequiredValue(resendJob), Channel = by, Contact = parseResult.GetValue(to) ?? "" }, cancellationToken: cancellationToken);
            session.Output.Reply(job, () => WritePrintJob(session.Output, job));
            return ExitCodes.Success;
        });

        var reprintJob = new Argument<string>("job") { Description = "The printed job (pj_…) whose receipt to copy." };
        var reprintOperation = new Option<string?>("--operation-id") { Description = "The copy's operation id, to repeat the command safely (default: a new one)." };
        var reprint = new Command("reprint", "Print a paper copy of a printed receipt on its office register (a non-fiscal document headed КОПИЯ with the same fiscal data and QR code).")
            { reprintJob, reprintOperation };
        SetClientAction(reprint, globals, async (parseResult, session, cancellationToken) =>
        {
            var request = new ReprintReceiptRequest { JobId = parseResult.GetRequiredValue(reprintJob), OperationId = parseResult.GetValue(reprintOperation) ?? $"reprint-{Guid.NewGuid():N}" };
            var job = await RetryPolicy.Default.ExecuteAsync(request, (r, token) => session.Client.ReprintReceiptAsync(r, null, token), cancellationToken);
            session.Output.Reply(job, () => WritePrintJob(session.Output, job));
            return ExitCodes.Success;
        });

        var mode = new Option<string>("--mode") { Description = "paper or electronic (mode 3: no paper unless a sale asks for it).", Required = true };
        var keyId = new Option<string?>("--key-id") { Description = "Another key's id (admin keys only); default: the calling key." };
        var driverMode = new Command("mode", "Set a driver's receipts to paper or electronic (mode 3) by default.") { mode, keyId };
        SetClientAction(driverMode, globals, async (parseResult, session, cancellationToken) =>
        {
            var electronic = parseResult.GetRequiredValue(mode) switch
            {
                "paper" => false,
                "electronic" => true,
                var other => throw new CommandLineInputException($"--mode '{other}' is not paper or electronic."),
            };
            var reply = await session.Client.SetDriverModeAsync(new SetDriverModeRequest { KeyId = parseResult.GetValue(keyId) ?? "", ElectronicOnly = electronic }, cancellationToken: cancellationToken);
            session.Output.Reply(reply, () => session.Output.KeyValues(("key", reply.KeyId), ("receipts", reply.ElectronicOnly ? "electronic (mode 3)" : "paper")));
            return ExitCodes.Success;
        });

        return new Command("fiscal", "Fiscal receipts printed by an office register: submit, follow, reprint, resend, a driver's mode.") { print, status, reprint, resend, driverMode };
    }

    private static void WritePrintJob(Output output, PrintJob job) => output.KeyValues(
        ("job", job.JobId),
        ("state", Output.Words(job.State)),
        ("office register", $"{job.StoreId}/{job.OfficeRegisterId} #{job.Sequence}"),
        ("operation", job.OperationId),
        ("FD", job.FiscalDocumentNumber == 0 ? "" : Output.Number(job.FiscalDocumentNumber)),
        ("FP", job.FiscalSign),
        ("FN", job.FnNumber),
        ("date-time", job.DocumentDateTime),
        ("total", job.Total == 0 ? "" : Money.Format(job.Total)),
        ("contact (1008)", job.ContactUsed),
        ("QR", job.QrCode),
        ("link", job.ReceiptUrl),
        ("delivery", Output.Words(job.Delivery)),
        ("bonuses", job.Bonuses),
        ("notice", job.Notice),
        ("copy of", job.ReprintOf),
        ("message", job.Message));

    private static Command BuildOfficeCommand(GlobalOptions globals)
    {
        var atol = new Option<string>("--atol") { Description = "The ATOL web server, e.g. http://127.0.0.1:16732/.", Required = true };
        var store = new Option<string>("--store") { Description = "The office's store id.", Required = true };
        var register = new Option<string>("--register") { Description = "The office register's id (what drivers name as office_register_id).", Required = true };
        var dataDir = new Option<string>("--data-dir")
        {
            Description = $"Where the fiscal journal lives, which keeps a restarted adapter from printing a receipt twice (default: ${CliSession.DataDirectoryVariable}/office-<store>-<register>, " +
                $"./{CliSession.DefaultDataDirectory}/office-<store>-<register> when the variable is not set). Every run for one register must use the same.",
        };
        var atolUser = new Option<string?>("--atol-user") { Description = "The web server's user, if it asks for one." };
        var atolPassword = new Option<string?>("--atol-password") { Description = "Its password." };
        var run = new Command("run", "Run the office adapter: print the register's queue on the ATOL register in order and report the results. Ctrl+C stops it; a restart carries on without printing anything twice.")
            { atol, store, register, dataDir, atolUser, atolPassword };
        SetClientAction(run, globals, async (parseResult, session, cancellationToken) =>
        {
            var options = OfficeOptions(parseResult, atol, store, register, dataDir);
            options = options with { Printer = options.Printer with { UserName = parseResult.GetValue(atolUser), Password = parseResult.GetValue(atolPassword) } };
            await using var adapter = OfficeAdapter.Open(options, session.Client);
            var log = session.Output.Writer;
            adapter.JobHandled = handled =>
            {
                var reported = handled.Refused is { } refused ? $" RESULT REFUSED BY THE SERVER ({refused}): the register's document stands; reconcile it with the job by hand."
                    : handled.Reported is null ? " (not reported yet: the server is away)" : "";
                log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{DateTimeOffset.Now:HH:mm:ss} {handled.JobId} {Output.Words(handled.Fiscal.State)} FD {handled.Fiscal.Fiscal?.FiscalDocumentNumber} {handled.Fiscal.Message}{reported}"));
            };
            adapter.FeedLost = notice => log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{DateTimeOffset.Now:HH:mm:ss} {notice}"));
            // The journal's absolute path and whether it is new: a journal that is new by mistake (another directory) is how a receipt gets printed twice.
            var documents = adapter.Printer.Journal.Entries.Select(e => e.DocumentKey).Distinct().Count();
            await log.WriteLineAsync($"Office adapter for {options.StoreId}/{options.RegisterId} on {options.Printer.BaseAddress}; journal {adapter.Printer.Journal.Path} " +
                (documents == 0 ? "(new: no document in it yet)." : $"({Output.Number(documents)} document{(documents == 1 ? "" : "s")} in it)."));
            try { await adapter.RunAsync(cancellationToken); }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested) { }
            return ExitCodes.Success;
        });

        var statusStore = new Option<string>("--store") { Description = "The office's store id.", Required = true };
        var statusRegister = new Option<string>("--register") { Description = "The office register's id.", Required = true };
        var statusDir = new Option<string>("--data-dir") { Description = "The adapter's data directory (default as for run)." };
        var status = new Command("status", "Show the office adapter's journal: documents printed, failed, waiting for a person or pending. Reads the journal only (stop the adapter first).")
            { statusStore, statusRegister, statusDir };
        status.SetAction(async (parseResult, cancellationToken) =>
        {
            var output = new Output(parseResult.InvocationConfiguration.Output, json: false);
            var directory = Path.GetFullPath(parseResult.GetValue(statusDir) ?? DefaultOfficeDirectory(parseResult.GetRequiredValue(statusStore), parseResult.GetRequiredValue(statusRegister)));
            if (!File.Exists(Path.Combine(directory, FiscalJournal.FileName)))
            {
                await parseResult.InvocationConfiguration.Output.WriteLineAsync($"No journal in {directory}: the adapter has not run there.");
                return ExitCodes.Success;
            }
            try
            {
                await using var driver = AtolFiscalDriver.Open(new AtolDriverOptions { BaseAddress = new Uri("http://127.0.0.1:16732/"), DataDirectory = directory });
                var outcomes = driver.Journal.Entries.Select(e => e.DocumentKey).Distinct().Select(k => driver.Find(k)!).ToList();
                output.KeyValues(("journal", driver.Journal.Path), ("documents", Output.Number(outcomes.Count)));
                output.Table(["state", "documents"], outcomes.GroupBy(o => o.State).OrderBy(g => g.Key).Select(g => (IReadOnlyList<string>)[Output.Words(g.Key), Output.Number(g.Count())]), "documents");
                var open = outcomes.Where(o => o.State != FiscalState.Printed).ToList();
                if (open.Count > 0)
                    output.Table(["document", "state", "message"], open.Select(o => (IReadOnlyList<string>)[o.DocumentKey, Output.Words(o.State), o.Message]));
                return ExitCodes.Success;
            }
            catch (IOException busy)
            {
                await parseResult.InvocationConfiguration.Error.WriteLineAsync($"error: {StatusCode.FailedPrecondition.ToWireName()}: {OneLine(busy.Message)}");
                return ExitCodes.For(StatusCode.FailedPrecondition);
            }
        });
        var displayStore = new Option<string>("--store") { Description = "The office's store id.", Required = true };
        var displayRegister = new Option<string>("--register") { Description = "The office register's id.", Required = true };
        var rotate = new Option<bool>("--rotate") { Description = "Make a new link; the old one stops working (a display lost or replaced)." };
        var display = new Command("display", "Show the customer display's link of the office register: the page the display polls for the last receipt's QR code (GET it; /qr.png and /qr.svg for the image).")
            { displayStore, displayRegister, rotate };
        SetClientAction(display, globals, async (parseResult, session, cancellationToken) =>
        {
            var link = await session.Client.GetDisplayLinkAsync(new GetDisplayLinkRequest
            {
                StoreId = parseResult.GetRequiredValue(displayStore), OfficeRegisterId = parseResult.GetRequiredValue(displayRegister), Rotate = parseResult.GetValue(rotate),
            }, cancellationToken: cancellationToken);
            session.Output.Reply(link, () => session.Output.KeyValues(
                ("office register", $"{link.StoreId}/{link.OfficeRegisterId}"), ("path", link.Path),
                ("url", link.Url.Length > 0 ? link.Url : "(set LOYALTY_RECEIPT_BASE_URL on the server; the path is on its HTTP port)")));
            return ExitCodes.Success;
        });
        return new Command("office", "The office register's adapter: prints the drivers' receipts (issue 13).") { run, status, display };
    }

    private static string DefaultOfficeDirectory(string store, string register) =>
        Path.Combine(CliSession.DataDirectory, $"office-{store}-{register}");

    private static OfficeAdapterOptions OfficeOptions(ParseResult parseResult, Option<string> atol, Option<string> store, Option<string> register, Option<string> dataDir)
    {
        var address = parseResult.GetRequiredValue(atol);
        if (!Uri.TryCreate(address, UriKind.Absolute, out var atolUri) || atolUri.Scheme is not ("http" or "https"))
            throw new CommandLineInputException($"--atol '{address}' is not an http:// or https:// address.");
        var storeId = parseResult.GetRequiredValue(store);
        var registerId = parseResult.GetRequiredValue(register);
        return new OfficeAdapterOptions
        {
            StoreId = storeId,
            RegisterId = registerId,
            Printer = new AtolDriverOptions
            {
                BaseAddress = atolUri,
                DataDirectory = Path.GetFullPath(parseResult.GetValue(dataDir) ?? DefaultOfficeDirectory(storeId, registerId)),
            },
        };
    }
}
