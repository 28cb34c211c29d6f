namespace Loyalty.PosAdapter.Formats;

/// <summary>
/// Assembles the receipts of one shift from transaction records, whatever the format, and enforces
/// what both formats share: one register, one shift, unique receipt numbers, every receipt closed
/// or cancelled, storno only of a line that exists, the bounds of <see cref="ReportLimits"/>. It
/// holds only the report being built; <see cref="Build"/> returns it whole or throws.
/// </summary>
internal sealed class ShiftReportBuilder(string path, ReportReadOptions options, RegisterFormat format)
{
    private readonly Dictionary<long, OpenReceipt> _open = new();
    private readonly HashSet<long> _closedNumbers = new();
    private readonly List<ReportReceipt> _receipts = new();
    private long? _registerNumber = options.RegisterNumber;
    private long? _shiftNumber;
    private long _shiftLine;
    private DateTime? _openedAt;
    private DateTime? _lastAt;
    private DateTime? _zAt;
    private long? _zTotal;
    private long _zLine;

    public bool HasZRecord => _zAt is not null;

    /// <summary>Every transaction: checks the register number (field 5) and follows the shift's time span.</summary>
    public void Transaction(ReportFields fields, long registerNumber, DateTime at)
    {
        if (_registerNumber is { } expected && registerNumber != expected)
            throw fields.Error(RegisterFileError.WrongStoreOrRegister, 5, "POS number",
                options.RegisterNumber is null
                    ? $"This transaction is from register {registerNumber}, the ones before from register {expected}: one register per file."
                    : $"This transaction is from register {registerNumber}, but this exchange folder belongs to register {expected}.");
        _registerNumber = registerNumber;
        _openedAt ??= at;
        _lastAt = at;
    }

    /// <summary>A shift number seen on a line (Frontol field 14, a Z record); all must agree.</summary>
    public void Shift(ReportFields fields, int field, long shiftNumber)
    {
        if (_shiftNumber is { } known && known != shiftNumber)
            throw fields.Error(RegisterFileError.SeveralShifts, field, "shift number",
                $"This line is of shift {shiftNumber}, line {_shiftLine} of shift {known}: a report holds one shift; export each shift to its own file.");
        _shiftNumber = shiftNumber;
        _shiftLine = fields.LineNumber;
    }

    /// <summary>Refuses receipt records after the Z record (Кассир, whose lines carry no shift number: anything after the Z is the next shift).</summary>
    public void NotAfterZ(ReportFields fields)
    {
        if (_zAt is not null)
            throw new RegisterFileException(RegisterFileError.SeveralShifts, path, fields.LineNumber, null,
                $"This receipt record comes after the Z record of line {_zLine}, so it belongs to the next shift: a report holds one shift.");
    }

    public OpenReceipt Receipt(ReportFields fields, long number)
    {
        if (_open.TryGetValue(number, out var receipt)) return receipt;
        if (_closedNumbers.Contains(number))
            throw fields.Error(RegisterFileError.DuplicateReceipt, 6, "receipt number",
                $"Receipt {number} was already closed earlier in this shift; two receipts with one number cannot both be applied.");
        if (_closedNumbers.Count + _open.Count >= ReportLimits.MaxReceipts)
            throw fields.Error(RegisterFileError.TooLarge, 6, "receipt number", $"The report has more than {ReportLimits.MaxReceipts:N0} receipts.");
        receipt = new OpenReceipt(number, fields.LineNumber);
        _open.Add(number, receipt);
        return receipt;
    }

    public void AddLine(ReportFields fields, OpenReceipt receipt, ReportLine line)
    {
        if (receipt.LinesSeen >= ReportLimits.MaxLinesPerReceipt)
            throw fields.Error(RegisterFileError.TooLarge, 6, "receipt number",
                $"Receipt {receipt.Number} has more than {ReportLimits.MaxLinesPerReceipt:N0} lines.");
        receipt.LinesSeen++;
        receipt.Lines.Add(line);
    }

    /// <summary>
    /// A storno voids the latest line of the receipt with the same goods code and quantity, as
    /// OpenPapyrus does for both formats (frontol.cpp, Shtrihmf.cpp: "удаляем предшествующую строку,
    /// имеющую тот же товар и то же количество").
    /// </summary>
    public void Storno(ReportFields fields, OpenReceipt receipt, string sku, long quantityMilli)
    {
        receipt.LinesSeen++;
        for (var index = receipt.Lines.Count - 1; index >= 0; index--)
        {
            if (receipt.Lines[index].Sku == sku && receipt.Lines[index].QuantityMilli == quantityMilli)
            {
                receipt.Lines.RemoveAt(index);
                return;
            }
        }
        throw fields.Error(RegisterFileError.StornoWithoutLine, 8, "goods code",
            $"The storno of goods {sku} × {DecimalText.Format(quantityMilli, DecimalText.MilliScale, '.')} matches no line of receipt {receipt.Number}.");
    }

    public void AddPayment(ReportFields fields, OpenReceipt receipt, string typeCode, long amountKopecks)
    {
        if (receipt.Payments.Count >= ReportLimits.MaxPaymentsPerReceipt)
            throw fields.Error(RegisterFileError.TooLarge, 6, "receipt number",
                $"Receipt {receipt.Number} has more than {ReportLimits.MaxPaymentsPerReceipt} payments.");
        receipt.Payments.Add(new ReportPayment(typeCode, amountKopecks, options.BonusPaymentTypeCodes.Contains(typeCode)));
    }

    public void Close(ReportFields fields, long number, ReceiptKind kind, string? cardNumber, ReceiptReference? returnOf, DateTime at)
    {
        var receipt = Receipt(fields, number);
        _open.Remove(number);
        _closedNumbers.Add(number);
        var card = cardNumber ?? receipt.CardFromDiscountDetail;
        _receipts.Add(new ReportReceipt(number, kind, card, at,
            kind == ReceiptKind.Cancelled ? [] : receipt.Lines.ToArray(),
            kind == ReceiptKind.Cancelled ? [] : receipt.Payments.ToArray(),
            kind == ReceiptKind.Return ? returnOf : null, fields.LineNumber));
    }

    public void ZRecord(ReportFields fields, int shiftField, long shiftNumber, long? totalKopecks, DateTime at)
    {
        Shift(fields, shiftField, shiftNumber);
        _zAt ??= at;
        _zTotal ??= totalKopecks;
        if (_zLine == 0) _zLine = fields.LineNumber;
    }

    public ShiftReport Build(string sha256, string? reportNumber, string? databaseId)
    {
        if (_open.Count > 0)
        {
            var first = _open.Values.MinBy(receipt => receipt.FirstLine)!;
            throw new RegisterFileException(RegisterFileError.ReceiptNotClosed, path, first.FirstLine, "field 6 (receipt number)",
                $"Receipt {first.Number} has lines or payments from this line on but no close (55) or cancel (56) record: the file is truncated or the receipt is still open.");
        }
        if (_zAt is null && options.RequireZRecord)
            throw new RegisterFileException(RegisterFileError.ShiftNotClosed, path, 0, null,
                _shiftNumber is { } shift
                    ? $"The report has no Z record (61): shift {shift} is not closed yet, and only a closed shift is reconciled. Wait for the report that closes it."
                    : "The report has no Z record (61): the shift is not closed yet, and only a closed shift is reconciled.");
        if (_openedAt is null || _registerNumber is null || _shiftNumber is null)
            throw new RegisterFileException(RegisterFileError.Malformed, path, 0, null,
                "The report holds no transaction that names its shift, so it cannot be a shift's report.");
        return new ShiftReport(options.StoreId, options.RegisterId, _registerNumber.Value, _shiftNumber.Value, _openedAt.Value,
            _zAt ?? _lastAt!.Value, format, sha256, _zAt is not null, _zTotal, reportNumber, databaseId, _receipts.ToArray());
    }

    internal sealed class OpenReceipt(long number, long firstLine)
    {
        public long Number { get; } = number;
        public long FirstLine { get; } = firstLine;
        public List<ReportLine> Lines { get; } = new();
        public List<ReportPayment> Payments { get; } = new();
        public int LinesSeen { get; set; }
        public bool HasReturnLine { get; set; }
        public string? CardFromDiscountDetail { get; set; }
    }
}
