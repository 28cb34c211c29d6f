using Loyalty.Api.Auth;
using Loyalty.Api.Grpc;
using CardStatus = Loyalty.Grains.Domain.CardStatus;
using Loyalty.Grains.Runtime;
using Loyalty.Protos.V1;
using static Loyalty.Api.Services.ProtoMapping;

namespace Loyalty.Api.Services;

/// <summary>Back-office operations; every one needs an admin key, and the key's name goes into the ledger as "who did it".</summary>
public sealed class AdminService(CardDirectory cards, ApiKeyStore keys, Access access) : Admin.AdminBase
{
    /// <summary>The service's full name on the wire.</summary>
    public const string Name = "loyalty.v1.Admin";
    private const int DefaultStatementPageSize = 50;

    public override async Task<CreateApiKeyReply> CreateApiKey(CreateApiKeyRequest request, ServerCallContext context)
    {
        access.Admin(context);
        var role = ApiKeyStore.ParseRole(request.Role)
            ?? throw Rpc.Error(StatusCode.InvalidArgument, $"The role must be pos, accountant or admin; \"{request.Role}\" was given.");
        var issued = await keys.CreateAsync(role, request.StoreId, request.Name, request.OfficeRegisterId, context.CancellationToken);
        return new CreateApiKeyReply
        {
            ApiKey = issued.ApiKey,
            KeyId = issued.Caller.KeyId,
            Role = ApiKeyStore.RoleName(issued.Caller.Role),
            StoreId = issued.Caller.StoreId ?? "",
            Name = issued.Caller.Name,
            OfficeRegisterId = issued.Caller.OfficeRegisterId ?? "",
        };
    }

    public override async Task<ListApiKeysReply> ListApiKeys(ListApiKeysRequest request, ServerCallContext context)
    {
        access.Admin(context);
        var reply = new ListApiKeysReply();
        reply.Keys.AddRange((await keys.ListAsync(request.IncludeRevoked, context.CancellationToken)).Select(ToWire));
        return reply;
    }

    public override async Task<ApiKeyInfo> RevokeApiKey(RevokeApiKeyRequest request, ServerCallContext context)
    {
        access.Admin(context);
        return ToWire(await keys.RevokeAsync(request.KeyId, context.CancellationToken));
    }

    public override async Task<Protos.V1.Program> SetProgram(SetProgramRequest request, ServerCallContext context)
    {
        access.Admin(context);
        return ToWire(await cards.Programs.SetAsync(ToDomain(request)));
    }

    public override async Task<Protos.V1.Program> GetProgram(GetProgramRequest request, ServerCallContext context)
    {
        access.Admin(context);
        var id = string.IsNullOrEmpty(request.ProgramId) ? ProgramCatalog.DefaultProgramId : request.ProgramId;
        return ToWire(await cards.Programs.GetAsync(id));
    }

    public override async Task<Card> IssueCard(IssueCardRequest request, ServerCallContext context)
    {
        access.Admin(context);
        var programId = string.IsNullOrEmpty(request.ProgramId) ? ProgramCatalog.DefaultProgramId : request.ProgramId;
        var card = await cards.Card(request.CardNumber).IssueAsync(programId, NullIfEmpty(request.Phone), NullIfEmpty(request.Email), context.CancellationToken);
        return ToWire(card);
    }

    public override async Task<Card> BlockCard(BlockCardRequest request, ServerCallContext context)
    {
        access.Admin(context);
        return ToWire(await cards.Card(request.CardNumber).SetStatusAsync(OperationIdOrNew(request.OperationId), CardStatus.Blocked, request.Reason, context.CancellationToken));
    }

    public override async Task<Card> UnblockCard(UnblockCardRequest request, ServerCallContext context)
    {
        access.Admin(context);
        return ToWire(await cards.Card(request.CardNumber).SetStatusAsync(OperationIdOrNew(request.OperationId), CardStatus.Active, request.Reason, context.CancellationToken));
    }

    public override async Task<Card> Adjust(AdjustRequest request, ServerCallContext context)
    {
        var caller = access.Admin(context);
        return ToWire(await cards.Card(request.CardNumber).AdjustAsync(request.OperationId, request.Amount, request.Reason, caller.Actor, context.CancellationToken));
    }

    public override async Task<GetStatementReply> GetStatement(GetStatementRequest request, ServerCallContext context)
    {
        access.Admin(context);
        var pageSize = request.PageSize == 0 ? DefaultStatementPageSize : request.PageSize;
        var page = await cards.Card(request.CardNumber).GetStatementAsync(pageSize, NullIfEmpty(request.PageToken), context.CancellationToken);
        return ToWire(page);
    }

    public override async Task<TransferCardReply> TransferCard(TransferCardRequest request, ServerCallContext context)
    {
        var caller = access.Admin(context);
        var (source, target) = await cards.TransferAsync(request.OperationId, request.SourceCardNumber, request.TargetCardNumber,
            request.IssueTarget, request.Reason, caller.Actor, context.CancellationToken);
        return new TransferCardReply { Source = ToWire(source), Target = ToWire(target) };
    }

    private static string? NullIfEmpty(string value) => string.IsNullOrEmpty(value) ? null : value;

    /// <summary>Blocking and unblocking set a state, so repeating one is harmless; without an id each request is its own operation.</summary>
    private static string OperationIdOrNew(string operationId) =>
        string.IsNullOrEmpty(operationId) ? $"status-{Guid.NewGuid():N}" : operationId;
}
