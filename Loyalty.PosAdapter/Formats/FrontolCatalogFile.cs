using System.Text;

namespace Loyalty.PosAdapter.Formats;

/// <summary>
/// Frontol catalog load file with the bonus cards (protocols.md §3.1), Windows-1251, CR LF:
/// <code>
/// ##@@&amp;&amp;                       line 1: signature (§3.1)
/// #                            line 2: '#' = to load; Frontol turns it into '@' once loaded (§3.1 [mem])
/// $$$ADDCCARDDISCS             discount cards: the register recognises the card at receipt close
/// 1;1;0000123456789;;;1;0;0;1;;;;;;;
/// $$$ADDCARDGROUPS             one payment-card group for the bonuses
/// 1;Бонусы;Бонусы;0;1;
/// $$$ADDCARDS                  the same cards as payment cards: field 12 is the bonus balance
/// 1;0000123456789;;;13;13;;;;;;150.00;1
/// </code>
/// <para>
/// <b>Which field carries the balance, and why.</b> The discount-card record (<c>$$$ADDCCARDDISCS</c>,
/// as OpenPapyrus writes it: id; group; code; valid from; valid to; active; 0; discount %; 1; 10–16
/// empty) has no amount field in any public description: fields 7–9 are discount settings and
/// 10–16 are empty (§3.1, Open questions). Putting the balance in an unused field would be a value
/// Frontol ignores. The only amount a Frontol register can <i>spend</i> that the load file sets is
/// the face value of a payment card (certificate or credit card, <c>$$$ADDCARDS</c> field 12, in a
/// group whose field 5 is 1 = "use the face value", §3.1). So the offline spendable amount goes
/// into field 12 of a <c>$$$ADDCARDS</c> record with the card number as its code, and the sales
/// report then shows bonus spending as a payment of that card (§3.2 payment fields 15–16; field-cases
/// C3: "bonuses as a payment type", which <see cref="FrontolReportReader"/> normalises). The discount
/// card record stays, with a 0 % discount, so the card's number reaches record 55 field 8 for
/// accrual. [guess: that Frontol spends a payment card's face value across receipts as a balance is
/// not confirmed by a public source; check against the "Формат обмена Frontol" document.]
/// </para>
/// <para>
/// Fields written: discount card 1 id (<see cref="CatalogWriteOptions.FrontolFirstCardId"/> + ordinal),
/// 2 group, 3 card number (text: leading zeros kept, field-cases A4), 4–5 dates empty (no limit),
/// 6 1 active / 0 blocked or closed, 7 0, 8 discount 0 %, 9 1. Payment-card group: code, name and
/// receipt text "Бонусы", input method 0 (manual), 5 = 1 (face value), 6 empty. Payment card: 1 group,
/// 2 card number, 3–4 empty, 5–6 the number's length, 7–11 empty, 12 spendable roubles with a dot
/// (§3.1 example "1500.00"), 13 state 1 active / 0 not.
/// </para>
/// The writer streams with memory flat in the card count: the payment-card section, which must come
/// after all discount cards, is spilled to a temporary file and appended.
/// </summary>
public static class FrontolCatalogFile
{
    public const string AddDiscountCards = "$$$ADDCCARDDISCS";
    public const string DeleteAllDiscountCards = "$$$DELETEALLCCARDDISCS";
    public const string AddCardGroups = "$$$ADDCARDGROUPS";
    public const string AddCards = "$$$ADDCARDS";
    public const string DeleteAllCards = "$$$DELETEALLCARDS";

    /// <summary>Name and receipt text of the bonus payment-card group.</summary>
    public const string BonusGroupName = "Бонусы";

    /// <summary>Writes the cards atomically to <paramref name="path"/>, cards-only or after the goods of <see cref="CatalogWriteOptions.EmbedIntoGoodsFile"/>; then the flag file, if any.</summary>
    public static async Task<CatalogWriteResult> WriteAsync(string path, IAsyncEnumerable<CatalogCard> cards, CatalogWriteOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new CatalogWriteOptions();
        var embed = CatalogFileParts.ShouldEmbed(options.EmbedIntoGoodsFile, CatalogFileParts.Signature);
        var result = await AtomicFile.WriteAsync(path, async (stream, token) =>
        {
            if (embed) CatalogFileParts.CopyGoods(options.EmbedIntoGoodsFile!, stream);
            var spillPath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.spill");
            await using var spill = new FileStream(spillPath, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, CatalogLimits.WriteBufferBytes, FileOptions.DeleteOnClose);
            long count;
            await using (var writer = new StreamWriter(stream, RegisterEncodings.Windows1251, CatalogLimits.WriteBufferBytes, leaveOpen: true) { NewLine = CatalogFileParts.LineEnd })
            await using (var paymentCards = new StreamWriter(spill, RegisterEncodings.Windows1251, CatalogLimits.WriteBufferBytes, leaveOpen: true) { NewLine = CatalogFileParts.LineEnd })
            {
                if (!embed)
                {
                    writer.WriteLine(CatalogFileParts.Signature);
                    writer.WriteLine(CatalogFileParts.ToLoadFlag);
                }
                if (options.ReplaceAllCards) writer.WriteLine(DeleteAllDiscountCards);
                writer.WriteLine(AddDiscountCards);
                paymentCards.WriteLine(AddCardGroups);
                paymentCards.WriteLine($"{options.FrontolBonusCardGroupCode};{BonusGroupName};{BonusGroupName};0;1;");
                if (options.ReplaceAllCards) paymentCards.WriteLine(DeleteAllCards);
                paymentCards.WriteLine(AddCards);

                count = 0;
                var line = new StringBuilder(128);
                await foreach (var card in cards.WithCancellation(token))
                {
                    count++;
                    CatalogFileParts.Check(path, count, card);
                    var active = card.Status == CardStatus.Active ? '1' : '0';
                    line.Clear()
                        .Append(options.FrontolFirstCardId + count - 1).Append(';')  // 1 card id
                        .Append(options.FrontolDiscountCardGroupCode).Append(';')      // 2 group
                        .Append(card.CardNumber).Append(';')                           // 3 card code
                        .Append(";;")                                                  // 4–5 valid from/to
                        .Append(active).Append(';')                                    // 6 active
                        .Append("0;0;1;")                                              // 7, 8 discount 0 %, 9
                        .Append(";;;;;;");                                             // 10–15 empty, 16 empty
                    writer.WriteLine(line);
                    line.Clear()
                        .Append(options.FrontolBonusCardGroupCode).Append(';')         // 1 group
                        .Append(card.CardNumber).Append(';')                           // 2 code
                        .Append(";;")                                                  // 3–4 name, receipt text
                        .Append(card.CardNumber.Length).Append(';')                    // 5 min length
                        .Append(card.CardNumber.Length).Append(';')                    // 6 max length
                        .Append(";;;;;")                                               // 7–11
                        .Append(DecimalText.Format(card.OfflineSpendableKopecks, 2, '.')).Append(';') // 12 face value
                        .Append(active);                                               // 13 state
                    paymentCards.WriteLine(line);
                }
                await paymentCards.FlushAsync(token);
                await writer.FlushAsync(token);
            }
            spill.Position = 0;
            await spill.CopyToAsync(stream, CatalogLimits.WriteBufferBytes, token);
            return new CatalogWriteResult(path, RegisterFormat.Frontol, count, embed, stream.Length);
        }, cancellationToken);
        CatalogFileParts.Flag(options);
        return result;
    }

    /// <inheritdoc cref="WriteAsync(string, IAsyncEnumerable{CatalogCard}, CatalogWriteOptions?, CancellationToken)"/>
    public static Task<CatalogWriteResult> WriteAsync(string path, IEnumerable<CatalogCard> cards, CatalogWriteOptions? options = null, CancellationToken cancellationToken = default) =>
        WriteAsync(path, CatalogFileParts.AsAsync(cards), options, cancellationToken);

    /// <summary>
    /// Reads the cards of a Frontol load file back: discount cards in file order, each with the face
    /// value of the payment card of the same number in <paramref name="bonusGroupCode"/> (0 when it
    /// has none); a card is blocked when either record says so. Goods and other sections are skipped.
    /// For golden tests and for checking what a register was given. Errors: <see cref="RegisterFileException"/>.
    /// </summary>
    public static IReadOnlyList<CatalogFileCard> Read(string path, long bonusGroupCode = 1)
    {
        var discountCards = new List<(string Number, bool Active)>();
        var faceValues = new Dictionary<string, (long Kopecks, bool Active)>(StringComparer.Ordinal);
        using var source = new ReportLineSource(path, TextEncodingChoice.Windows1251);
        string? section = null;
        string? text;
        while ((text = source.ReadLine()) is not null)
        {
            if (source.LineNumber <= 2) continue;
            if (text.StartsWith("$$$", StringComparison.Ordinal))
            {
                section = text.Trim();
                continue;
            }
            if (section == AddDiscountCards)
            {
                var fields = ReportFields.Split(path, source.LineNumber, text);
                fields.RequireAtLeast(6, "discount card");
                var number = fields.CardNumber(3, "card code") ?? throw fields.Error(RegisterFileError.Malformed, 3, "card code", "The card code is empty.");
                discountCards.Add((number, fields.Text(6) == "1"));
            }
            else if (section == AddCards)
            {
                var fields = ReportFields.Split(path, source.LineNumber, text);
                fields.RequireAtLeast(13, "payment card");
                if (fields.Integer(1, "group code") != bonusGroupCode) continue;
                var number = fields.CardNumber(2, "card code") ?? throw fields.Error(RegisterFileError.Malformed, 2, "card code", "The card code is empty.");
                faceValues[number] = (fields.Kopecks(12, "face value"), fields.Text(13) == "1");
            }
        }
        return discountCards.Select(card =>
        {
            var hasValue = faceValues.TryGetValue(card.Number, out var value);
            return new CatalogFileCard(card.Number, !card.Active || (hasValue && !value.Active), hasValue ? value.Kopecks : 0);
        }).ToArray();
    }
}
