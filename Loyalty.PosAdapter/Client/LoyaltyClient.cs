using Grpc.Health.V1;
using Loyalty.Protos.V1;

namespace Loyalty.PosAdapter.Client;

/// <summary>
/// Typed calls of the loyalty.v1 Cards and Admin services and grpc.health.v1.Health. One instance
/// per process is enough: it is thread-safe and multiplexes concurrent calls over HTTP/2.
/// Every call throws <see cref="RpcException"/> on failure; writes carry the caller's operation id,
/// so a call that failed with UNAVAILABLE or DEADLINE_EXCEEDED may be repeated as it is
/// (see <see cref="RetryPolicy"/>).
/// </summary>
public sealed class LoyaltyClient : IDisposable
{
    public static class Methods
    {
        public const string GetCard = "/loyalty.v1.Cards/GetCard";
        public const string Quote = "/loyalty.v1.Cards/Quote";
        public const string Redeem = "/loyalty.v1.Cards/Redeem";
        public const string Commit = "/loyalty.v1.Cards/Commit";
        public const string Cancel = "/loyalty.v1.Cards/Cancel";
        public const string Refund = "/loyalty.v1.Cards/Refund";

        public const string CreateApiKey = "/loyalty.v1.Admin/CreateApiKey";
        public const string ListApiKeys = "/loyalty.v1.Admin/ListApiKeys";
        public const string RevokeApiKey = "/loyalty.v1.Admin/RevokeApiKey";
        public const string SetProgram = "/loyalty.v1.Admin/SetProgram";
        public const string GetProgram = "/loyalty.v1.Admin/GetProgram";
        public const string IssueCard = "/loyalty.v1.Admin/IssueCard";
        public const string BlockCard = "/loyalty.v1.Admin/BlockCard";
        public const string UnblockCard = "/loyalty.v1.Admin/UnblockCard";
        public const string Adjust = "/loyalty.v1.Admin/Adjust";
        public const string GetStatement = "/loyalty.v1.Admin/GetStatement";
        public const string TransferCard = "/loyalty.v1.Admin/TransferCard";

        public const string HealthCheck = "/grpc.health.v1.Health/Check";
        public const string HealthWatch = "/grpc.health.v1.Health/Watch";
    }

    private readonly GrpcChannel _channel;
    private readonly bool _ownsChannel;

    public LoyaltyClient(GrpcChannelOptions options)
        : this(new GrpcChannel(options), ownsChannel: true)
    {
    }

    /// <summary>Over a channel shared with other clients; disposing this client leaves the channel open.</summary>
    public LoyaltyClient(GrpcChannel channel)
        : this(channel, ownsChannel: false)
    {
    }

    private LoyaltyClient(GrpcChannel channel, bool ownsChannel)
    {
        _channel = channel ?? throw new ArgumentNullException(nameof(channel));
        _ownsChannel = ownsChannel;
    }

    /// <summary>A client for <paramref name="address"/> (e.g. http://127.0.0.1:5080) with the default limits.</summary>
    public static LoyaltyClient Create(string address, string? apiKey, TimeSpan? defaultTimeout = null) =>
        new(new GrpcChannelOptions
        {
            Address = new Uri(address, UriKind.Absolute),
            ApiKey = apiKey,
            DefaultTimeout = defaultTimeout ?? TimeSpan.FromSeconds(10),
        });

    public GrpcChannel Channel => _channel;

    // Cards: what a terminal does.

    public Task<Card> GetCardAsync(string cardNumber, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        _channel.UnaryCallAsync(Methods.GetCard, new GetCardRequest { CardNumber = cardNumber }, Card.Parser, options, cancellationToken);

    public Task<QuoteReply> QuoteAsync(QuoteRequest request, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        _channel.UnaryCallAsync(Methods.Quote, request, QuoteReply.Parser, options, cancellationToken);

    public Task<RedeemReply> RedeemAsync(RedeemRequest request, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        _channel.UnaryCallAsync(Methods.Redeem, request, RedeemReply.Parser, options, cancellationToken);

    public Task<CommitReply> CommitAsync(CommitRequest request, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        _channel.UnaryCallAsync(Methods.Commit, request, CommitReply.Parser, options, cancellationToken);

    public Task<CancelReply> CancelAsync(CancelRequest request, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        _channel.UnaryCallAsync(Methods.Cancel, request, CancelReply.Parser, options, cancellationToken);

    public Task<RefundReply> RefundAsync(RefundRequest request, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        _channel.UnaryCallAsync(Methods.Refund, request, RefundReply.Parser, options, cancellationToken);

    // Admin: the back office.

    public Task<CreateApiKeyReply> CreateApiKeyAsync(CreateApiKeyRequest request, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        _channel.UnaryCallAsync(Methods.CreateApiKey, request, CreateApiKeyReply.Parser, options, cancellationToken);

    public Task<ListApiKeysReply> ListApiKeysAsync(ListApiKeysRequest request, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        _channel.UnaryCallAsync(Methods.ListApiKeys, request, ListApiKeysReply.Parser, options, cancellationToken);

    public Task<ApiKeyInfo> RevokeApiKeyAsync(RevokeApiKeyRequest request, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        _channel.UnaryCallAsync(Methods.RevokeApiKey, request, ApiKeyInfo.Parser, options, cancellationToken);

    public Task<Program> SetProgramAsync(SetProgramRequest request, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        _channel.UnaryCallAsync(Methods.SetProgram, request, Program.Parser, options, cancellationToken);

    /// <summary>An empty <paramref name="programId"/> is the default programme.</summary>
    public Task<Program> GetProgramAsync(string programId = "", CallOptions? options = null, CancellationToken cancellationToken = default) =>
        _channel.UnaryCallAsync(Methods.GetProgram, new GetProgramRequest { ProgramId = programId }, Program.Parser, options, cancellationToken);

    public Task<Card> IssueCardAsync(IssueCardRequest request, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        _channel.UnaryCallAsync(Methods.IssueCard, request, Card.Parser, options, cancellationToken);

    public Task<Card> BlockCardAsync(BlockCardRequest request, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        _channel.UnaryCallAsync(Methods.BlockCard, request, Card.Parser, options, cancellationToken);

    public Task<Card> UnblockCardAsync(UnblockCardRequest request, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        _channel.UnaryCallAsync(Methods.UnblockCard, request, Card.Parser, options, cancellationToken);

    public Task<Card> AdjustAsync(AdjustRequest request, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        _channel.UnaryCallAsync(Methods.Adjust, request, Card.Parser, options, cancellationToken);

    public Task<GetStatementReply> GetStatementAsync(GetStatementRequest request, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        _channel.UnaryCallAsync(Methods.GetStatement, request, GetStatementReply.Parser, options, cancellationToken);

    public Task<TransferCardReply> TransferCardAsync(TransferCardRequest request, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        _channel.UnaryCallAsync(Methods.TransferCard, request, TransferCardReply.Parser, options, cancellationToken);

    // Health: needs no key.

    /// <summary>An empty <paramref name="service"/> asks about the whole server.</summary>
    public Task<HealthCheckResponse> CheckHealthAsync(string service = "", CallOptions? options = null, CancellationToken cancellationToken = default) =>
        _channel.UnaryCallAsync(Methods.HealthCheck, new HealthCheckRequest { Service = service }, HealthCheckResponse.Parser, options, cancellationToken);

    /// <summary>The current status at once, then every change, until cancelled or the server ends the stream.</summary>
    public IAsyncEnumerable<HealthCheckResponse> WatchHealthAsync(string service = "", CallOptions? options = null, CancellationToken cancellationToken = default) =>
        _channel.ServerStreamingCallAsync(Methods.HealthWatch, new HealthCheckRequest { Service = service }, HealthCheckResponse.Parser, options, cancellationToken);

    public void Dispose()
    {
        if (_ownsChannel) _channel.Dispose();
    }
}
