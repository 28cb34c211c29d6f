namespace Loyalty.Grains.Domain;

/// <summary>Input checks shared by every command. Each failure is a sentence naming the field and the bound.</summary>
public static class Validate
{
    public static void Identifier(string? value, string field)
    {
        if (string.IsNullOrWhiteSpace(value))
            throw Invalid($"The {field} is missing.");
        if (value.Length > Limits.MaxIdentifierLength)
            throw Invalid($"The {field} is {value.Length} characters long; at most {Limits.MaxIdentifierLength} are allowed.");
        foreach (var c in value)
            if (char.IsControl(c) || char.IsSurrogate(c))
                throw Invalid($"The {field} contains a control or invalid character.");
    }

    /// <summary>Card numbers are 1–32 Latin letters or digits: what a barcode or magnetic stripe carries.</summary>
    public static void CardNumber(string? value)
    {
        if (string.IsNullOrEmpty(value))
            throw Invalid("The card number is missing.");
        if (value.Length > 32 || !value.All(char.IsAsciiLetterOrDigit))
            throw Invalid("A card number is 1 to 32 Latin letters or digits.");
    }

    /// <param name="system">True for the server's own operations (reconciliation), whose ids must carry the reserved prefix.</param>
    public static void OperationId(string? value, bool system = false)
    {
        Identifier(value, "operation id");
        if (value!.StartsWith(CardChange.SystemOperationPrefix, StringComparison.Ordinal) != system)
            throw Invalid(system
                ? $"The server's own operation ids start with \"{CardChange.SystemOperationPrefix}\"; {value} does not."
                : $"Operation ids starting with \"{CardChange.SystemOperationPrefix}\" are reserved for the server's own ledger rows.");
    }

    public static void Text(string? value, string field, bool required)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            if (required) throw Invalid($"The {field} is missing.");
            return;
        }
        if (value.Length > Limits.MaxTextLength)
            throw Invalid($"The {field} is {value.Length} characters long; at most {Limits.MaxTextLength} are allowed.");
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            var paired = char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]);
            if (c == '\0' || (char.IsSurrogate(c) && !paired))
                throw Invalid($"The {field} contains an invalid character.");
            if (paired) i++;
        }
    }

    public static void PositiveAmount(long amount, string field)
    {
        if (amount <= 0)
            throw Invalid($"The {field} must be positive; {amount} kopecks was given.");
        if (amount > Limits.MaxAmountKopecks)
            throw Invalid($"The {field} of {amount} kopecks exceeds the limit of {Limits.MaxAmountKopecks} kopecks.");
    }

    public static void SignedAmount(long amount, string field)
    {
        if (amount == 0)
            throw Invalid($"The {field} must not be zero.");
        if (amount is > Limits.MaxAmountKopecks or < -Limits.MaxAmountKopecks)
            throw Invalid($"The {field} of {amount} kopecks exceeds the limit of ±{Limits.MaxAmountKopecks} kopecks.");
    }

    public static void Receipt(Receipt? receipt)
    {
        if (receipt is null) throw Invalid("The receipt is missing.");
        ReceiptRef(receipt.Ref);
        if (receipt.Lines is null || receipt.Lines.Count == 0)
            throw Invalid($"Receipt {receipt.Ref} has no lines.");
        if (receipt.Lines.Count > Limits.MaxReceiptLines)
            throw Invalid($"Receipt {receipt.Ref} has {receipt.Lines.Count} lines; at most {Limits.MaxReceiptLines} are allowed.");
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < receipt.Lines.Count; i++)
        {
            var line = receipt.Lines[i];
            var where = $"line {i + 1} of receipt {receipt.Ref}";
            Identifier(line.Sku, $"SKU of {where}");
            Identifier(line.Category, $"category of {where}");
            Text(line.Name, $"name of {where}", required: false);
            // SKUs are the key by which a later return names its lines, so each appears once;
            // a register that scanned an item twice sends one line with the summed quantity.
            if (!seen.Add(line.Sku))
                throw Invalid($"SKU {line.Sku} appears more than once in receipt {receipt.Ref}; send one line per SKU with the total quantity.");
            if (line.QuantityMilli <= 0 || line.QuantityMilli > Limits.MaxQuantityMilli)
                throw Invalid($"The quantity of {where} must be between 1 and {Limits.MaxQuantityMilli} thousandths; {line.QuantityMilli} was given.");
            if (line.PriceKopecks < 0 || line.PriceKopecks > Limits.MaxAmountKopecks)
                throw Invalid($"The price of {where} must be between 0 and {Limits.MaxAmountKopecks} kopecks; {line.PriceKopecks} was given.");
            if (line.AmountKopecks < 0 || line.AmountKopecks > Limits.MaxAmountKopecks)
                throw Invalid($"The amount of {where} must be between 0 and {Limits.MaxAmountKopecks} kopecks; {line.AmountKopecks} was given.");
        }
        // 1,000 lines of at most 10^12 each cannot overflow a long (10^15 < 9.2 * 10^18).
    }

    public static void ReceiptRef(ReceiptRef? reference)
    {
        if (reference is null) throw Invalid("The receipt reference (store, register, shift, receipt number) is missing.");
        Identifier(reference.StoreId, "store id");
        Identifier(reference.RegisterId, "register id");
        if (reference.ShiftNumber <= 0) throw Invalid($"The shift number must be positive; {reference.ShiftNumber} was given.");
        if (reference.ReceiptNumber <= 0) throw Invalid($"The receipt number must be positive; {reference.ReceiptNumber} was given.");
    }

    public static CardException Invalid(string message) => new(CardErrorCode.InvalidArgument, message);
}
