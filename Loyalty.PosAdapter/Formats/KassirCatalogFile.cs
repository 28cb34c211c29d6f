using System.Text;

namespace Loyalty.PosAdapter.Formats;

/// <summary>
/// Кассир 5 catalog load file with discount-card records (protocols.md §3.3), Windows-1251, CR LF.
/// <code>
/// ##@@&amp;&amp;                                  line 1: header [guess: §3.3 says "a header line", its text was not seen]
/// #                                       line 2: '#' = to load; Papyrus writes it (Shtrihmf.cpp)
/// %0000123456789;;;150.00;;0;1;;1;;;;0;;;;;
/// </code>
/// Each card is one <c>%</c> record of 18 fields (§3.3; written as Papyrus' <c>ExportSCard</c> does):
/// 1 card number (text: leading zeros kept, field-cases A4); 2 owner and 3 receipt text empty (no
/// personal data goes to registers); <b>4 accumulated sum = the offline spendable amount</b> in roubles
/// with a dot (Кассир writes dots, field-cases A3); 5 auto-discount scheme empty; 6 card blocked 1/0
/// (blocked and closed cards: 1); 7 "do not accumulate" 1, because accrual is the server's, done when
/// the report is processed (DENSY seed), and a register accumulating too would count it twice;
/// 9 "usable as payment" 1, so the register can take bonuses up to field 4 [guess: how Кассир spends
/// the accumulated sum is not described]; 13 accumulative-discount scheme 0; 8, 10–12, 14–18 unused.
/// The writer streams: one card in memory at a time.
/// </summary>
public static class KassirCatalogFile
{
    /// <summary>Fields of a <c>%</c> record (§3.3: 1–18).</summary>
    public const int CardFields = 18;

    /// <summary>Writes the cards atomically to <paramref name="path"/>, cards-only or after the goods of <see cref="CatalogWriteOptions.EmbedIntoGoodsFile"/>; then the flag file, if any.</summary>
    public static async Task<CatalogWriteResult> WriteAsync(string path, IAsyncEnumerable<CatalogCard> cards, CatalogWriteOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new CatalogWriteOptions();
        // The Кассир header text is not known (§3.3), so an embedded goods file's line 1 is taken as it is.
        var embed = CatalogFileParts.ShouldEmbed(options.EmbedIntoGoodsFile, signature: "");
        var result = await AtomicFile.WriteAsync(path, async (stream, token) =>
        {
            if (embed) CatalogFileParts.CopyGoods(options.EmbedIntoGoodsFile!, stream);
            await using var writer = new StreamWriter(stream, RegisterEncodings.Windows1251, CatalogLimits.WriteBufferBytes, leaveOpen: true) { NewLine = CatalogFileParts.LineEnd };
            if (!embed)
            {
                writer.WriteLine(CatalogFileParts.Signature);
                writer.WriteLine(CatalogFileParts.ToLoadFlag);
            }
            long count = 0;
            var line = new StringBuilder(128);
            await foreach (var card in cards.WithCancellation(token))
            {
                count++;
                CatalogFileParts.Check(path, count, card);
                line.Clear()
                    .Append('%').Append(card.CardNumber).Append(';')                       // 1 card number
                    .Append(';')                                                           // 2 owner
                    .Append(';')                                                           // 3 receipt text
                    .Append(DecimalText.Format(card.OfflineSpendableKopecks, 2, '.')).Append(';') // 4 accumulated sum
                    .Append(';')                                                           // 5 auto-discount scheme
                    .Append(card.Status == CardStatus.Active ? '0' : '1').Append(';')      // 6 card blocked
                    .Append("1;")                                                          // 7 do not accumulate
                    .Append(';')                                                           // 8 unused
                    .Append("1;")                                                          // 9 usable as payment
                    .Append(";;;")                                                         // 10–12 unused
                    .Append("0;")                                                          // 13 accumulative scheme
                    .Append(";;;;");                                                       // 14–17 unused, 18 empty
                writer.WriteLine(line);
            }
            await writer.FlushAsync(token);
            return new CatalogWriteResult(path, RegisterFormat.Kassir5, count, embed, stream.Length);
        }, cancellationToken);
        CatalogFileParts.Flag(options);
        return result;
    }

    /// <inheritdoc cref="WriteAsync(string, IAsyncEnumerable{CatalogCard}, CatalogWriteOptions?, CancellationToken)"/>
    public static Task<CatalogWriteResult> WriteAsync(string path, IEnumerable<CatalogCard> cards, CatalogWriteOptions? options = null, CancellationToken cancellationToken = default) =>
        WriteAsync(path, CatalogFileParts.AsAsync(cards), options, cancellationToken);

    /// <summary>
    /// Reads the <c>%</c> records of a Кассир load file back (goods and other records are skipped),
    /// for golden tests and for checking what a register was given. Errors: <see cref="RegisterFileException"/>.
    /// </summary>
    public static IReadOnlyList<CatalogFileCard> Read(string path)
    {
        var cards = new List<CatalogFileCard>();
        using var source = new ReportLineSource(path, TextEncodingChoice.Windows1251);
        string? text;
        while ((text = source.ReadLine()) is not null)
        {
            // "%" alone is a discount card; "%^" and similar are other record kinds (§3.3).
            if (!text.StartsWith('%') || text.Length < 2 || text[1] is '^') continue;
            var fields = ReportFields.Split(path, source.LineNumber, text[1..]);
            fields.RequireAtLeast(9, "discount card");
            var number = fields.CardNumber(1, "card number")
                ?? throw fields.Error(RegisterFileError.Malformed, 1, "card number", "The card number is empty.");
            var blocked = fields.Text(6) switch
            {
                "1" => true,
                "0" or "" => false,
                var other => throw fields.Error(RegisterFileError.Malformed, 6, "card blocked", $"'{other}' is neither 0 nor 1."),
            };
            cards.Add(new CatalogFileCard(number, blocked, fields.Text(4).Length == 0 ? 0 : fields.Kopecks(4, "accumulated sum")));
        }
        return cards;
    }
}
