using Google.Protobuf.WellKnownTypes;
using Loyalty.Api.Auth;
using Loyalty.Api.Grpc;
using Loyalty.Grains.Runtime;
using Loyalty.Protos.V1;
using static Loyalty.Api.Services.ProtoMapping;

namespace Loyalty.Api.Services;

/// <summary>The POS side of the card: proto in, one grain call, proto out. No rule of the programme lives here.</summary>
public sealed class CardsService(CardDirectory cards, Access access) : Cards.CardsBase
{
    /// <summary>The service's full name on the wire.</summary>
    public const string Name = "loyalty.v1.Cards";

    public override async Task<Card> GetCard(GetCardRequest request, ServerCallContext context)
    {
        access.Reader(context);
        return ToWire(await cards.Card(request.CardNumber).GetAsync(context.CancellationToken));
    }

    public override async Task<QuoteReply> Quote(QuoteRequest request, ServerCallContext context)
    {
        var receipt = ToDomain(request.Receipt);
        access.ReaderOfStore(context, receipt.Ref.StoreId);
        var quote = await cards.Card(request.CardNumber).QuoteAsync(receipt, request.RequestedRedeem, context.CancellationToken);
        var reply = new QuoteReply { MaxRedeem = quote.MaxRedeemKopecks, Redeem = quote.RedeemKopecks, Accrual = quote.AccrualKopecks };
        reply.Lines.AddRange(LineDiscounts(receipt, quote.LineDiscounts));
        return reply;
    }

    public override async Task<RedeemReply> Redeem(RedeemRequest request, ServerCallContext context)
    {
        var receipt = ToDomain(request.Receipt);
        access.RegisterOfStore(context, receipt.Ref.StoreId);
        var hold = await cards.Card(request.CardNumber).RedeemAsync(request.OperationId, receipt, request.Amount, context.CancellationToken);
        var reply = new RedeemReply
        {
            HoldId = hold.HoldId,
            Amount = hold.AmountKopecks,
            ExpiresAt = Timestamp.FromDateTimeOffset(hold.ExpiresAt),
            Card = ToWire(hold.Card),
        };
        reply.Lines.AddRange(LineDiscounts(receipt, hold.LineDiscounts));
        return reply;
    }

    public override async Task<CommitReply> Commit(CommitRequest request, ServerCallContext context)
    {
        var receipt = ToDomain(request.Receipt);
        access.RegisterOfStore(context, receipt.Ref.StoreId);
        var holdId = string.IsNullOrEmpty(request.HoldId) ? null : request.HoldId;
        RefusePrintQueueOperationId(request.OperationId);
        var result = await cards.Card(request.CardNumber).CommitAsync(request.OperationId, receipt, holdId, context.CancellationToken);
        return new CommitReply
        {
            Redeemed = result.RedeemedKopecks,
            Accrued = result.AccruedKopecks,
            Card = ToWire(result.Card),
            AccrualAvailableAt = Timestamp.FromDateTimeOffset(result.AccrualAvailableAt),
        };
    }

    public override async Task<CancelReply> Cancel(CancelRequest request, ServerCallContext context)
    {
        var caller = access.Register(context);
        // A register may cancel only holds made for its own store's receipts; the card checks it in its turn.
        var storeId = caller.Role == Auth.Role.Pos ? caller.StoreId : null;
        RefusePrintQueueOperationId(request.OperationId);
        var result = await cards.CancelHoldAsync(request.OperationId, request.HoldId, context.CancellationToken, storeId);
        return new CancelReply { Released = result.ReleasedKopecks, Card = ToWire(result.Card) };
    }

    /// <summary>
    /// The office register's print queue commits and cancels the holds its jobs own under operation ids
    /// of its own (<see cref="Grains.Domain.PrintQueue.OperationIdPrefix"/>); a client may not use them,
    /// or it could settle such a hold by hand (INVALID_ARGUMENT).
    /// </summary>
    private static void RefusePrintQueueOperationId(string operationId)
    {
        if (operationId.StartsWith(Grains.Domain.PrintQueue.OperationIdPrefix, StringComparison.Ordinal))
            throw Grpc.Rpc.Error(StatusCode.InvalidArgument, $"operation_id '{operationId}': ids starting with '{Grains.Domain.PrintQueue.OperationIdPrefix}' are the office register's print queue's own.");
    }

    public override async Task<RefundReply> Refund(RefundRequest request, ServerCallContext context)
    {
        var original = ToDomain(request.Original, "original receipt reference");
        access.RegisterOfStore(context, original.StoreId);
        var result = await cards.Card(request.CardNumber).RefundAsync(request.OperationId, original, ToDomain(request.Lines), context.CancellationToken);
        return new RefundReply
        {
            AccrualReversed = result.AccrualReversedKopecks,
            RedeemRestored = result.RedeemRestoredKopecks,
            Card = ToWire(result.Card),
        };
    }
}
