using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Loyalty.Api.Auth;
using Loyalty.Grains.Runtime;
using CardExport = Loyalty.Grains.Storage.CardExport;
using ExportWatermark = Loyalty.Grains.Storage.ExportWatermark;
using ExportedCard = Loyalty.Protos.V1.ExportedCard;
using Loyalty.Protos.V1;
using static Loyalty.Api.Services.ExchangeMapping;

namespace Loyalty.Api.Services;

/// <summary>
/// The offline exchange with stores: catalog cards down, closed shifts' reports up. Proto in, one
/// domain call, proto out; the reconciliation rules are in <c>Domain/ShiftReconciliation.cs</c>.
/// A pos key acts for its own store only; an admin key for any; an accountant may read shifts.
/// </summary>
public sealed class ExchangeService(CardDirectory cards, Access access) : Exchange.ExchangeBase
{
    /// <summary>The service's full name on the wire.</summary>
    public const string Name = "loyalty.v1.Exchange";

    private IShiftGrain Shift(Grains.Domain.ShiftKey shift) => cards.Grains.GetGrain<IShiftGrain>(IShiftGrain.KeyOf(shift));

    public override async Task ExportCards(ExportCardsRequest request, IServerStreamWriter<ExportedCard> responseStream, ServerCallContext context)
    {
        access.RegisterOfStore(context, request.StoreId);
        var export = new CardExport(cards.Store.DataSource, cards.Programs);
        ExportWatermark? watermark = null;
        var first = true;
        await foreach (var card in export.StreamAsync(w => watermark = w, context.CancellationToken))
        {
            if (first)
            {
                // The first message says as of when the figures are, before any card (see the proto).
                await responseStream.WriteAsync(new ExportedCard { Watermark = Timestamp.FromDateTimeOffset(watermark!.At), LedgerPosition = watermark.LedgerPosition });
                first = false;
            }
            await responseStream.WriteAsync(ToWire(card));
        }
        if (first && watermark is not null)
            await responseStream.WriteAsync(new ExportedCard { Watermark = Timestamp.FromDateTimeOffset(watermark.At), LedgerPosition = watermark.LedgerPosition });
    }

    public override async Task<ShiftReconciliation> UploadShiftReport(ShiftReport request, ServerCallContext context)
    {
        access.RegisterOfStore(context, request.StoreId);
        var report = ToDomain(request);
        // Checked before the shift's grain is addressed by the report's own key.
        Grains.Domain.ShiftReconciliation.Validate(report);
        return ToWire(await Shift(report.Shift).UploadAsync(report, context.CancellationToken));
    }

    public override async Task<ShiftReconciliation> GetShift(GetShiftRequest request, ServerCallContext context)
    {
        access.ReaderOfStore(context, request.StoreId);
        Grains.Domain.Validate.Identifier(request.StoreId, "store id");
        Grains.Domain.Validate.Identifier(request.RegisterId, "register id");
        var shift = await Shift(new Grains.Domain.ShiftKey(request.StoreId, request.RegisterId, request.ShiftNumber)).GetAsync(context.CancellationToken)
            ?? throw new Grains.Domain.CardException(Grains.Domain.CardErrorCode.NotFound,
                $"Shift {request.StoreId}/{request.RegisterId}/{request.ShiftNumber} has no reconciled report.");
        return ToWire(shift);
    }
}
