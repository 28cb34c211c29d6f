namespace Loyalty.PosAdapter.Formats;

/// <summary>How a catalog load file is written.</summary>
public sealed record CatalogWriteOptions
{
    /// <summary>
    /// A back-office goods load file found in the exchange folder (may be the output path itself).
    /// When it exists and is still waiting to be loaded (line 2 is '#'), the output is its bytes,
    /// untouched, followed by the cards; when the register has already loaded it (line 2 '@', §3.1),
    /// its goods must not be loaded again, so a cards-only file is written. Frontol and Кассир only.
    /// The card lines are ASCII, so the goods file's own encoding does not matter.
    /// </summary>
    public string? EmbedIntoGoodsFile { get; init; }

    /// <summary>
    /// An empty flag file created after the data file is in place, for registers set up to load
    /// only when it appears (OpenPapyrus writes one next to the data file, §3.1). Null: none.
    /// </summary>
    public string? FlagFilePath { get; init; }

    /// <summary>
    /// Frontol: write <c>$$$DELETEALLCCARDDISCS</c> and <c>$$$DELETEALLCARDS</c> before the cards,
    /// so the file replaces every card on the register. Off by default: it would also delete the
    /// back office's own discount cards and gift certificates; every card of the store is in each
    /// export anyway (blocked and closed ones as blocked), so adding over the old ones updates them.
    /// </summary>
    public bool ReplaceAllCards { get; init; }

    /// <summary>Frontol: discount-card group code (discount-card field 2).</summary>
    public long FrontolDiscountCardGroupCode { get; init; } = 1;

    /// <summary>Frontol: code of the payment-card group the bonus balances belong to (<c>$$$ADDCARDGROUPS</c> field 1).</summary>
    public long FrontolBonusCardGroupCode { get; init; } = 1;

    /// <summary>Frontol: the first discount-card id (field 1, numeric); cards are numbered from it in export order.</summary>
    public long FrontolFirstCardId { get; init; } = 1;
}

/// <summary>What a catalog writer did.</summary>
/// <param name="EmbeddedIntoGoodsFile">True when the goods file's bytes lead the output; false for a cards-only file.</param>
/// <param name="Bytes">Size of the file written.</param>
public sealed record CatalogWriteResult(string Path, RegisterFormat Format, long CardCount, bool EmbeddedIntoGoodsFile, long Bytes);

/// <summary>Shared pieces of the catalog writers: card checks, the load-file header and flag, goods embedding.</summary>
internal static class CatalogFileParts
{
    /// <summary>Line 1 of a Frontol load file (§3.1); used for Кассир too, whose header text was not seen (§3.3: "Frontol-like"; a guess).</summary>
    public const string Signature = "##@@&&";

    /// <summary>Line 2: '#' = still to load (§3.1).</summary>
    public const string ToLoadFlag = "#";

    /// <summary>Line 2 after the register loaded the file: '@' (§3.1 [mem]; field-cases notes it as "the usual convention").</summary>
    public const string LoadedFlag = "@";

    /// <summary>Registers of both formats run on Windows: CR LF, as Papyrus' text-mode fprintf writes.</summary>
    public const string LineEnd = "\r\n";

    public static async IAsyncEnumerable<T> AsAsync<T>(IEnumerable<T> items)
    {
        foreach (var item in items)
        {
            yield return item;
        }
        await Task.CompletedTask;
    }

    /// <summary>Refuses a card no register could read back the same: empty or long numbers, characters beyond letters, digits and "-_./", amounts out of bounds.</summary>
    public static void Check(string path, long ordinal, CatalogCard card)
    {
        string? reason = null;
        if (string.IsNullOrEmpty(card.CardNumber)) reason = "The card number is empty.";
        else if (card.CardNumber.Length > CatalogLimits.MaxCardNumberLength) reason = $"The card number is longer than {CatalogLimits.MaxCardNumberLength} characters.";
        else if (!card.CardNumber.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '/'))
            reason = $"The card number '{card.CardNumber}' has a character other than a letter, a digit or -_./ (';' and ',' separate fields in the register formats).";
        else if (card.OfflineSpendableKopecks is < 0 or > Money.MaxAmountKopecks) reason = $"The offline spendable amount {card.OfflineSpendableKopecks} kopecks is negative or beyond {Money.MaxAmountKopecks:N0}.";
        else if (card.BalanceKopecks is < -Money.MaxAmountKopecks or > Money.MaxAmountKopecks) reason = $"The balance {card.BalanceKopecks} kopecks is beyond ±{Money.MaxAmountKopecks:N0}.";
        if (reason is not null)
            throw new RegisterFileException(RegisterFileError.InvalidCard, path, ordinal, "card number", $"Card {ordinal} of the export cannot be written: {reason}");
    }

    /// <summary>
    /// Decides whether to embed into the goods file: true when it exists with '#' on line 2; false
    /// when it is absent or already loaded ('@'). Anything else is not a load file and is refused.
    /// </summary>
    public static bool ShouldEmbed(string? goodsPath, string signature)
    {
        if (goodsPath is null || !File.Exists(goodsPath)) return false;
        using var reader = new StreamReader(goodsPath, RegisterEncodings.Windows1251, detectEncodingFromByteOrderMarks: false);
        var first = reader.ReadLine();
        var second = reader.ReadLine();
        if (first is null || second is null || (signature.Length > 0 && first.Trim() != signature))
            throw new RegisterFileException(RegisterFileError.Malformed, goodsPath, first is null ? 0 : 1, null,
                $"The goods file does not start with the load-file signature '{signature}' and a flag line.");
        return second.Trim() switch
        {
            ToLoadFlag => true,
            LoadedFlag => false,
            var other => throw new RegisterFileException(RegisterFileError.Malformed, goodsPath, 2, null,
                $"Line 2 of the goods file is '{other}', neither '#' (to load) nor '@' (loaded)."),
        };
    }

    /// <summary>Copies the goods file byte for byte, then a line end if its last line has none, so our first line stands alone.</summary>
    public static void CopyGoods(string goodsPath, Stream output)
    {
        using var goods = new FileStream(goodsPath, FileMode.Open, FileAccess.Read, FileShare.Read, CatalogLimits.WriteBufferBytes, FileOptions.SequentialScan);
        goods.CopyTo(output, CatalogLimits.WriteBufferBytes);
        if (goods.Length > 0)
        {
            goods.Position = goods.Length - 1;
            if (goods.ReadByte() != '\n') output.Write("\r\n"u8);
        }
    }

    public static void Flag(CatalogWriteOptions options)
    {
        if (options.FlagFilePath is { } flag) AtomicFile.WriteEmptyFlag(flag);
    }
}
