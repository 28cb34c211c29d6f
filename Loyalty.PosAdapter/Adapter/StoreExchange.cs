using System.Runtime.CompilerServices;
using Loyalty.PosAdapter.Client;
using Loyalty.PosAdapter.Formats;
using WireCardStatus = Loyalty.Protos.V1.CardStatus;

namespace Loyalty.PosAdapter.Adapter;

/// <summary>The steps the CLI and the store adapter share: the server's cards as catalog cards, a catalog file by format, a sales report by format.</summary>
public static class StoreExchange
{
    /// <summary>The store's cards from the server as the catalog writers take them, each stamped with the export's watermark.</summary>
    public static async IAsyncEnumerable<CatalogCard> CatalogCardsAsync(LoyaltyClient client, string storeId, Action<DateTimeOffset>? asOf = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var watermark = DateTimeOffset.MinValue;
        await foreach (var card in client.ExportCardsAsync(storeId, cancellationToken: cancellationToken))
        {
            if (card.Watermark is not null)
            {
                watermark = card.Watermark.ToDateTimeOffset();
                asOf?.Invoke(watermark);
                continue;
            }
            // A closed card is as good as blocked to a register: it may not spend anything.
            yield return new CatalogCard(card.CardNumber, card.Status == WireCardStatus.Active ? CardStatus.Active : CardStatus.Blocked,
                card.OfflineSpendable, card.Balance, watermark);
        }
    }

    /// <summary>Writes a catalog load file in <paramref name="format"/> (kassir, frontol or csv).</summary>
    /// <exception cref="ArgumentException">An unknown format.</exception>
    public static Task<CatalogWriteResult> WriteCatalogAsync(string format, string path, IAsyncEnumerable<CatalogCard> cards, CancellationToken cancellationToken = default) =>
        format switch
        {
            "kassir" => KassirCatalogFile.WriteAsync(path, cards, cancellationToken: cancellationToken),
            "frontol" => FrontolCatalogFile.WriteAsync(path, cards, cancellationToken: cancellationToken),
            "csv" => CsvCatalogFile.WriteAsync(path, cards, cancellationToken: cancellationToken),
            _ => throw new ArgumentException($"'{format}' is not kassir, frontol or csv.", nameof(format)),
        };

    /// <summary>Reads a sales report in <paramref name="format"/> (frontol or kassir). Errors: <see cref="RegisterFileException"/>.</summary>
    /// <exception cref="ArgumentException">An unknown format.</exception>
    public static ShiftReport ReadReport(string format, string path, ReportReadOptions options, CancellationToken cancellationToken = default) =>
        format switch
        {
            "frontol" => FrontolReportReader.Read(path, options, cancellationToken),
            "kassir" => KassirReportReader.Read(path, options, cancellationToken),
            _ => throw new ArgumentException($"'{format}' is not frontol or kassir.", nameof(format)),
        };
}
