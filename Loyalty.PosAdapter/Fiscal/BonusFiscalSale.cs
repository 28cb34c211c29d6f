using Loyalty.PosAdapter.Client;
using Loyalty.Protos.V1;

namespace Loyalty.PosAdapter.Fiscal;

/// <summary>One line of a sale to fiscalise with bonuses: the loyalty SKU and category, and the fiscal name, quantity, prices and VAT.</summary>
/// <param name="QuantityMilli">Thousandths of a unit (1 piece = 1 000).</param>
/// <param name="PriceKopecks">Unit price before bonuses.</param>
/// <param name="AmountKopecks">Line amount before bonuses.</param>
public sealed record BonusSaleLine(string Sku, string Category, string Name, long QuantityMilli, long PriceKopecks, long AmountKopecks, VatRate Vat);

/// <summary>
/// A sale paid partly with bonuses: the card, the receipt key (store, register, shift, receipt
/// number: it names the loyalty operations and the fiscal document, so every step can be repeated
/// after a crash), the lines, the bonuses the customer wants to spend (kopecks; 0 = none) and how
/// the rest is paid.
/// </summary>
public sealed record BonusSale(
    string CardNumber, string StoreId, string RegisterId, long ShiftNumber, long ReceiptNumber,
    IReadOnlyList<BonusSaleLine> Lines, long BonusKopecks, FiscalPaymentType PaidWith, FiscalCustomer? Customer = null, bool ElectronicOnly = false)
{
    public string ReceiptKey => $"{StoreId}/{RegisterId}/{ShiftNumber}/{ReceiptNumber}";
}

/// <summary>
/// What became of a sale: the fiscal outcome (printed, failed, waiting for a person or pending),
/// what the loyalty server booked, and a sentence for the cashier.
/// </summary>
/// <param name="Booked">True once the bonuses are committed (or nothing needed committing) for a printed receipt.</param>
public sealed record BonusSaleOutcome(FiscalOutcome Fiscal, long RedeemedKopecks, long AccruedKopecks, bool Booked, string Message);

/// <summary>
/// Ties loyalty to the fiscal result (issue 13): hold the bonuses, print the receipt with them as
/// line discounts, then commit the hold only when the document is fiscalised, or cancel it when the
/// printer refused the receipt for good. While a person must act, or the outcome is not known yet,
/// nothing is committed and the hold stays: call <see cref="RunAsync"/> again with the same sale
/// (after the person acted, or after a crash): every step is keyed by the receipt, so the hold is
/// not made twice, the receipt is not printed twice and the bonuses are not booked twice.
/// </summary>
public sealed class BonusFiscalSale(LoyaltyClient loyalty, AtolFiscalDriver printer)
{
    /// <summary>Runs or resumes the sale. Throws <see cref="RpcException"/> when the loyalty server refuses the hold (nothing was printed then).</summary>
    public async Task<BonusSaleOutcome> RunAsync(BonusSale sale, CancellationToken cancellationToken = default)
    {
        var receipt = ToLoyaltyReceipt(sale);
        RedeemReply? hold = null;
        IReadOnlyList<long> discounts = new long[sale.Lines.Count];
        if (sale.BonusKopecks > 0)
        {
            hold = await loyalty.RedeemAsync(new RedeemRequest
            {
                OperationId = OperationId("hold", sale), CardNumber = sale.CardNumber, Receipt = receipt, Amount = sale.BonusKopecks,
            }, cancellationToken: cancellationToken);
            discounts = [.. hold.Lines.Select(l => l.Discount)];
        }

        var fiscal = await printer.PrintAsync(ToFiscalReceipt(sale, discounts), cancellationToken);
        switch (fiscal.State)
        {
            case FiscalState.Printed:
                var committed = await CommitAsync(sale, receipt, hold, cancellationToken);
                return new BonusSaleOutcome(fiscal, committed.Redeemed, committed.Accrued, true,
                    $"Receipt {sale.ReceiptKey} fiscalised (FD {fiscal.Fiscal?.FiscalDocumentNumber}); {committed.Redeemed} kopecks of bonuses booked, {committed.Accrued} accrued.");
            case FiscalState.Failed:
                if (hold is not null)
                    await loyalty.CancelAsync(new CancelRequest { OperationId = OperationId("cancel", sale), HoldId = hold.HoldId }, cancellationToken: cancellationToken);
                return new BonusSaleOutcome(fiscal, 0, 0, false, $"Receipt {sale.ReceiptKey} was not fiscalised ({fiscal.Message}); the bonus hold was cancelled.");
            default:
                return new BonusSaleOutcome(fiscal, 0, 0, false,
                    $"Receipt {sale.ReceiptKey} is not fiscalised yet ({fiscal.Message}); the bonuses stay held. Run the sale again once the printer is ready.");
        }
    }

    /// <summary>
    /// Books a printed receipt. If its hold timed out while the printer waited for a person, the
    /// printed discount is held again and committed: the receipt shows it, so the bonuses must go.
    /// </summary>
    private async Task<CommitReply> CommitAsync(BonusSale sale, Receipt receipt, RedeemReply? hold, CancellationToken cancellationToken)
    {
        try
        {
            return await loyalty.CommitAsync(new CommitRequest
            {
                OperationId = OperationId("commit", sale), CardNumber = sale.CardNumber, Receipt = receipt, HoldId = hold?.HoldId ?? "",
            }, cancellationToken: cancellationToken);
        }
        catch (RpcException expired) when (hold is not null && expired.StatusCode == StatusCode.FailedPrecondition && expired.Message.Contains("expired", StringComparison.Ordinal))
        {
            var again = await loyalty.RedeemAsync(new RedeemRequest
            {
                OperationId = OperationId("hold-again", sale), CardNumber = sale.CardNumber, Receipt = receipt, Amount = hold.Amount,
            }, cancellationToken: cancellationToken);
            return await loyalty.CommitAsync(new CommitRequest
            {
                OperationId = OperationId("commit-again", sale), CardNumber = sale.CardNumber, Receipt = receipt, HoldId = again.HoldId,
            }, cancellationToken: cancellationToken);
        }
    }

    /// <summary>Loyalty operation ids of a sale's steps, from its receipt key: the same step of the same sale is always the same operation.</summary>
    public static string OperationId(string step, BonusSale sale) =>
        Client.OperationId.Derive($"fiscal-{step}", sale.ReceiptKey);

    private static Receipt ToLoyaltyReceipt(BonusSale sale)
    {
        var receipt = new Receipt { Ref = new ReceiptRef { StoreId = sale.StoreId, RegisterId = sale.RegisterId, ShiftNumber = sale.ShiftNumber, ReceiptNumber = sale.ReceiptNumber } };
        foreach (var line in sale.Lines)
            receipt.Lines.Add(new ReceiptLine { Sku = line.Sku, Category = line.Category, Name = line.Name, QuantityMilli = line.QuantityMilli, Price = line.PriceKopecks, Amount = line.AmountKopecks });
        return receipt;
    }

    private static FiscalReceipt ToFiscalReceipt(BonusSale sale, IReadOnlyList<long> discounts)
    {
        var lines = sale.Lines.Select((l, i) => new FiscalLine(l.Name, l.QuantityMilli, l.PriceKopecks, l.AmountKopecks, discounts[i], l.Vat)).ToList();
        var money = lines.Sum(l => l.AmountAfterDiscountKopecks);
        return new FiscalReceipt
        {
            ReceiptKey = sale.ReceiptKey,
            Lines = lines,
            Payments = money > 0 ? [new FiscalPayment(sale.PaidWith, money)] : [],
            Customer = sale.Customer,
            ElectronicOnly = sale.ElectronicOnly,
        };
    }
}
