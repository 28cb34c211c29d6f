using Google.Protobuf.WellKnownTypes;
using Loyalty.Api.Grpc;
using Loyalty.Grains.Domain;
using Loyalty.Grains.Storage;
using V1 = Loyalty.Protos.V1;

namespace Loyalty.Api.Services;

/// <summary>
/// Wire messages to domain values and back, explicitly, field by field. Missing sub-messages are
/// refused here with INVALID_ARGUMENT; every other check belongs to the domain.
/// </summary>
internal static class ProtoMapping
{
    public static ReceiptRef ToDomain(V1.ReceiptRef? wire, string field) =>
        wire is null
            ? throw Rpc.Error(StatusCode.InvalidArgument, $"The {field} is missing.")
            : new ReceiptRef(wire.StoreId, wire.RegisterId, wire.ShiftNumber, wire.ReceiptNumber);

    public static Receipt ToDomain(V1.Receipt? wire)
    {
        if (wire is null)
            throw Rpc.Error(StatusCode.InvalidArgument, "The receipt is missing.");
        var lines = new ReceiptLine[wire.Lines.Count];
        for (var i = 0; i < lines.Length; i++)
        {
            var l = wire.Lines[i];
            lines[i] = new ReceiptLine(l.Sku, l.Category, l.Name, l.QuantityMilli, l.Price, l.Amount);
        }
        return new Receipt(ToDomain(wire.Ref, "receipt reference (store, register, shift, number)"), lines);
    }

    public static ReturnedLine[] ToDomain(IReadOnlyList<V1.ReturnedLine> wire) =>
        wire.Select(l => new ReturnedLine(l.Sku, l.QuantityMilli)).ToArray();

    public static V1.Card ToWire(CardView card) => new()
    {
        CardNumber = card.Number,
        Status = card.Status switch
        {
            CardStatus.Active => V1.CardStatus.Active,
            CardStatus.Blocked => V1.CardStatus.Blocked,
            _ => V1.CardStatus.Closed,
        },
        Balance = card.BalanceKopecks,
        Available = card.AvailableKopecks,
        Held = card.HeldKopecks,
        Pending = card.PendingKopecks,
        ProgramId = card.ProgramId,
        Version = card.Version,
        Phone = card.Phone ?? "",
        Email = card.Email ?? "",
        MovedTo = card.MovedTo ?? "",
    };

    public static V1.ReceiptRef ToWire(ReceiptRef r) => new()
    {
        StoreId = r.StoreId,
        RegisterId = r.RegisterId,
        ShiftNumber = r.ShiftNumber,
        ReceiptNumber = r.ReceiptNumber,
    };

    /// <summary>The discounts, line by line in receipt order, with what stays to be paid with money.</summary>
    public static IEnumerable<V1.LineDiscount> LineDiscounts(Receipt receipt, IReadOnlyList<long> discounts) =>
        receipt.Lines.Select((line, i) => new V1.LineDiscount
        {
            Sku = line.Sku,
            Discount = discounts[i],
            AmountAfter = line.AmountKopecks - discounts[i],
        });

    public static V1.LedgerEntry ToWire(LedgerEntry e)
    {
        var wire = new V1.LedgerEntry
        {
            CardNumber = e.CardNumber,
            OperationId = e.OperationId,
            EntryNumber = e.EntryNumber,
            Kind = (V1.LedgerKind)((int)e.Kind + 1),
            Amount = e.AmountKopecks,
            HeldDelta = e.HeldDeltaKopecks,
            PendingDelta = e.PendingDeltaKopecks,
            BalanceAfter = e.BalanceAfterKopecks,
            AvailableAfter = e.AvailableAfterKopecks,
            VersionAfter = e.VersionAfter,
            Offline = e.Offline,
            Reason = e.Reason ?? "",
            Actor = e.Actor ?? "",
            At = Timestamp.FromDateTimeOffset(e.At),
        };
        if (e.Receipt is { } receipt) wire.Receipt = ToWire(receipt);
        return wire;
    }

    public static V1.GetStatementReply ToWire(StatementPage page)
    {
        var reply = new V1.GetStatementReply { NextPageToken = page.NextPageToken ?? "" };
        reply.Entries.AddRange(page.Entries.Select(ToWire));
        return reply;
    }

    public static ProgramSettings ToDomain(V1.SetProgramRequest wire) => new()
    {
        ProgramId = string.IsNullOrEmpty(wire.ProgramId) ? Grains.Runtime.ProgramCatalog.DefaultProgramId : wire.ProgramId,
        AccrualBasisPoints = wire.AccrualBp,
        CategoryRates = new Dictionary<string, int>(wire.CategoryRates),
        ExcludedCategories = new HashSet<string>(wire.ExcludedCategories),
        MaxRedeemPercent = wire.MaxRedeemPercent,
        MinLineAmountKopecks = wire.MinLineAmount,
        HoldTimeoutSeconds = wire.HoldTimeoutSeconds,
        AccrualDelayDays = wire.AccrualDelayDays,
        ExpiryDays = wire.ExpiryDays,
    };

    public static V1.Program ToWire(ProgramSettings settings)
    {
        var wire = new V1.Program
        {
            ProgramId = settings.ProgramId,
            AccrualBp = settings.AccrualBasisPoints,
            MaxRedeemPercent = settings.MaxRedeemPercent,
            MinLineAmount = settings.MinLineAmountKopecks,
            HoldTimeoutSeconds = settings.HoldTimeoutSeconds,
            AccrualDelayDays = settings.AccrualDelayDays,
            ExpiryDays = settings.ExpiryDays,
        };
        wire.CategoryRates.Add(settings.CategoryRates.ToDictionary());
        wire.ExcludedCategories.AddRange(settings.ExcludedCategories.Order(StringComparer.Ordinal));
        return wire;
    }

    public static V1.ApiKeyInfo ToWire(Auth.ApiKeyRecord key)
    {
        var wire = new V1.ApiKeyInfo
        {
            KeyId = key.Caller.KeyId,
            Role = Auth.ApiKeyStore.RoleName(key.Caller.Role),
            StoreId = key.Caller.StoreId ?? "",
            Name = key.Caller.Name,
            CreatedAt = Timestamp.FromDateTimeOffset(key.CreatedAt),
            OfficeRegisterId = key.Caller.OfficeRegisterId ?? "",
        };
        if (key.RevokedAt is { } revokedAt) wire.RevokedAt = Timestamp.FromDateTimeOffset(revokedAt);
        return wire;
    }
}
