using System.Security.Cryptography;

namespace Loyalty.Grains.Domain;

/// <summary>Where a print job of an office register stands (issue 13 point 4).</summary>
public enum PrintJobState
{
    /// <summary>Stored, not handed to the office adapter yet.</summary>
    Queued,
    /// <summary>Handed to the office adapter; no outcome reported yet. Handed out again when the adapter reconnects.</summary>
    Printing,
    /// <summary>Fiscalised; the fiscal data are final and the bonus hold is committed.</summary>
    Done,
    /// <summary>Not fiscalised and never will be; the bonus hold is cancelled.</summary>
    Failed,
    /// <summary>The office must act; the adapter carries on with the job once it can, so it stays open.</summary>
    NeedsAttention,
}

/// <summary>How the customer gets the receipt (seed aemsofts-dematerialized-tickets.txt).</summary>
public enum ReceiptDeliveryKind { Paper, Sms, Email, None }

/// <summary>Money payments of a print job: ATOL cash, electronically (card), prepaid, credit.</summary>
public enum PrintPaymentKind { Cash, Card, Prepaid, Credit }

/// <summary>A line's VAT rate as the office register prints it (ATOL <c>tax.type</c>, tag 1199).</summary>
public enum PrintVat { None, Vat0, Vat5, Vat7, Vat10, Vat20, Vat22 }

/// <summary>A fiscal detail of one receipt line, by SKU: the bonuses on it (kopecks) and its VAT.</summary>
public sealed record PrintLineDetail(string Sku, long BonusDiscountKopecks, PrintVat Vat);

/// <summary>One money payment, kopecks &gt; 0.</summary>
public sealed record PrintPayment(PrintPaymentKind Kind, long AmountKopecks);

/// <summary>The buyer as the driver's app has them (the CRM's fields, unvalidated except the INN's shape by the adapter).</summary>
public sealed record PrintCustomer(string? Name, string? Inn, string? Email, string? OfdContact, IReadOnlyList<string> Phones);

/// <summary>
/// A driver's sale to fiscalise on an office register. <see cref="Receipt"/> is the receipt as the
/// register prints it: each line's amount is after its bonus discount (issue 13 point 4), so the
/// payments add up to <see cref="Receipt"/>'s total. <see cref="Lines"/> give each line's bonus
/// discount and VAT; with a hold, the discounts are the hold's own (bound by <see cref="PrintQueue.BindHold"/>),
/// and <see cref="LoyaltyReceipt"/> (each amount plus its discount) is the receipt the hold was made for. Immutable.
/// </summary>
/// <param name="ElectronicOnly">No paper: delivery SMS, e-mail or none, or the driver's mode 3.</param>
/// <param name="SubmittedBy">The submitting key's id.</param>
/// <param name="ReprintOf">Set for a copy: the done job whose receipt is printed again (non-fiscal, no bonuses).</param>
/// <param name="CopyOf">The copied receipt's fiscal data, printed on the copy.</param>
public sealed record PrintJobRequest(
    string OperationId,
    string OfficeRegisterId,
    Receipt Receipt,
    string? HoldId,
    string? CardNumber,
    IReadOnlyList<PrintLineDetail> Lines,
    IReadOnlyList<PrintPayment> Payments,
    PrintCustomer? Customer,
    ReceiptDeliveryKind Delivery,
    bool ElectronicOnly,
    string SubmittedBy,
    string? ReprintOf = null,
    PrintFiscalData? CopyOf = null)
{
    public string StoreId => Receipt.Ref.StoreId;

    /// <summary>Bonuses printed as line discounts, kopecks.</summary>
    public long BonusKopecks => Lines.Sum(l => l.BonusDiscountKopecks);

    /// <summary>The bonus discount of receipt line <paramref name="sku"/>.</summary>
    public long DiscountOf(string sku) => Lines.FirstOrDefault(l => l.Sku == sku)?.BonusDiscountKopecks ?? 0;

    /// <summary>The receipt as the loyalty server books it: each line's amount before its bonus discount (the printed amount plus the discount); the hold's receipt. A method, so it is not stored with the request.</summary>
    public Receipt LoyaltyReceipt() => Receipt with
    {
        Lines = [.. Receipt.Lines.Select(l => DiscountOf(l.Sku) is var discount and not 0 ? l with { AmountKopecks = l.AmountKopecks + discount } : l)],
    };
}

/// <summary>What the register gave back for a fiscalised job (the office adapter reports it).</summary>
/// <param name="DocumentDateTime">Tag 1012 as the register wrote it (ISO 8601 with its own offset).</param>
/// <param name="QrCode">The FNS check string (protocols.md §2.3), built by the adapter from the same data.</param>
public sealed record PrintFiscalData(
    long FiscalDocumentNumber, string FiscalSign, string FnNumber, long ShiftNumber, long ReceiptNumber,
    string DocumentDateTime, long TotalKopecks, string QrCode, string RegistrationNumber);

/// <summary>The office adapter's outcome of one job.</summary>
public enum PrintOutcomeKind { Done, Failed, NeedsAttention }

/// <summary>A result report: the outcome, a sentence, tag 1008 as sent, and the fiscal data (done only).</summary>
public sealed record PrintReport(string JobId, PrintOutcomeKind Outcome, string Message, string? ContactUsed, PrintFiscalData? Fiscal);

/// <summary>What became of the job's bonuses: nothing to do, waiting for the outcome, booked, given back, or refused by the card (see the job's message).</summary>
public enum BonusSettlement { None, Held, Committed, Cancelled, Refused }

/// <summary>
/// One print job. Immutable. <see cref="Notice"/> says what became of the receipt link sent by SMS or e-mail.: every rule of <see cref="PrintQueue"/> returns a new one.
/// <see cref="ReceiptToken"/> is the receipt page's unguessable link (192 random bits, base64url).
/// </summary>
public sealed record PrintJob(
    string JobId,
    long Sequence,
    PrintJobRequest Request,
    PrintJobState State,
    string Message,
    string? ContactUsed,
    PrintFiscalData? Fiscal,
    BonusSettlement Bonuses,
    string? BonusMessage,
    string ReceiptToken,
    int Deliveries,
    DateTimeOffset SubmittedAt,
    DateTimeOffset UpdatedAt,
    string? Notice = null)
{
    public bool IsFinal => State is PrintJobState.Done or PrintJobState.Failed;

    /// <summary>The bonus step that is still owed: commit after done, cancel after failed, else none.</summary>
    public BonusStep OwedBonusStep => (State, Bonuses) switch
    {
        (PrintJobState.Done, BonusSettlement.Held) => BonusStep.Commit,
        (PrintJobState.Failed, BonusSettlement.Held) => BonusStep.Cancel,
        _ => BonusStep.None,
    };
}

/// <summary>A bonus step the queue's host performs on the card after an outcome.</summary>
public enum BonusStep { None, Commit, Cancel }

/// <summary>
/// The print queue's rules, one place (issue 13 point 4): what a submitted job must satisfy, when a
/// repeated submit is the same job, which jobs the office adapter's feed hands out and in what
/// order, what a result report may change, and which bonus step follows. Pure: no clock, no I/O;
/// the caller (the register's queue host, later PrintQueueGrain) stores what these return.
/// </summary>
public static class PrintQueue
{
    /// <summary>Payment parts of one job.</summary>
    public const int MaxPayments = 16;
    /// <summary>Phones of one delivery address.</summary>
    public const int MaxPhones = 16;
    /// <summary>A report's or a customer field's text, characters.</summary>
    public const int MaxTextLength = 512;
    /// <summary>
    /// Times one receipt's link may be sent again (ResendReceipt), whether the gateway took it or
    /// not: a store's key cannot turn the server into an SMS or mail relay. More is FAILED_PRECONDITION;
    /// a paper copy (ReprintReceipt) is always possible.
    /// </summary>
    public const int MaxResendsPerReceipt = 5;
    /// <summary>
    /// |price × quantity − amount before bonuses| allowed on a line, in thousandths of a kopeck (1 kopeck):
    /// what registers allow for weighed goods (field-cases.md B4; the office adapter's LineSplitter uses the same).
    /// </summary>
    public const long PriceToleranceMilliKopecks = 1000;

    /// <summary>Refuses a request that cannot be printed or booked, with a sentence naming the field (INVALID_ARGUMENT); changes nothing.</summary>
    public static void Validate(PrintJobRequest request)
    {
        Domain.Validate.OperationId(request.OperationId);
        Domain.Validate.Identifier(request.OfficeRegisterId, "office_register_id");
        Domain.Validate.Receipt(request.Receipt);
        var skus = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in request.Lines)
        {
            var receiptLine = request.Receipt.Lines.FirstOrDefault(l => l.Sku == line.Sku)
                ?? throw Domain.Validate.Invalid($"lines: SKU '{line.Sku}' is not a line of receipt {request.Receipt.Ref}.");
            if (!skus.Add(line.Sku)) throw Domain.Validate.Invalid($"lines: SKU '{line.Sku}' appears twice.");
            if (line.BonusDiscountKopecks < 0 || line.BonusDiscountKopecks > Limits.MaxAmountKopecks)
                throw Domain.Validate.Invalid($"lines: the bonus discount of '{line.Sku}' must be between 0 and {Limits.MaxAmountKopecks} kopecks; {line.BonusDiscountKopecks} was given.");
        }

        // A copy prints the original's discounts and books nothing; a sale's discounts come from its hold.
        if (request.BonusKopecks > 0 && string.IsNullOrEmpty(request.HoldId) && request.ReprintOf is null)
            throw Domain.Validate.Invalid("lines carry bonus discounts but no hold_id: hold the bonuses first (Cards.Redeem) and give its hold id.");
        if (!string.IsNullOrEmpty(request.HoldId))
        {
            var holder = Card.CardNumberOfHold(request.HoldId) ?? throw Domain.Validate.Invalid("hold_id is not one this server gave out.");
            if (!string.IsNullOrEmpty(request.CardNumber) && request.CardNumber != holder)
                throw Domain.Validate.Invalid($"card_number {request.CardNumber} is not the card of hold {request.HoldId}.");
        }
        else if (!string.IsNullOrEmpty(request.CardNumber)) Domain.Validate.CardNumber(request.CardNumber);
        if (request.Payments.Count > MaxPayments) throw Domain.Validate.Invalid($"payments: at most {MaxPayments}.");
        foreach (var payment in request.Payments) Domain.Validate.PositiveAmount(payment.AmountKopecks, "payments.amount");
        var money = request.Receipt.TotalKopecks;
        var paid = request.Payments.Sum(p => p.AmountKopecks);
        if (paid != money)
            throw Domain.Validate.Invalid($"payments add up to {paid} kopecks, but the receipt's lines (amounts after bonus discounts) add up to {money} kopecks.");
        if (request.Customer is { } c)
        {
            Domain.Validate.Text(c.Name, "customer.name", required: false);
            Domain.Validate.Text(c.Email, "customer.email", required: false);
            Domain.Validate.Text(c.OfdContact, "customer.delivery_address.ofd_contact", required: false);
            if (c.Inn is { Length: > 0 } inn && !(inn.Length is 10 or 12 && inn.All(char.IsAsciiDigit)))
                throw Domain.Validate.Invalid($"customer.inn '{inn}' must be 10 digits (a company) or 12 (a person).");
            if (c.Phones.Count > MaxPhones) throw Domain.Validate.Invalid($"customer.delivery_address.phones: at most {MaxPhones}.");
            foreach (var phone in c.Phones) Domain.Validate.Text(phone, "customer.delivery_address.phones", required: false);
        }
    }

    /// <summary>
    /// Refuses (INVALID_ARGUMENT, naming the line) a sale the register would refuse once queued: it
    /// prints price × quantity, then the bonus discount, then the amount after it, so each line's
    /// amount before the discount must be price × quantity within a kopeck (weighed goods). Call with
    /// the discounts known: after <see cref="BindHold"/> for a sale with a hold.
    /// </summary>
    public static void RequirePrintable(PrintJobRequest request)
    {
        for (var i = 0; i < request.Receipt.Lines.Count; i++)
        {
            var line = request.Receipt.Lines[i];
            var before = (Int128)line.AmountKopecks + request.DiscountOf(line.Sku);
            if (Int128.Abs((Int128)line.PriceKopecks * line.QuantityMilli - before * 1000) > PriceToleranceMilliKopecks)
                throw Domain.Validate.Invalid($"line {i + 1} of receipt {request.Receipt.Ref} ('{line.Sku}'): price {line.PriceKopecks} × {line.QuantityMilli} thousandths is not its amount before bonuses ({before} kopecks, within 1 kopeck); send the price the customer pays per unit.");
        }
    }

    /// <summary>
    /// Binds a sale to the hold its bonuses were taken by: the printed receipt must be the hold's
    /// receipt line for line (same reference, SKUs in the same order, same category, name, quantity
    /// and price), each amount the hold's amount less the hold's discount on that line, exact to the
    /// kopeck. A <c>lines[].bonus_discount</c> the driver gave must be the hold's too (0 = not given).
    /// Returns the request with the hold's per-line discounts, VAT kept. Refusals name the line
    /// (INVALID_ARGUMENT) and change nothing.
    /// </summary>
    public static PrintJobRequest BindHold(PrintJobRequest request, OpenHoldView hold)
    {
        var printed = request.Receipt;
        var held = hold.Receipt;
        if (printed.Ref != held.Ref)
            throw Domain.Validate.Invalid($"receipt {printed.Ref} is not receipt {held.Ref}, which hold {hold.HoldId} was made for.");
        if (printed.Lines.Count != held.Lines.Count)
            throw Domain.Validate.Invalid($"receipt {printed.Ref} has {printed.Lines.Count} lines; hold {hold.HoldId} was made for {held.Lines.Count}.");
        var lines = new List<PrintLineDetail>();
        for (var i = 0; i < printed.Lines.Count; i++)
        {
            var (p, h, discount) = (printed.Lines[i], held.Lines[i], hold.LineDiscounts[i]);
            if (p with { AmountKopecks = 0 } != h with { AmountKopecks = 0 })
                throw Domain.Validate.Invalid($"line {i + 1} of receipt {printed.Ref} ('{p.Sku}') differs from line {i + 1} of the receipt hold {hold.HoldId} was made for ('{h.Sku}', {h.QuantityMilli} thousandths at {h.PriceKopecks} kopecks): send the held receipt's lines, in its order.");
            if (p.AmountKopecks != h.AmountKopecks - discount)
                throw Domain.Validate.Invalid($"line {i + 1} of receipt {printed.Ref} ('{p.Sku}') has amount {p.AmountKopecks} kopecks; after the hold's bonus discount it is {h.AmountKopecks - discount} ({h.AmountKopecks} − {discount}): amounts are after bonus discounts.");
            var given = request.Lines.FirstOrDefault(l => l.Sku == p.Sku);
            if (given is { BonusDiscountKopecks: > 0 } && given.BonusDiscountKopecks != discount)
                throw Domain.Validate.Invalid($"lines: the bonus discount of '{p.Sku}' is {given.BonusDiscountKopecks} kopecks, but hold {hold.HoldId} put {discount} on it.");
            if (given is not null || discount > 0) lines.Add(new PrintLineDetail(p.Sku, discount, given?.Vat ?? PrintVat.None));
        }
        return request with { Lines = lines };
    }

    /// <summary>
    /// What makes two submits the same request, as text: everything the driver sent (the submitting
    /// key aside: any driver of the store may retry) except the bonus discounts, which are the
    /// hold's (<see cref="BindHold"/>), and lines named only for a discount.
    /// </summary>
    public static PrintJobRequest SubmitIdentity(PrintJobRequest request) => request with
    {
        SubmittedBy = "",
        Lines = [.. request.Lines.Where(l => l.Vat != PrintVat.None).Select(l => l with { BonusDiscountKopecks = 0 }).OrderBy(l => l.Sku, StringComparer.Ordinal)],
    };

    /// <summary>
    /// A new job, queued: call when no job has the operation id yet. The job id and the receipt
    /// token come from <see cref="NewJobId"/> and <see cref="NewReceiptToken"/>; the sequence is one
    /// more than the register's last.
    /// </summary>
    public static PrintJob Submit(PrintJobRequest request, string jobId, long sequence, string receiptToken, DateTimeOffset now)
    {
        Validate(request);
        var held = request.ReprintOf is null && (!string.IsNullOrEmpty(request.HoldId) || !string.IsNullOrEmpty(request.CardNumber));
        return new PrintJob(jobId, sequence, request, PrintJobState.Queued, "Queued for the office register.", null, null,
            held ? BonusSettlement.Held : BonusSettlement.None, null, receiptToken, 0, now, now);
    }

    /// <summary>
    /// The request for a paper copy of <paramref name="original"/>'s receipt: the same lines and
    /// payments, no hold or card (bonuses are booked once, by the original), printed on paper as a
    /// non-fiscal document carrying the original's fiscal data. Only a done job has a receipt to copy
    /// (FAILED_PRECONDITION otherwise).
    /// </summary>
    public static PrintJobRequest Reprint(PrintJob original, string operationId, string submittedBy)
    {
        if (original.State != PrintJobState.Done || original.Fiscal is null)
            throw new CardException(CardErrorCode.AlreadyResolved, $"Job {original.JobId} is {original.State}: only a printed receipt can be printed again.");
        return original.Request with
        {
            OperationId = operationId, HoldId = null, CardNumber = null, Delivery = ReceiptDeliveryKind.Paper, ElectronicOnly = false,
            SubmittedBy = submittedBy, ReprintOf = original.Request.ReprintOf ?? original.JobId, CopyOf = original.Fiscal,
        };
    }

    /// <summary>
    /// The sale a request fiscalises, as a key within its store: "register/shift/receipt number" of
    /// the receipt; null for a copy (a reprint is no new sale). One sale has at most one job that did
    /// not fail (migration 0014): a receipt is never fiscalised twice.
    /// </summary>
    public static string? SaleKey(PrintJobRequest request) =>
        request.ReprintOf is not null ? null : $"{request.Receipt.Ref.RegisterId}/{request.Receipt.Ref.ShiftNumber}/{request.Receipt.Ref.ReceiptNumber}";

    /// <summary>The refusal of a second job for a sale under another operation id (ALREADY_EXISTS), naming the first job.</summary>
    public static CardException SaleAlreadyQueued(PrintJobRequest request, PrintJob first) => new(CardErrorCode.OperationExistsWithDifferentPayload,
        $"Receipt {request.Receipt.Ref} is already print job {first.JobId} ({first.State}, operation {first.Request.OperationId}): a sale is fiscalised once. " +
        "Read that job (GetPrintJob), or print a paper copy of it (ReprintReceipt); a new job is possible only if it fails.");

    /// <summary>
    /// A submit whose operation id is taken: the same request (compared as stored, <paramref name="sameRequest"/>)
    /// answers the existing job; anything else is refused (ALREADY_EXISTS), changing nothing.
    /// </summary>
    public static PrintJob Resubmit(PrintJob existing, bool sameRequest)
    {
        if (!sameRequest)
            throw new CardException(CardErrorCode.OperationExistsWithDifferentPayload,
                $"Operation {existing.Request.OperationId} already submitted another receipt (job {existing.JobId}); use a new operation id for a new receipt.");
        return existing;
    }

    /// <summary>
    /// The jobs the feed hands out next, in queue order: open jobs (queued, printing, needs
    /// attention) with a sequence above <paramref name="afterSequence"/> (what this feed already
    /// sent), at most <paramref name="max"/>. A new feed starts at 0, so jobs handed to a previous
    /// connection and not reported are handed out again.
    /// </summary>
    public static IReadOnlyList<PrintJob> NextForFeed(IEnumerable<PrintJob> jobs, long afterSequence, int max) =>
        [.. jobs.Where(j => !j.IsFinal && j.Sequence > afterSequence).OrderBy(j => j.Sequence).Take(max)];

    /// <summary>A job handed to the adapter: queued becomes printing; others keep their state. Counts deliveries.</summary>
    public static PrintJob Deliver(PrintJob job, DateTimeOffset now) => job.IsFinal ? job : job with
    {
        State = job.State == PrintJobState.Queued ? PrintJobState.Printing : job.State,
        Message = job.State == PrintJobState.Queued ? "Handed to the office register." : job.Message,
        Deliveries = job.Deliveries + 1,
        UpdatedAt = now,
    };

    /// <summary>
    /// Applies a result report. Done and failed are final: the same outcome again returns the job
    /// unchanged (the fiscal data are never replaced; a different FD for a done job is refused as a
    /// contradiction, FAILED_PRECONDITION); done after failed or failed after done is refused; a
    /// late needs-attention after a final outcome is stale and changes nothing. Returns the job and
    /// whether it changed.
    /// </summary>
    public static (PrintJob Job, bool Changed) Report(PrintJob job, PrintReport report, DateTimeOffset now)
    {
        var message = Truncate(report.Message);
        switch (report.Outcome)
        {
            case PrintOutcomeKind.Done:
                var fiscal = report.Fiscal ?? throw Domain.Validate.Invalid("A done report must carry the fiscal data (FD number, fiscal sign, FN).");
                if (fiscal.FiscalDocumentNumber <= 0 || string.IsNullOrEmpty(fiscal.FiscalSign) || string.IsNullOrEmpty(fiscal.FnNumber))
                    throw Domain.Validate.Invalid("A done report needs a positive fiscal_document_number, a fiscal_sign and an fn_number.");
                if (job.State == PrintJobState.Done)
                {
                    if (job.Fiscal!.FiscalDocumentNumber != fiscal.FiscalDocumentNumber || job.Fiscal.FnNumber != fiscal.FnNumber)
                        throw new CardException(CardErrorCode.AlreadyResolved,
                            $"Job {job.JobId} was done as FD {job.Fiscal.FiscalDocumentNumber} (FN {job.Fiscal.FnNumber}); a report of FD {fiscal.FiscalDocumentNumber} contradicts it: check the register's journal.");
                    return (job, false);
                }
                if (job.State == PrintJobState.Failed)
                    throw new CardException(CardErrorCode.AlreadyResolved, $"Job {job.JobId} was reported failed and its hold cancelled; it cannot be done now.");
                // Only what the register's feed handed out can have been printed, and only for the receipt's total.
                if (job.State == PrintJobState.Queued)
                    throw new CardException(CardErrorCode.AlreadyResolved, $"Job {job.JobId} was never handed to the office register; it cannot be reported printed.");
                if (fiscal.TotalKopecks != job.Request.Receipt.TotalKopecks)
                    throw new CardException(CardErrorCode.AlreadyResolved,
                        $"The report of job {job.JobId} gives a total of {fiscal.TotalKopecks} kopecks, but its receipt comes to {job.Request.Receipt.TotalKopecks}: check the register's journal.");
                return (job with
                {
                    State = PrintJobState.Done, Fiscal = fiscal, ContactUsed = NullIfEmpty(report.ContactUsed),
                    Message = message.Length > 0 ? message : $"Fiscalised: FD {fiscal.FiscalDocumentNumber}.", UpdatedAt = now,
                }, true);
            case PrintOutcomeKind.Failed:
                if (job.State == PrintJobState.Failed) return (job, false);
                if (job.State == PrintJobState.Done)
                    throw new CardException(CardErrorCode.AlreadyResolved, $"Job {job.JobId} is fiscalised (FD {job.Fiscal!.FiscalDocumentNumber}); it cannot fail now.");
                return (job with { State = PrintJobState.Failed, Message = message.Length > 0 ? message : "The register refused the receipt.", UpdatedAt = now }, true);
            case PrintOutcomeKind.NeedsAttention:
                if (job.IsFinal) return (job, false);
                if (job.State == PrintJobState.NeedsAttention && job.Message == message) return (job, false);
                return (job with { State = PrintJobState.NeedsAttention, Message = message, UpdatedAt = now }, true);
            default:
                throw Domain.Validate.Invalid("outcome must be done, failed or needs_attention.");
        }
    }

    /// <summary>Records the bonus step's result: booked, given back, or refused by the card with its reason.</summary>
    public static PrintJob Settled(PrintJob job, BonusSettlement settlement, string? message, DateTimeOffset now) =>
        job with { Bonuses = settlement, BonusMessage = message, UpdatedAt = now };

    /// <summary>Records what became of sending the receipt link (SMS or e-mail), for the driver to read.</summary>
    public static PrintJob Noticed(PrintJob job, string notice, DateTimeOffset now) => job with { Notice = Truncate(notice), UpdatedAt = now };

    /// <summary>
    /// Where the receipt link goes for <paramref name="delivery"/>: the given contact, else the one
    /// tag 1008 used when it is of the right kind (a +7 phone for SMS, an e-mail), else for e-mail
    /// the customer's general e-mail. Null when there is none.
    /// </summary>
    public static string? LinkContact(PrintJob job, ReceiptDeliveryKind delivery, string? given = null)
    {
        if (!string.IsNullOrWhiteSpace(given)) return given.Trim();
        var used = job.ContactUsed;
        return delivery switch
        {
            ReceiptDeliveryKind.Sms when used is { Length: 12 } && used.StartsWith("+7", StringComparison.Ordinal) => used,
            ReceiptDeliveryKind.Email when used is not null && used.Contains('@') => used,
            ReceiptDeliveryKind.Email when job.Request.Customer?.Email is { Length: > 0 } email && email.Contains('@') => email.Trim(),
            _ => null,
        };
    }

    /// <summary>The operation id of a job's bonus step: derived from the job, so a repeated report or a restart books once.</summary>
    public static string BonusOperationId(PrintJob job, string step) => $"print-{step}:{job.JobId}";

    /// <summary>The reserved start of the print queue's own operation ids on cards; a client's operation id may not begin so.</summary>
    public const string OperationIdPrefix = "print-";

    /// <summary>Whether <paramref name="operationId"/> is print job <paramref name="jobId"/>'s own commit or cancel of its hold.</summary>
    public static bool IsBonusStepOf(string operationId, string jobId) =>
        operationId == $"print-commit:{jobId}" || operationId == $"print-cancel:{jobId}";

    /// <summary>The operation id under which a job takes its hold (<see cref="Card.BindHoldToPrintJob"/>).</summary>
    public static string BindOperationId(PrintJob job) => $"print-bind:{job.JobId}";

    /// <summary>A job id: "pj_" and 128 random bits in hex.</summary>
    public static string NewJobId() => "pj_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    /// <summary>The receipt page's token: 192 random bits, base64url (32 characters). Unguessable; looked up as is.</summary>
    public static string NewReceiptToken() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(24)).Replace('+', '-').Replace('/', '_');

    private static string Truncate(string? text) => text is null ? "" : text.Length <= MaxTextLength ? text : text[..MaxTextLength];

    private static string? NullIfEmpty(string? text) => string.IsNullOrEmpty(text) ? null : Truncate(text);
}
