namespace Loyalty.PosAdapter.Formats;

/// <summary>
/// Reads a Штрих-М "Кассир 5" sales report (protocols.md §3.3) into a <see cref="ShiftReport"/>.
/// <para>
/// §3.3 gives the transaction types and the receipt types (1 sale, 2 return) but not the field
/// positions; these come from OpenPapyrus <c>Src/PPEquip/Shtrihmf.cpp</c> (the source §3.3 cites,
/// <c>ConvertWareList</c> and <c>GetZRepList</c>) [code]: 3 header lines skipped, then fields
/// 1 transaction number, 2 date (DD.MM.YY, field-cases A3), 3 time, 4 type, 5 POS number,
/// 6 receipt number, 7 cashier. Decimals are written with a dot (field-cases A3); a comma is read too.
/// </para>
/// <list type="table">
/// <item><term>11 line, 13 return line</term><description>8 goods code, 10 price, 11 quantity, 12 sum [Papyrus]. A return line makes the receipt a return (Papyrus' rule).</description></item>
/// <item><term>12 storno</term><description>voids the latest line with the same goods and quantity [Papyrus].</description></item>
/// <item><term>40, 41 payment</term><description>10 change, 11 payment type, 12 sum; the payment is sum − change [Papyrus].</description></item>
/// <item><term>70 per-item discount detail</term><description>9 discount kind, 12 sum; kind 3 ("by discount card", Papyrus <c>DISCOUNT_BYSCARD</c>) is the bonus discount of the receipt's latest line [guess: Papyrus reads these fields only for 71].</description></item>
/// <item><term>71 per-receipt discount detail</term><description>8 card number when 9 is 3 [Papyrus]: the receipt's card if the close record names none.</description></item>
/// <item><term>55 close</term><description>8 card number, 13 receipt type 1/2 [guess: Frontol's positions with §3.3's codes; Papyrus reads neither]; without field 13 the kind comes from the lines.</description></item>
/// <item><term>56 cancel</term><description>kept as <see cref="ReceiptKind.Cancelled"/>.</description></item>
/// <item><term>61 Z report</term><description>8 shift number, 12 total [Papyrus]. Lines carry no shift number, so receipts after the Z belong to the next shift and are refused (one shift per file).</description></item>
/// </list>
/// Other types (37, 38 receipt discount/markup, and any not listed) are checked for the common
/// fields and skipped. Errors: <see cref="RegisterFileException"/>, never a partial report.
/// </summary>
public static class KassirReportReader
{
    /// <summary>Lines before the first transaction: Papyrus skips 3 (<c>for(pos = 0; pos &lt; 3; pos++) imp_file.ReadLine(buf)</c>).</summary>
    public const int HeaderLines = 3;

    /// <summary>Discount kind "by discount card" (Papyrus <c>DISCOUNT_BYSCARD</c>).</summary>
    public const long DiscountByCard = 3;

    private const int CommonFields = 7;
    private const int LineFields = 12;
    private const int PaymentFields = 12;
    private const int DetailFields = 12;
    private const int ZFields = 8;

    /// <summary>Reads the report at <paramref name="path"/>; see the type's summary for the layout and errors.</summary>
    public static ShiftReport Read(string path, ReportReadOptions options, CancellationToken cancellationToken = default)
    {
        using var source = new ReportLineSource(path, options.Encoding);
        var builder = new ShiftReportBuilder(path, options, RegisterFormat.Kassir5);
        for (var header = 1; header <= HeaderLines; header++)
        {
            if (source.ReadLine() is null)
                throw new RegisterFileException(RegisterFileError.Truncated, path, source.LineNumber, null, $"The file ends inside its {HeaderLines}-line header.");
        }
        string? line;
        while ((line = source.ReadLine()) is not null)
        {
            if (source.LineNumber % 4096 == 0) cancellationToken.ThrowIfCancellationRequested();
            if (string.IsNullOrWhiteSpace(line)) continue;
            Transaction(ReportFields.Split(path, source.LineNumber, line), builder);
        }
        return builder.Build(source.Sha256(), null, null);
    }

    private static void Transaction(ReportFields fields, ShiftReportBuilder builder)
    {
        fields.RequireAtLeast(CommonFields, "transaction");
        fields.Integer(1, "transaction number");
        var at = fields.DateTime(2, 3);
        var type = fields.Integer(4, "transaction type");
        builder.Transaction(fields, fields.Integer(5, "POS number"), at);

        switch (type)
        {
            case 11 or 12 or 13:
            {
                builder.NotAfterZ(fields);
                fields.RequireAtLeast(LineFields, "receipt line");
                var receipt = builder.Receipt(fields, fields.Integer(6, "receipt number"));
                var sku = fields.Code(8, "goods code");
                var price = fields.Kopecks(10, "price");
                var quantity = fields.QuantityMilli(11, "quantity");
                var sum = fields.Kopecks(12, "sum");
                if (type == 12)
                {
                    builder.Storno(fields, receipt, sku, quantity);
                    break;
                }
                if (type == 13) receipt.HasReturnLine = true;
                builder.AddLine(fields, receipt, new ReportLine(sku, "", quantity, price, sum, 0));
                break;
            }
            case 70 or 71:
            {
                builder.NotAfterZ(fields);
                fields.RequireAtLeast(DetailFields, "discount detail");
                var receipt = builder.Receipt(fields, fields.Integer(6, "receipt number"));
                if (fields.Text(9).Length == 0 || fields.Integer(9, "discount kind") != DiscountByCard) break;
                var discount = fields.Kopecks(12, "discount sum");
                if (type == 71)
                {
                    receipt.CardFromDiscountDetail ??= fields.CardNumber(8, "discount card");
                    break;
                }
                if (receipt.Lines.Count == 0)
                    throw fields.Error(RegisterFileError.Malformed, 12, "discount sum", $"A per-item discount in receipt {receipt.Number} before any line it could belong to.");
                var last = receipt.Lines[^1];
                var total = last.BonusDiscountKopecks + discount;
                if (total > last.AmountKopecks)
                    throw fields.Error(RegisterFileError.AbsurdAmount, 12, "discount sum",
                        $"The discounts on goods {last.Sku} ({DecimalText.Format(total, 2, '.')}) exceed its sum ({DecimalText.Format(last.AmountKopecks, 2, '.')}).");
                receipt.Lines[^1] = last with { BonusDiscountKopecks = total };
                break;
            }
            case 40 or 41:
            {
                builder.NotAfterZ(fields);
                fields.RequireAtLeast(PaymentFields, "payment");
                var receipt = builder.Receipt(fields, fields.Integer(6, "receipt number"));
                var change = fields.OptionalKopecks(10, "change") ?? 0;
                var sum = fields.Kopecks(12, "sum");
                if (change > sum)
                    throw fields.Error(RegisterFileError.AbsurdAmount, 10, "change", "The change is more than the sum tendered.");
                builder.AddPayment(fields, receipt, fields.Code(11, "payment type"), sum - change);
                break;
            }
            case 55:
            {
                builder.NotAfterZ(fields);
                var number = fields.Integer(6, "receipt number");
                var receipt = builder.Receipt(fields, number);
                ReceiptKind kind;
                if (fields.Text(13).Length == 0) kind = receipt.HasReturnLine ? ReceiptKind.Return : ReceiptKind.Sale;
                else
                {
                    kind = fields.Integer(13, "receipt type") switch
                    {
                        1 => ReceiptKind.Sale,
                        2 => ReceiptKind.Return,
                        var other => throw fields.Error(RegisterFileError.Malformed, 13, "receipt type", $"Receipt type {other} is neither 1 (sale) nor 2 (return)."),
                    };
                }
                builder.Close(fields, number, kind, fields.CardNumber(8, "discount card"), null, at);
                break;
            }
            case 56:
                builder.NotAfterZ(fields);
                builder.Close(fields, fields.Integer(6, "receipt number"), ReceiptKind.Cancelled, null, null, at);
                break;
            case 61:
                fields.RequireAtLeast(ZFields, "Z report");
                builder.ZRecord(fields, 8, fields.Integer(8, "shift number"), fields.OptionalKopecks(12, "Z total"), at);
                break;
        }
    }
}
