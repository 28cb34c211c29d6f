using Loyalty.Api.Grpc;

namespace Loyalty.Api.Auth;

/// <summary>
/// Who may call what, in one place: a register (pos) works the Cards service for receipts of its
/// own store; an accountant reads; an admin does everything. Every authenticated call is also
/// charged to its key's request rate (<see cref="KeyRateLimiter"/>). <see cref="AuthenticateAsync"/> runs
/// in <see cref="AuthInterceptor"/> before any handler; the handlers then ask for the role and store
/// they need, which the interceptor cannot know (the store is inside the request).
/// </summary>
public sealed class Access(ApiKeyStore keys, KeyRateLimiter rate)
{
    private const string BearerPrefix = "Bearer ";

    /// <summary>Verifies the call's key (UNAUTHENTICATED otherwise), charges its rate (RESOURCE_EXHAUSTED over it) and remembers the caller for the checks below.</summary>
    public async ValueTask<Caller> AuthenticateAsync(ServerCallContext context)
    {
        var header = context.RequestHeaders.GetValue("authorization");
        if (header is null)
            throw Rpc.Error(StatusCode.Unauthenticated, "The call carries no API key; send it as \"authorization: Bearer <key>\".");
        if (!header.StartsWith(BearerPrefix, StringComparison.OrdinalIgnoreCase))
            throw Rpc.Error(StatusCode.Unauthenticated, "The authorization metadata must read \"Bearer <key>\".");
        var caller = await keys.VerifyAsync(header[BearerPrefix.Length..].Trim(), context.CancellationToken)
            ?? throw Rpc.Error(StatusCode.Unauthenticated, "The API key is not valid: unknown, revoked or mistyped.");
        rate.Charge(caller);
        context.UserState[typeof(Caller)] = caller;
        return caller;
    }

    /// <summary>The caller <see cref="AuthenticateAsync"/> verified for this call.</summary>
    private static Caller Authenticated(ServerCallContext context) =>
        context.UserState.TryGetValue(typeof(Caller), out var caller) && caller is Caller known
            ? known
            // Only a service mapped outside loyalty.v1 could get here; refuse rather than serve it unchecked.
            : throw Rpc.Error(StatusCode.Unauthenticated, "The call carries no verified API key; send it as \"authorization: Bearer <key>\".");

    /// <summary>Reads of a card: any key.</summary>
    public Caller Reader(ServerCallContext context) => Authenticated(context);

    /// <summary>A read about a receipt of store <paramref name="storeId"/> (a quote): an admin or accountant, or a register of that store.</summary>
    public Caller ReaderOfStore(ServerCallContext context, string? storeId)
    {
        var caller = Authenticated(context);
        if (caller.Role == Role.Pos && caller.StoreId != storeId)
            throw OtherStore(caller, storeId);
        return caller;
    }

    /// <summary>A receipt operation of store <paramref name="storeId"/>: an admin, or a register of that store.</summary>
    public Caller RegisterOfStore(ServerCallContext context, string? storeId)
    {
        var caller = Authenticated(context);
        switch (caller.Role)
        {
            case Role.Admin:
                return caller;
            case Role.Pos when caller.StoreId == storeId:
                return caller;
            case Role.Pos:
                throw OtherStore(caller, storeId);
            default:
                throw Rpc.Error(StatusCode.PermissionDenied, $"{Article(caller.Role)} {ApiKeyStore.RoleName(caller.Role)} key may not act for a register; use a pos or admin key.");
        }
    }

    private static string Article(Role role) => role == Role.Accountant || role == Role.Admin ? "An" : "A";

    /// <summary>
    /// The office register's own side of its print queue (its feed of jobs, their results): an admin,
    /// or the pos key made for that office register of that store. A driver's key of the same store
    /// may submit and read, but not mark a job printed nor take the feed with its customers' data.
    /// </summary>
    public Caller OfficeRegister(ServerCallContext context, string? storeId, string? officeRegisterId)
    {
        var caller = RegisterOfStore(context, storeId);
        if (caller.Role == Role.Admin || (caller.OfficeRegisterId is { } own && own == officeRegisterId)) return caller;
        throw Rpc.Error(StatusCode.PermissionDenied,
            $"Office register {storeId}/{officeRegisterId}'s print feed and results need that register's own key (CreateApiKey with office_register_id {officeRegisterId}) or an admin key; " +
            (caller.OfficeRegisterId is null ? "this is a driver's key of the store." : $"this key is office register {caller.OfficeRegisterId}'s."));
    }

    /// <summary>A balance operation not tied to one receipt's store (cancelling a hold): an admin or any register (the store is checked on the hold).</summary>
    public Caller Register(ServerCallContext context)
    {
        var caller = Authenticated(context);
        return caller.Role is Role.Admin or Role.Pos
            ? caller
            : throw Rpc.Error(StatusCode.PermissionDenied, $"{Article(caller.Role)} {ApiKeyStore.RoleName(caller.Role)} key may not change balances; use a pos or admin key.");
    }

    public Caller Admin(ServerCallContext context)
    {
        var caller = Authenticated(context);
        return caller.Role == Role.Admin
            ? caller
            : throw Rpc.Error(StatusCode.PermissionDenied, $"The Admin service needs an admin key; this is a {ApiKeyStore.RoleName(caller.Role)} key.");
    }

    /// <summary>The accountant's service (shifts, resolutions, debts, liability): an accountant or an admin; a register may not.</summary>
    public Caller Accountant(ServerCallContext context) => Accountant(Authenticated(context));

    /// <summary>The same rule for a caller known otherwise (a web session): the key's role decides.</summary>
    public static Caller Accountant(Caller caller) => caller.Role is Role.Accountant or Role.Admin
        ? caller
        : throw Rpc.Error(StatusCode.PermissionDenied, $"The accountant's workplace needs an accountant or admin key; this is a {ApiKeyStore.RoleName(caller.Role)} key.");

    private static RpcException OtherStore(Caller caller, string? storeId) => Rpc.Error(StatusCode.PermissionDenied,
        $"This key belongs to a register of store {caller.StoreId}; it may not act for store {(string.IsNullOrEmpty(storeId) ? "(none given)" : storeId)}.");
}
