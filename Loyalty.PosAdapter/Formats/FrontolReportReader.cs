namespace Loyalty.PosAdapter.Formats;

/// <summary>
/// Reads a Frontol sales report (transactions file, protocols.md §3.2) into a <see cref="ShiftReport"/>.
/// <para>
/// Layout [§3.2, from OpenPapyrus' import]: 3 header lines, then one transaction per line, fields
/// separated by ';'. Header lines [field-cases, FrontolRazborFile, code]: 1 = processing marker
/// ('#' new, '@' already processed; both read alike, the digest keeps re-imports idempotent),
/// 2 = Frontol database id, 3 = report number. Common fields: 1 transaction number, 2 date
/// DD.MM.YYYY, 3 time, 4 type, 5 POS number, 6 receipt number, 7 cashier.
/// </para>
/// <list type="table">
/// <item><term>1, 11 (line)</term><description>8 goods code, 10 price, 11 quantity, 12 sum, 14 shift, 16 sum after discounts [§3.2]. With <see cref="ReportReadOptions.LineDiscountsAreBonuses"/> the line's bonus discount is field 12 − field 16 [guess: §3.2 does not split bonus from other discounts; the cards we load carry a 0 % discount (<see cref="FrontolCatalogFile"/>), so the only discount a loyalty receipt gets is the bonus write-off]; without it (the default) the line's amount is field 16 and it carries no bonuses. Field 16 empty: no discount.</description></item>
/// <item><term>2, 12 (storno)</term><description>same fields; voids the latest line with the same goods and quantity [Papyrus].</description></item>
/// <item><term>40, 41 (payment)</term><description>9 payment type code, 12 amount [§3.2]. Bonus payment types: <see cref="ReportReadOptions.BonusPaymentTypeCodes"/>.</description></item>
/// <item><term>55 (close)</term><description>8 discount-card code (the loyalty card, §3.2), 13 receipt type 0 sale / 1 return, 14 shift [§3.2]; 26 "POS/shift/receipt" [field-cases, FrontolRazborFile]: on a return, when it names another receipt than the return itself, it is read as the original sale [guess].</description></item>
/// <item><term>56 (cancel)</term><description>the receipt is kept as <see cref="ReceiptKind.Cancelled"/> without lines.</description></item>
/// <item><term>61, 63 (Z / shift close)</term><description>9 shift number [§3.2]; 12 total, when present [guess, by analogy with Кассир's Z field 12 in Papyrus]. 63 is a shift close per field-cases (FrontolRazborFile).</description></item>
/// </list>
/// Other transaction types (discount detail, bonus transactions: their fields are an open question
/// in protocols.md) are checked for the common fields and otherwise skipped. Field 27 (enterprise)
/// is checked against <see cref="ReportReadOptions.EnterpriseCode"/> when that is set.
/// Errors: <see cref="RegisterFileException"/>, never a partial report.
/// </summary>
public static class FrontolReportReader
{
    /// <summary>Lines before the first transaction (§3.2: "the first 3 lines are a header").</summary>
    public const int HeaderLines = 3;

    private const int CommonFields = 7;
    private const int LineFields = 14;
    private const int PaymentFields = 12;
    private const int CloseFields = 14;
    private const int ZFields = 9;
    private const int ReferenceField = 26;
    private const int EnterpriseField = 27;

    /// <summary>Reads the report at <paramref name="path"/>; see the type's summary for the layout and errors.</summary>
    public static ShiftReport Read(string path, ReportReadOptions options, CancellationToken cancellationToken = default)
    {
        using var source = new ReportLineSource(path, options.Encoding);
        var builder = new ShiftReportBuilder(path, options, RegisterFormat.Frontol);
        string? databaseId = null, reportNumber = null;
        for (var header = 1; header <= HeaderLines; header++)
        {
            var text = source.ReadLine()
                ?? throw new RegisterFileException(RegisterFileError.Truncated, path, source.LineNumber, null,
                    $"The file ends inside its {HeaderLines}-line header.");
            if (header == 1 && text.Trim() is not ("#" or "@"))
                throw new RegisterFileException(RegisterFileError.Malformed, path, 1, null,
                    $"The first line is '{Shorten(text)}', not the processing marker '#' or '@' of a Frontol report.");
            if (header == 2) databaseId = text.Trim();
            if (header == 3) reportNumber = text.Trim();
        }

        string? line;
        while ((line = source.ReadLine()) is not null)
        {
            if (source.LineNumber % 4096 == 0) cancellationToken.ThrowIfCancellationRequested();
            if (string.IsNullOrWhiteSpace(line)) continue;
            Transaction(ReportFields.Split(path, source.LineNumber, line), builder, options);
        }
        return builder.Build(source.Sha256(), reportNumber, databaseId);
    }

    private static void Transaction(ReportFields fields, ShiftReportBuilder builder, ReportReadOptions options)
    {
        fields.RequireAtLeast(CommonFields, "transaction");
        fields.Integer(1, "transaction number");
        var at = fields.DateTime(2, 3);
        var type = fields.Integer(4, "transaction type");
        var register = fields.Integer(5, "POS number");
        builder.Transaction(fields, register, at);
        if (options.EnterpriseCode is { } enterprise && fields.Count >= EnterpriseField && fields.Text(EnterpriseField) is { Length: > 0 } written && written != enterprise)
            throw fields.Error(RegisterFileError.WrongStoreOrRegister, EnterpriseField, "enterprise",
                $"The transaction is of enterprise '{written}', but this exchange folder belongs to '{enterprise}': a report for another store.");

        switch (type)
        {
            case 1 or 11 or 2 or 12:
            {
                fields.RequireAtLeast(LineFields, "receipt line");
                var receipt = builder.Receipt(fields, fields.Integer(6, "receipt number"));
                var sku = fields.Code(8, "goods code");
                var price = fields.Kopecks(10, "price");
                var quantity = fields.QuantityMilli(11, "quantity");
                var sum = fields.Kopecks(12, "sum");
                builder.Shift(fields, 14, fields.Integer(14, "shift number"));
                if (type is 2 or 12)
                {
                    builder.Storno(fields, receipt, sku, quantity);
                    break;
                }
                var after = fields.OptionalKopecks(16, "sum after discounts") ?? sum;
                if (after > sum)
                    throw fields.Error(RegisterFileError.AbsurdAmount, 16, "sum after discounts",
                        $"The sum after discounts ({DecimalText.Format(after, 2, '.')}) is more than the line's sum ({DecimalText.Format(sum, 2, '.')}): a markup, which a loyalty receipt cannot carry.");
                builder.AddLine(fields, receipt, options.LineDiscountsAreBonuses
                    ? new ReportLine(sku, "", quantity, price, sum, sum - after)
                    : new ReportLine(sku, "", quantity, price, after, 0));
                break;
            }
            case 40 or 41:
            {
                fields.RequireAtLeast(PaymentFields, "payment");
                var receipt = builder.Receipt(fields, fields.Integer(6, "receipt number"));
                builder.AddPayment(fields, receipt, fields.Code(9, "payment type"), fields.Kopecks(12, "amount"));
                break;
            }
            case 55:
            {
                fields.RequireAtLeast(CloseFields, "receipt close");
                var number = fields.Integer(6, "receipt number");
                var card = fields.CardNumber(8, "discount card");
                var kind = fields.Integer(13, "receipt type") switch
                {
                    0 => ReceiptKind.Sale,
                    1 => ReceiptKind.Return,
                    var other => throw fields.Error(RegisterFileError.Malformed, 13, "receipt type", $"Receipt type {other} is neither 0 (sale) nor 1 (return)."),
                };
                var shift = fields.Integer(14, "shift number");
                builder.Shift(fields, 14, shift);
                builder.Close(fields, number, kind, card, Reference(fields, register: fields.Integer(5, "POS number"), shift, number), at);
                break;
            }
            case 56:
                builder.Close(fields, fields.Integer(6, "receipt number"), ReceiptKind.Cancelled, null, null, at);
                break;
            case 61 or 63:
                fields.RequireAtLeast(ZFields, "Z report");
                builder.ZRecord(fields, 9, fields.Integer(9, "shift number"), fields.OptionalKopecks(12, "Z total"), at);
                break;
        }
    }

    private static ReceiptReference? Reference(ReportFields fields, long register, long shift, long number)
    {
        var text = fields.Text(ReferenceField);
        if (text.Length == 0) return null;
        var parts = text.Split('/');
        if (parts.Length != 3 || !parts.All(part => part.Length is > 0 and <= 18 && part.All(char.IsAsciiDigit)))
            throw fields.Error(RegisterFileError.Malformed, ReferenceField, "POS/shift/receipt", $"'{Shorten(text)}' is not written POS/shift/receipt.");
        var reference = new ReceiptReference(long.Parse(parts[0]), long.Parse(parts[1]), long.Parse(parts[2]));
        return reference == new ReceiptReference(register, shift, number) ? null : reference;
    }

    private static string Shorten(string text) => text.Length <= 40 ? text : text[..40] + "…";
}
