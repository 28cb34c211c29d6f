using System.Globalization;
using CsvHelper;

namespace Loyalty.PosAdapter.Formats;

/// <summary>
/// This project's own catalog file for scripted tills and tools: UTF-8 without a byte-order mark,
/// ';' between fields, CR LF line ends (RFC 4180, written by CsvHelper), one header line:
/// <code>
/// card_number;status;offline_spendable_kopecks;balance_kopecks;watermark_utc
/// 0000123456789;active;15000;15000;2026-03-01T10:00:00.000Z
/// </code>
/// <list type="bullet">
/// <item><c>card_number</c>: text; leading zeros are part of it (field-cases A4). Open the file as
/// text, never let a spreadsheet turn it into a number.</item>
/// <item><c>status</c>: <c>active</c>, <c>blocked</c> or <c>closed</c>; a till sells on a card only when active.</item>
/// <item><c>offline_spendable_kopecks</c>: whole kopecks (1 rouble = 100) the till may let the
/// customer spend offline: the available balance, capped by the programme's offline limit, 0 for
/// blocked or closed cards and cards in debt. The only figure a till should decide on.</item>
/// <item><c>balance_kopecks</c>: the card's balance (negative = a debt), for display.</item>
/// <item><c>watermark_utc</c>: as of when the server computed the row, ISO 8601 UTC with milliseconds.</item>
/// </list>
/// Numbers are plain digits with an optional '-', no separators, whatever the machine's culture.
/// There is no flag line: the file is replaced atomically, so a till that opens it sees a whole one.
/// </summary>
public static class CsvCatalogFile
{
    public static readonly string[] Header = ["card_number", "status", "offline_spendable_kopecks", "balance_kopecks", "watermark_utc"];

    private const string WatermarkFormat = "yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'fff'Z'";

    private static readonly CsvWriterOptions WriterOptions = new()
    {
        Separator = ';',
        NewLine = "\r\n",
        WriteByteOrderMark = false,
    };

    private static readonly CsvReaderOptions ReaderOptions = new()
    {
        Separator = ';',
        // The header is checked here, as a record, so that a wrong one is named in the error.
        HasHeader = false,
        MalformedData = CsvMalformedDataHandling.Throw,
        TrackLineNumbers = true,
        // A row is under 150 bytes; a longer one (an unclosed quote swallowing the file) is refused.
        MaxRecordSize = MaxRowBytes,
    };

    /// <summary>Longest row the reader accepts, in bytes.</summary>
    public const int MaxRowBytes = 1024;

    /// <summary>Writes the cards atomically to <paramref name="path"/>, then the flag file, if any. Embedding into a goods file does not apply to this format.</summary>
    public static async Task<CatalogWriteResult> WriteAsync(string path, IAsyncEnumerable<CatalogCard> cards, CatalogWriteOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new CatalogWriteOptions();
        if (options.EmbedIntoGoodsFile is not null)
            throw new ArgumentException("The CSV catalog is a cards-only file; it cannot be embedded into a goods file.", nameof(options));
        var result = await AtomicFile.WriteAsync(path, async (stream, token) =>
        {
            long count = 0;
            await using (var csv = CsvWriter.Create(stream, WriterOptions, leaveOpen: true))
            {
                csv.WriteHeader(Header);
                await foreach (var card in cards.WithCancellation(token))
                {
                    count++;
                    CatalogFileParts.Check(path, count, card);
                    csv.WriteField(card.CardNumber);
                    csv.WriteField(StatusText(card.Status));
                    csv.WriteField(card.OfflineSpendableKopecks.ToString(CultureInfo.InvariantCulture));
                    csv.WriteField(card.BalanceKopecks.ToString(CultureInfo.InvariantCulture));
                    csv.WriteField(card.Watermark.UtcDateTime.ToString(WatermarkFormat, CultureInfo.InvariantCulture));
                    csv.EndRecord();
                }
                await csv.FlushAsync(token);
            }
            return new CatalogWriteResult(path, RegisterFormat.Csv, count, false, stream.Length);
        }, cancellationToken);
        CatalogFileParts.Flag(options);
        return result;
    }

    /// <inheritdoc cref="WriteAsync(string, IAsyncEnumerable{CatalogCard}, CatalogWriteOptions?, CancellationToken)"/>
    public static Task<CatalogWriteResult> WriteAsync(string path, IEnumerable<CatalogCard> cards, CatalogWriteOptions? options = null, CancellationToken cancellationToken = default) =>
        WriteAsync(path, CatalogFileParts.AsAsync(cards), options, cancellationToken);

    /// <summary>
    /// Reads a catalog CSV back, one card at a time (streaming). Refuses a file that is not UTF-8,
    /// has another header, a row with another field count, an unknown status, or a number that is
    /// not plain digits, with a <see cref="RegisterFileException"/> naming the line and field.
    /// </summary>
    public static IEnumerable<CatalogCard> Read(string path)
    {
        using var csv = CsvReader.FromFile(path, ReaderOptions, FileOptions.SequentialScan);
        var row = 0L;
        while (true)
        {
            bool more;
            try
            {
                more = csv.Read();
            }
            catch (CsvFormatException error)
            {
                throw new RegisterFileException(RegisterFileError.Malformed, path, row + 1, null, $"The line is not valid CSV: {FirstLine(error.Message)}");
            }
            if (!more) yield break;
            row++;
            var line = csv.LineNumber;
            var fields = new string[csv.FieldCount];
            for (var index = 0; index < fields.Length; index++) fields[index] = csv.GetString(index);
            // CsvHelper reads UTF-8; bytes that are not UTF-8 come out as U+FFFD, which no catalog row has.
            if (fields.Any(field => field.Contains('\uFFFD')))
                throw new RegisterFileException(RegisterFileError.WrongEncoding, path, line, null, "The line is not valid UTF-8.");
            if (fields.Length != Header.Length)
                throw new RegisterFileException(RegisterFileError.WrongFieldCount, path, line, null, $"The line has {fields.Length} fields; a catalog row has {Header.Length}.");
            if (row == 1)
            {
                if (!fields.SequenceEqual(Header))
                    throw new RegisterFileException(RegisterFileError.Malformed, path, line, null, $"The header is '{string.Join(';', fields)}', not '{string.Join(';', Header)}'.");
                continue;
            }
            var status = fields[1] switch
            {
                "active" => CardStatus.Active,
                "blocked" => CardStatus.Blocked,
                "closed" => CardStatus.Closed,
                var other => throw new RegisterFileException(RegisterFileError.Malformed, path, line, "field 2 (status)", $"'{other}' is not active, blocked or closed."),
            };
            var spendable = Whole(path, line, fields[2], 3, "offline_spendable_kopecks");
            if (spendable < 0) throw new RegisterFileException(RegisterFileError.AbsurdAmount, path, line, "field 3 (offline_spendable_kopecks)", "The offline spendable amount is negative.");
            if (!DateTimeOffset.TryParseExact(fields[4], WatermarkFormat, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var watermark))
                throw new RegisterFileException(RegisterFileError.Malformed, path, line, "field 5 (watermark_utc)", $"'{fields[4]}' is not written {WatermarkFormat}.");
            yield return new CatalogCard(fields[0], status, spendable, Whole(path, line, fields[3], 4, "balance_kopecks"), watermark.ToUniversalTime());
        }
    }

    private static long Whole(string path, long line, string text, int field, string name)
    {
        if (!DecimalText.TryParse(text, 0, out var value) || text.Contains('.') || text.Contains(',') || Math.Abs(value) > Money.MaxAmountKopecks)
            throw new RegisterFileException(RegisterFileError.Malformed, path, line, $"field {field} ({name})", $"'{text}' is not a whole number of kopecks within ±{Money.MaxAmountKopecks:N0}.");
        return value;
    }

    private static string StatusText(CardStatus status) => status switch
    {
        CardStatus.Active => "active",
        CardStatus.Blocked => "blocked",
        _ => "closed",
    };

    private static string FirstLine(string text) => text.Split('\n')[0].Trim();
}
