using Loyalty.Api.Grpc;

namespace Loyalty.Api.Auth;

/// <summary>
/// Who may call what, in one place: a register (pos) works the Cards service for receipts of its
/// own store; an accountant reads; an admin does everything. Every authenticated call is also
/// charged to its key's request rate (<see cref="KeyRateLimiter"/>).
/// </summary>
public sealed class Access(ApiKeyStore keys, KeyRateLimiter rate)
{
    private const string BearerPrefix = "Bearer ";

    public async ValueTask<Caller> AuthenticateAsync(ServerCallContext context)
    {
        var header = context.Header("authorization");
        if (header is null)
            throw new RpcException(StatusCode.Unauthenticated, "The call carries no API key; send it as \"authorization: Bearer <key>\".");
        if (!header.StartsWith(BearerPrefix, StringComparison.OrdinalIgnoreCase))
            throw new RpcException(StatusCode.Unauthenticated, "The authorization metadata must read \"Bearer <key>\".");
        var caller = await keys.VerifyAsync(header[BearerPrefix.Length..].Trim(), context.CancellationToken)
            ?? throw new RpcException(StatusCode.Unauthenticated, "The API key is not valid: unknown, revoked or mistyped.");
        rate.Charge(caller);
        return caller;
    }

    /// <summary>Reads of a card: any key.</summary>
    public ValueTask<Caller> ReaderAsync(ServerCallContext context) => AuthenticateAsync(context);

    /// <summary>A read about a receipt of store <paramref name="storeId"/> (a quote): an admin or accountant, or a register of that store.</summary>
    public async ValueTask<Caller> ReaderOfStoreAsync(ServerCallContext context, string? storeId)
    {
        var caller = await AuthenticateAsync(context);
        if (caller.Role == Role.Pos && caller.StoreId != storeId)
            throw OtherStore(caller, storeId);
        return caller;
    }

    /// <summary>A receipt operation of store <paramref name="storeId"/>: an admin, or a register of that store.</summary>
    public async ValueTask<Caller> RegisterOfStoreAsync(ServerCallContext context, string? storeId)
    {
        var caller = await AuthenticateAsync(context);
        switch (caller.Role)
        {
            case Role.Admin:
                return caller;
            case Role.Pos when caller.StoreId == storeId:
                return caller;
            case Role.Pos:
                throw OtherStore(caller, storeId);
            default:
                throw new RpcException(StatusCode.PermissionDenied, $"A {ApiKeyStore.RoleName(caller.Role)} key may not change balances; use a pos or admin key.");
        }
    }

    /// <summary>A balance operation not tied to one receipt's store (cancelling a hold): an admin or any register (the store is checked on the hold).</summary>
    public async ValueTask<Caller> RegisterAsync(ServerCallContext context)
    {
        var caller = await AuthenticateAsync(context);
        return caller.Role is Role.Admin or Role.Pos
            ? caller
            : throw new RpcException(StatusCode.PermissionDenied, $"A {ApiKeyStore.RoleName(caller.Role)} key may not change balances; use a pos or admin key.");
    }

    public async ValueTask<Caller> AdminAsync(ServerCallContext context)
    {
        var caller = await AuthenticateAsync(context);
        return caller.Role == Role.Admin
            ? caller
            : throw new RpcException(StatusCode.PermissionDenied, $"The Admin service needs an admin key; this is a {ApiKeyStore.RoleName(caller.Role)} key.");
    }

    private static RpcException OtherStore(Caller caller, string? storeId) => new(StatusCode.PermissionDenied,
        $"This key belongs to a register of store {caller.StoreId}; it may not act on receipts of store {(string.IsNullOrEmpty(storeId) ? "(none given)" : storeId)}.");
}
