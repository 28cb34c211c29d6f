using Loyalty.PosAdapter.Client;
using Loyalty.PosAdapter.Fiscal;
using Loyalty.Protos;
using Loyalty.Protos.V1;

namespace Loyalty.PosAdapter.Office;

/// <summary>Settings of <c>./loyalty office run</c>: the loyalty server, the office register it prints for, the ATOL web server.</summary>
public sealed record OfficeAdapterOptions
{
    public required string StoreId { get; init; }
    public required string RegisterId { get; init; }
    /// <summary>The ATOL driver (web server address, journal directory, polling).</summary>
    public required AtolDriverOptions Printer { get; init; }
    /// <summary>Wait before opening the feed again after the server went away or refused it.</summary>
    public TimeSpan ReconnectDelay { get; init; } = TimeSpan.FromSeconds(2);
    /// <summary>Between two tries of a job that waits for a person (paper, cover, blocked queue) or whose outcome is not known yet.</summary>
    public TimeSpan RetryInterval { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>Attempts of one result report through a server outage before the job is left for the next feed (which hands it out again).</summary>
    public int ReportAttempts { get; init; } = 5;
    /// <summary>
    /// Result reports on their way while the next receipt prints. Reporting off the printer's path
    /// keeps the server's round trip out of the register's cycle; past this bound printing waits.
    /// </summary>
    public int MaxReportsInFlight { get; init; } = 8;
}

/// <summary>
/// What the adapter did with one job (for the log and the tests). <paramref name="Refused"/> is the
/// server's refusal of the result ("code: sentence"), when it refused rather than went away: the
/// register's document stands, so a person must reconcile it with the job.
/// </summary>
public sealed record OfficeJobOutcome(string JobId, FiscalOutcome Fiscal, PrintJob? Reported, string? Refused = null);

/// <summary>
/// The office register's adapter (issue 13 point 4): takes the register's print jobs from the
/// server's feed, prints each on the ATOL register in order through <see cref="AtolFiscalDriver"/>
/// and reports the result.
/// <para>Exactly once across a killed adapter: the job's document key is <c>job/&lt;job id&gt;</c>, and
/// the driver journals (fsync) the document before anything is sent. After a restart the server
/// hands out again every job it has no result for; for a job the journal knows, the driver returns
/// or resumes that document (asking the printer what became of it) and never prints it anew. Result
/// reports are idempotent on the server, so a report lost with the connection is simply sent again.</para>
/// <para>A job waiting for a person for a reason that stops the whole register (paper, cover, printer,
/// blocked queue, shift) is reported as needs attention and tried again every
/// <see cref="OfficeAdapterOptions.RetryInterval"/> before the next job, so receipts stay in order; a
/// job that needs checking by hand (unreconciled, too many attempts) is reported and passed.</para>
/// </summary>
public sealed class OfficeAdapter : IAsyncDisposable
{
    private static readonly HashSet<AttentionReason> RegisterWide =
        [AttentionReason.PaperOut, AttentionReason.CoverOpen, AttentionReason.PrinterFault, AttentionReason.QueueBlocked, AttentionReason.ShiftFailed, AttentionReason.ShiftExpired];

    private readonly OfficeAdapterOptions _options;
    private readonly LoyaltyClient _server;
    private readonly AtolFiscalDriver _printer;

    private OfficeAdapter(OfficeAdapterOptions options, LoyaltyClient server, AtolFiscalDriver printer)
    {
        _options = options;
        _server = server;
        _printer = printer;
    }

    /// <summary>Opens the journal (an <see cref="IOException"/> when another adapter has it). The client stays the caller's.</summary>
    public static OfficeAdapter Open(OfficeAdapterOptions options, LoyaltyClient server, HttpMessageHandler? printerHandler = null) =>
        new(options, server, AtolFiscalDriver.Open(options.Printer, printerHandler));

    /// <summary>The driver, for status and tests.</summary>
    public AtolFiscalDriver Printer => _printer;

    /// <summary>Called after each job is handled (tests and the log).</summary>
    public Action<OfficeJobOutcome>? JobHandled { get; set; }

    /// <summary>Called when the feed is lost and the adapter is about to connect again (the log).</summary>
    public Action<string>? FeedLost { get; set; }

    /// <summary>Runs until cancelled: the feed, reconnecting after outages; ABORTED (another adapter took the register over) ends it.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        if (_options.MaxReportsInFlight < 1) throw new ArgumentException("MaxReportsInFlight must be at least 1.");
        while (!cancellationToken.IsCancellationRequested)
        {
            var reports = new List<Task>();
            try
            {
                await foreach (var task in _server.ReceivePrintJobsAsync(_options.StoreId, _options.RegisterId, cancellationToken: cancellationToken))
                {
                    var outcome = await PrintAsync(task, cancellationToken);
                    reports.RemoveAll(r => r.IsCompleted);
                    if (reports.Count >= _options.MaxReportsInFlight) await Task.WhenAny(reports);
                    reports.Add(FinishAsync(task.JobId, outcome, cancellationToken));
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested) { return; }
            catch (RpcException aborted) when (aborted.StatusCode == StatusCode.Aborted) { throw; }
            catch (RpcException error) when (error.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Internal or StatusCode.Cancelled or StatusCode.ResourceExhausted)
            {
                if (cancellationToken.IsCancellationRequested) return;
                FeedLost?.Invoke($"The server's feed was lost ({error.StatusCode.ToWireName()}: {error.Message}); connecting again in {_options.ReconnectDelay.TotalSeconds:0.#} s.");
            }
            finally
            {
                // Reports never fault (FinishAsync keeps their failures); a report lost here is sent again for the job the next feed hands out.
                await Task.WhenAll(reports);
            }
            await Task.Delay(_options.ReconnectDelay, cancellationToken).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    /// <summary>Prints (or resumes) one job and reports its outcome; returns when the job is final or passed to a person.</summary>
    public async Task<OfficeJobOutcome> HandleAsync(PrintJobTask task, CancellationToken cancellationToken) =>
        await FinishAsync(task.JobId, await PrintAsync(task, cancellationToken), cancellationToken);

    /// <summary>
    /// Prints (or resumes) one job until it is final or passed to a person. While the register waits
    /// for a person, the job is reported as needs attention and tried again every
    /// <see cref="OfficeAdapterOptions.RetryInterval"/>; an outcome not known yet is asked again.
    /// </summary>
    private async Task<FiscalOutcome> PrintAsync(PrintJobTask task, CancellationToken cancellationToken)
    {
        var key = DocumentKey(task.JobId);
        FiscalOutcome outcome;
        try
        {
            outcome = task.Copy is { } copy
                ? await PrintCopyAsync(task, copy, cancellationToken)
                : await _printer.PrintAsync(ToFiscalReceipt(task), cancellationToken);
        }
        catch (Exception refused) when (refused is FiscalReceiptException or InvalidOperationException)
        {
            // Refused before anything was journalled or sent: it never prints, so the hold goes back.
            outcome = new FiscalOutcome(key, FiscalState.Failed, null, $"The receipt cannot be printed: {refused.Message}");
        }
        var lastReported = "";
        while (outcome.State is FiscalState.Pending || (outcome.State == FiscalState.NeedsAttention && RegisterWide.Contains(outcome.Attention)))
        {
            if (outcome.State == FiscalState.NeedsAttention && outcome.Message != lastReported)
            {
                await ReportAsync(task.JobId, outcome, cancellationToken);
                lastReported = outcome.Message;
            }
            await Task.Delay(_options.RetryInterval, cancellationToken);
            outcome = task.Copy is { } again ? await PrintCopyAsync(task, again, cancellationToken) : await _printer.ResumeAsync(key, cancellationToken);
        }
        return outcome;
    }

    /// <summary>A copy of a printed receipt: its lines and totals as text, then its QR code; done carries the original's fiscal data.</summary>
    private async Task<FiscalOutcome> PrintCopyAsync(PrintJobTask task, ReceiptCopy copy, CancellationToken cancellationToken)
    {
        var receipt = ToFiscalReceipt(task);
        var lines = new List<string>();
        foreach (var line in receipt.Lines)
        {
            lines.Add($"{line.Name} {line.QuantityMilli / 1000m:0.###} x {Money.Format(line.PriceKopecks)} = {Money.Format(line.AmountAfterDiscountKopecks)}");
            if (line.BonusDiscountKopecks > 0) lines.Add($"  Скидка (бонусы) {Money.Format(line.BonusDiscountKopecks)}");
        }
        lines.Add($"ИТОГ {Money.Format(copy.Total)}");
        lines.Add($"ФН {copy.FnNumber} ФД {copy.FiscalDocumentNumber} ФП {copy.FiscalSign}");
        lines.Add($"Смена {copy.ShiftNumber} чек {copy.FiscalReceiptNumber} {copy.DocumentDateTime}");
        var printed = await _printer.PrintCopyAsync(DocumentKey(task.JobId), lines, copy.QrCode, cancellationToken);
        if (printed.State != FiscalState.Printed) return printed;
        var original = new FiscalData(copy.FiscalDocumentNumber, copy.FiscalSign, copy.FnNumber, (int)copy.ShiftNumber, (int)copy.FiscalReceiptNumber,
            DateTimeOffset.Parse(copy.DocumentDateTime, System.Globalization.CultureInfo.InvariantCulture), copy.Total, "", "");
        return printed with { Fiscal = original, QrCode = copy.QrCode, Message = $"A copy of FD {copy.FiscalDocumentNumber} was printed." };
    }

    /// <summary>Reports a final (or hand-checked) outcome; a refusal or an outage leaves it for the next feed and never faults.</summary>
    private async Task<OfficeJobOutcome> FinishAsync(string jobId, FiscalOutcome outcome, CancellationToken cancellationToken)
    {
        PrintJob? reported = null;
        string? refused = null;
        try { reported = await ReportAsync(jobId, outcome, cancellationToken); }
        // The server refused the result (the job was reported otherwise meanwhile, or contradicts it):
        // the register's document stands, so say so loudly; the job stays as the server has it.
        catch (RpcException refusal) { refused = $"{refusal.StatusCode.ToWireName()}: {refusal.Message}"; }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested) { }
        var handled = new OfficeJobOutcome(jobId, outcome, reported, refused);
        JobHandled?.Invoke(handled);
        return handled;
    }

    /// <summary>The journal key of a job's fiscal document.</summary>
    public static string DocumentKey(string jobId) => $"job/{jobId}";

    /// <summary>Reports with retries through a short outage; null when the server stayed away (the next feed hands the job out again and the journal answers at once).</summary>
    private async Task<PrintJob?> ReportAsync(string jobId, FiscalOutcome outcome, CancellationToken cancellationToken)
    {
        var request = ToReport(jobId, outcome);
        for (var attempt = 1; ; attempt++)
        {
            try { return await _server.ReportPrintResultAsync(request, cancellationToken: cancellationToken); }
            catch (RpcException error) when (RetryPolicy.IsRetryable(error.StatusCode) || RetryPolicy.IsBusy(error.StatusCode))
            {
                if (attempt >= _options.ReportAttempts) return null;
                await Task.Delay(_options.ReconnectDelay, cancellationToken);
            }
        }
    }

    /// <summary>The result report of a driver outcome: the fiscal data and QR string when printed; the notes (why no OFD copy, an INN left out) in the message.</summary>
    public static ReportPrintResultRequest ToReport(string jobId, FiscalOutcome outcome)
    {
        var notes = outcome.Notes is { Count: > 0 } n ? " " + string.Join(" ", n) : "";
        var request = new ReportPrintResultRequest
        {
            JobId = jobId,
            Outcome = outcome.State switch
            {
                FiscalState.Printed => PrintOutcome.Done,
                FiscalState.Failed => PrintOutcome.Failed,
                _ => PrintOutcome.NeedsAttention,
            },
            Message = (outcome.Message + notes).Trim(),
            ContactUsed = outcome.ContactUsed ?? "",
        };
        if (outcome.State == FiscalState.Printed && outcome.Fiscal is { } f)
        {
            request.FiscalDocumentNumber = f.FiscalDocumentNumber;
            request.FiscalSign = f.FiscalSign;
            request.FnNumber = f.FnNumber;
            request.ShiftNumber = f.ShiftNumber;
            request.FiscalReceiptNumber = f.ReceiptNumber;
            request.DocumentDateTime = f.DocumentDateTime.ToString("yyyy-MM-dd'T'HH:mm:sszzz", System.Globalization.CultureInfo.InvariantCulture);
            request.Total = f.TotalKopecks;
            request.QrCode = outcome.QrCode ?? FnsQrCode.Build(f, FiscalOperation.Sell);
            request.RegistrationNumber = f.RegistrationNumber;
        }
        return request;
    }

    /// <summary>
    /// A job as the fiscal receipt the driver prints: lines with their bonus discounts, money
    /// payments, the buyer for tag 1008. The job's line amounts are after bonus discounts
    /// (fiscal.proto), the driver's <see cref="FiscalLine"/> takes the amount before and the discount.
    /// </summary>
    public static FiscalReceipt ToFiscalReceipt(PrintJobTask task)
    {
        var details = task.Lines.ToDictionary(l => l.Sku, StringComparer.Ordinal);
        var lines = task.Receipt.Lines.Select(l =>
        {
            details.TryGetValue(l.Sku, out var d);
            var discount = d?.BonusDiscount ?? 0;
            return new FiscalLine(string.IsNullOrWhiteSpace(l.Name) ? l.Sku : l.Name, l.QuantityMilli, l.Price, l.Amount + discount, discount, ToVat(d?.Vat ?? VatRateKind.None));
        }).ToList();
        FiscalCustomer? customer = task.Customer is { } c
            ? new FiscalCustomer(NullIfEmpty(c.Name), NullIfEmpty(c.Inn), NullIfEmpty(c.Email),
                c.DeliveryAddress is { } a ? new DeliveryAddress(NullIfEmpty(a.OfdContact), [.. a.Phones]) : null)
            : null;
        return new FiscalReceipt
        {
            ReceiptKey = DocumentKey(task.JobId),
            Lines = lines,
            Payments = [.. task.Payments.Select(p => new FiscalPayment(p.Type switch
            {
                FiscalPaymentKind.Cash => FiscalPaymentType.Cash,
                FiscalPaymentKind.Card => FiscalPaymentType.Electronically,
                FiscalPaymentKind.Prepaid => FiscalPaymentType.Prepaid,
                _ => FiscalPaymentType.Credit,
            }, p.Amount))],
            Customer = customer,
            ElectronicOnly = task.ElectronicOnly,
        };
    }

    private static VatRate ToVat(VatRateKind vat) => vat switch
    {
        VatRateKind.Vat0 => VatRate.Vat0,
        VatRateKind.Vat5 => VatRate.Vat5,
        VatRateKind.Vat7 => VatRate.Vat7,
        VatRateKind.Vat10 => VatRate.Vat10,
        VatRateKind.Vat20 => VatRate.Vat20,
        VatRateKind.Vat22 => VatRate.Vat22,
        _ => VatRate.None,
    };

    private static string? NullIfEmpty(string? text) => string.IsNullOrEmpty(text) ? null : text;

    public ValueTask DisposeAsync() => _printer.DisposeAsync();
}
