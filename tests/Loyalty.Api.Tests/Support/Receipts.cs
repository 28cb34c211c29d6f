using Loyalty.Protos.V1;

namespace Loyalty.Api.Tests.Support;

public static class Receipts
{
    /// <summary>A receipt of <paramref name="store"/> with lines of the given amounts in kopecks (SKUs A, B, C...).</summary>
    public static Receipt Of(string store, long receiptNumber, params long[] amounts)
    {
        var receipt = new Receipt { Ref = new ReceiptRef { StoreId = store, RegisterId = "R1", ShiftNumber = 1, ReceiptNumber = receiptNumber } };
        for (var i = 0; i < amounts.Length; i++)
            receipt.Lines.Add(new ReceiptLine { Sku = ((char)('A' + i)).ToString(), Category = "food", Name = $"item {i}", QuantityMilli = 1000, Price = amounts[i], Amount = amounts[i] });
        return receipt;
    }
}
