using System.Globalization;
using System.Text.Json.Nodes;
using Loyalty.Protos;

namespace Loyalty.PosAdapter.Fiscal;

/// <summary>A receipt the mapper refuses to send, with a sentence saying why. Nothing was sent to the register.</summary>
public sealed class FiscalReceiptException(string message) : Exception(message);

/// <summary>Options of the receipt → ATOL task mapping.</summary>
public sealed record FiscalMappingOptions
{
    /// <summary>Which contact goes into tag 1008 when the address's OFD field is empty (field cases C1).</summary>
    public ContactPreference ContactPreference { get; init; } = ContactPreference.Email;

    /// <summary>Printed lines per receipt (after splitting), a bound so one receipt cannot make an unbounded task.</summary>
    public int MaxPrintedLines { get; init; } = 1000;

    /// <summary>Test seam for field case B5: how a payment's kopecks become the JSON number. Production uses <see cref="FiscalAmount.ToRoubles"/>.</summary>
    internal Func<long, JsonValue> PaymentSumToJson { get; init; } = FiscalAmount.ToRoubles;
}

/// <summary>
/// The ATOL <c>sell</c>/<c>sellReturn</c> task for a receipt, what it will print and what the
/// mapper decided about the buyer's contact. <see cref="Notes"/> are sentences for the receipt record
/// ("contact rejected…", "printed on paper because…").
/// </summary>
public sealed record AtolReceiptTask(
    JsonObject Task,
    long TotalKopecks,
    IReadOnlyList<PrintedLine> Lines,
    ContactChoice Contact,
    bool Electronically,
    IReadOnlyList<string> Notes);

/// <summary>
/// Receipt → ATOL JSON task, bonuses as line discounts (protocols.md §1.3 "Sale receipt", §2.4
/// discount model, FNS letter ЕД-3-20/6387@): each line's price and amount are after the bonus
/// discount, <c>infoDiscountAmount</c> carries the bonus part for information, payments are money
/// only, and their sum equals the total. Lines that no price can express are split
/// (<see cref="LineSplitter"/>). Before returning, the task is read back and checked: Σ lines =
/// total = Σ payments (field cases B5/C3 pre-send guard); a task failing it is refused, never sent.
/// </summary>
public static class AtolReceiptMapper
{
    private static readonly HashSet<string> PaymentMethods = ["fullPrepayment", "prepayment", "advance", "fullPayment", "partialPayment", "credit", "creditPayment"];
    private static readonly HashSet<string> PaymentObjects =
    [
        "commodity", "excise", "job", "service", "gamblingBet", "gamblingPrize", "lottery", "lotteryPrize", "intellectualActivity",
        "payment", "agentCommission", "pay", "composite", "another", "proprietaryLaw", "nonOperatingIncome", "otherContributions",
        "insuranceContributions", "merchantTax", "resortFee", "deposit", "consumption", "soleProprietorCPIContributions",
        "cpiContributions", "soleProprietorCMIContributions", "cmiContributions", "csiContributions", "casinoPayment",
        "fundsIssuance", "exciseWithoutMarking", "exciseWithMarking", "commodityWithoutMarking", "commodityWithMarking",
    ];
    private static readonly HashSet<string> TaxationTypes = ["osn", "usnIncome", "usnIncomeOutcome", "envd", "esn", "patent"];

    /// <summary>Tag 1227's practical limit (aggregators cut at 243 characters, protocols.md §2.1).</summary>
    public const int MaxBuyerNameLength = 243;

    /// <summary>Builds the task. Throws <see cref="FiscalReceiptException"/> for a receipt that must not be sent.</summary>
    public static AtolReceiptTask Map(FiscalReceipt receipt, FiscalMappingOptions? options = null)
    {
        options ??= new FiscalMappingOptions();
        var notes = new List<string>();
        Validate(receipt);

        var printed = new List<PrintedLine>();
        for (var i = 0; i < receipt.Lines.Count; i++) printed.AddRange(LineSplitter.Split(i, receipt.Lines[i]));
        if (printed.Count > options.MaxPrintedLines)
            throw new FiscalReceiptException($"The receipt prints {printed.Count} lines, more than the limit of {options.MaxPrintedLines}.");
        foreach (var line in printed)
            if (line.ErrorMilliKopecks > LineSplitter.ToleranceMilliKopecks)
                throw new FiscalReceiptException($"Line '{line.Source.Name}' would print price {Money.Format(line.PriceKopecks)} × {FormatQuantity(line.QuantityMilli)} ≠ {Money.Format(line.AmountKopecks)}.");

        var total = printed.Sum(line => line.AmountKopecks);
        var items = new JsonArray();
        foreach (var line in printed) items.Add(Item(line));
        if (receipt.PrintBonusText && receipt.BonusKopecks > 0)
            items.Add(new JsonObject { ["type"] = "text", ["text"] = $"Скидка (бонусы) {FiscalAmount.ForPrintedText(receipt.BonusKopecks)}", ["alignment"] = "left" });

        var payments = new JsonArray();
        foreach (var payment in receipt.Payments)
            payments.Add(new JsonObject { ["type"] = PaymentTypeName(payment.Type), ["sum"] = options.PaymentSumToJson(payment.AmountKopecks) });
        if (receipt.Payments.Count == 0 && total == 0)
        {
            // 100 % paid with bonuses: prices are 0 and the payment is counter-provision 0 (FNS letters
            // АБ-4-20/6093 and ЗГ-3-20/11971@, protocols.md §2.4 point 2); check with the client's OFD.
            payments.Add(new JsonObject { ["type"] = "other", ["sum"] = options.PaymentSumToJson(0) });
        }

        var contact = OfdContactRule.Choose(receipt.Customer, options.ContactPreference);
        if (contact.Rejected.Count > 0) notes.Add(contact.Reason);
        var electronically = receipt.ElectronicOnly && contact.Value is not null;
        if (receipt.ElectronicOnly && !electronically)
            notes.Add("An electronic-only receipt was asked for, but there is no valid contact: printed on paper.");

        var task = new JsonObject
        {
            ["type"] = receipt.Operation == FiscalOperation.Sell ? "sell" : "sellReturn",
            ["taxationType"] = receipt.TaxationType,
            ["electronically"] = electronically,
            ["ignoreNonFiscalPrintErrors"] = false,
        };
        if (receipt.Operator is { } op)
        {
            var opJson = new JsonObject { ["name"] = op.Name };
            if (!string.IsNullOrEmpty(op.Vatin)) opJson["vatin"] = op.Vatin;
            task["operator"] = opJson;
        }
        var clientInfo = ClientInfo(receipt.Customer, contact, notes);
        if (clientInfo.Count > 0) task["clientInfo"] = clientInfo;
        task["items"] = items;
        task["payments"] = payments;
        task["total"] = FiscalAmount.ToRoubles(total);

        Guard(task, receipt, total);
        return new AtolReceiptTask(task, total, printed, contact, electronically, notes);
    }

    /// <summary>The VAT in an amount, kopecks, rounded half away from zero: rate/(100+rate) of it (e.g. 20/120 of 7 000 = 1 167).</summary>
    public static long VatKopecks(long amountKopecks, VatRate rate)
    {
        var percent = rate switch
        {
            VatRate.Vat5 or VatRate.Vat105 => 5,
            VatRate.Vat7 or VatRate.Vat107 => 7,
            VatRate.Vat10 or VatRate.Vat110 => 10,
            VatRate.Vat20 or VatRate.Vat120 => 20,
            VatRate.Vat22 or VatRate.Vat122 => 22,
            _ => 0,
        };
        return percent == 0 ? 0 : LineSplitter.RoundHalfAwayFromZero(amountKopecks * percent, 100 + percent);
    }

    /// <summary>ATOL <c>tax.type</c> names (protocols.md §1.3).</summary>
    public static string VatName(VatRate rate) => rate switch
    {
        VatRate.None => "none",
        _ => rate.ToString().ToLowerInvariant(),
    };

    private static string PaymentTypeName(FiscalPaymentType type) => type switch
    {
        FiscalPaymentType.Cash => "cash",
        FiscalPaymentType.Electronically => "electronically",
        FiscalPaymentType.Prepaid => "prepaid",
        FiscalPaymentType.Credit => "credit",
        FiscalPaymentType.Other => "other",
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    private static JsonObject Item(PrintedLine line)
    {
        var source = line.Source;
        var tax = new JsonObject { ["type"] = VatName(source.Vat) };
        if (source.Vat is not VatRate.None) tax["sum"] = FiscalAmount.ToRoubles(VatKopecks(line.AmountKopecks, source.Vat));
        var item = new JsonObject
        {
            ["type"] = "position",
            ["name"] = source.Name,
            ["price"] = FiscalAmount.ToRoubles(line.PriceKopecks),
            ["quantity"] = JsonValue.Create(decimal.Parse(FormatQuantity(line.QuantityMilli), CultureInfo.InvariantCulture)),
            ["amount"] = FiscalAmount.ToRoubles(line.AmountKopecks),
        };
        if (line.DiscountKopecks > 0) item["infoDiscountAmount"] = FiscalAmount.ToRoubles(line.DiscountKopecks);
        item["department"] = source.Department;
        item["measurementUnit"] = source.MeasurementUnit;
        item["paymentMethod"] = source.PaymentMethod;
        item["paymentObject"] = source.PaymentObject;
        item["tax"] = tax;
        return item;
    }

    /// <summary>47 800 → "47.8", 1 000 → "1": the quantity as ATOL reads it, invariant.</summary>
    public static string FormatQuantity(long quantityMilli) =>
        (quantityMilli / 1000m).ToString("0.###", CultureInfo.InvariantCulture);

    private static JsonObject ClientInfo(FiscalCustomer? customer, ContactChoice contact, List<string> notes)
    {
        var info = new JsonObject();
        if (contact.Value is not null) info["emailOrPhone"] = contact.Value;
        if (customer is null) return info;
        var name = customer.Name?.Trim();
        if (!string.IsNullOrEmpty(name))
        {
            if (name.Length <= MaxBuyerNameLength) info["name"] = name;
            else notes.Add($"The buyer's name is longer than {MaxBuyerNameLength} characters and was left out (tag 1227).");
        }
        var inn = customer.Inn?.Trim();
        if (!string.IsNullOrEmpty(inn))
        {
            if (Inn.IsValid(inn)) info["vatin"] = inn;
            else notes.Add($"The buyer's INN '{inn}' fails its control digits and was left out (tag 1228).");
        }
        return info;
    }

    private static void Validate(FiscalReceipt receipt)
    {
        if (string.IsNullOrWhiteSpace(receipt.ReceiptKey) || receipt.ReceiptKey.Length > 128)
            throw new FiscalReceiptException("A receipt key of 1 to 128 characters is required.");
        if (receipt.Lines.Count == 0) throw new FiscalReceiptException("A receipt needs at least one line.");
        if (!TaxationTypes.Contains(receipt.TaxationType))
            throw new FiscalReceiptException($"'{receipt.TaxationType}' is not an ATOL taxationType.");
        foreach (var line in receipt.Lines)
        {
            if (string.IsNullOrWhiteSpace(line.Name)) throw new FiscalReceiptException("Every line needs a name.");
            if (line.QuantityMilli <= 0) throw new FiscalReceiptException($"Line '{line.Name}' has quantity {line.QuantityMilli}; it must be positive.");
            if (line.PriceKopecks < 0 || line.AmountKopecks < 0 || line.AmountKopecks > Money.MaxAmountKopecks)
                throw new FiscalReceiptException($"Line '{line.Name}' has a negative or too large price or amount.");
            if (line.BonusDiscountKopecks < 0 || line.BonusDiscountKopecks > line.AmountKopecks)
                throw new FiscalReceiptException($"Line '{line.Name}' has a bonus discount of {line.BonusDiscountKopecks} kop; it must be between 0 and the line amount {line.AmountKopecks}.");
            if (Int128.Abs((Int128)line.PriceKopecks * line.QuantityMilli - (Int128)line.AmountKopecks * 1000) > LineSplitter.ToleranceMilliKopecks)
                throw new FiscalReceiptException($"Line '{line.Name}': price {Money.Format(line.PriceKopecks)} × {FormatQuantity(line.QuantityMilli)} is not the amount {Money.Format(line.AmountKopecks)}.");
            if (!PaymentMethods.Contains(line.PaymentMethod)) throw new FiscalReceiptException($"Line '{line.Name}': '{line.PaymentMethod}' is not an ATOL paymentMethod.");
            if (!PaymentObjects.Contains(line.PaymentObject)) throw new FiscalReceiptException($"Line '{line.Name}': '{line.PaymentObject}' is not an ATOL paymentObject.");
        }
        foreach (var payment in receipt.Payments)
            if (payment.AmountKopecks <= 0 || payment.AmountKopecks > Money.MaxAmountKopecks)
                throw new FiscalReceiptException($"A {payment.Type} payment of {payment.AmountKopecks} kop is not a positive amount.");
    }

    /// <summary>The pre-send guard: reads the built JSON back and checks Σ line amounts = total = Σ payments, in kopecks.</summary>
    private static void Guard(JsonObject task, FiscalReceipt receipt, long totalKopecks)
    {
        var linesKopecks = 0L;
        foreach (var item in task["items"]!.AsArray())
            if ((string?)item!["type"] == "position") linesKopecks += FiscalAmount.FromRoubles(item["amount"]);
        var paymentsKopecks = 0L;
        foreach (var payment in task["payments"]!.AsArray()) paymentsKopecks += FiscalAmount.FromRoubles(payment!["sum"]);
        var taskTotal = FiscalAmount.FromRoubles(task["total"]);
        var moneyPaid = receipt.Payments.Sum(p => p.AmountKopecks);
        if (linesKopecks != taskTotal || taskTotal != paymentsKopecks || totalKopecks != moneyPaid)
            throw new FiscalReceiptException(
                $"Not sent: the lines sum to {Money.Format(linesKopecks)}, the total is {Money.Format(taskTotal)} and the payments sum to " +
                $"{Money.Format(paymentsKopecks)} roubles (money paid {Money.Format(moneyPaid)}); they must be equal.");
    }
}
