using System.Net;
using System.Runtime.CompilerServices;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Loyalty.Protos.V1;
using GrpcCallOptions = Grpc.Core.CallOptions;
using StatusCode = Loyalty.Protos.StatusCode;

namespace Loyalty.PosAdapter.Client;

/// <summary>
/// Typed calls of the loyalty.v1 Cards and Admin services and grpc.health.v1.Health over the stock
/// Grpc.Net.Client channel and the generated stubs. One instance per process is enough: it is
/// thread-safe and multiplexes concurrent calls over HTTP/2 (more connections are opened when one
/// connection's stream limit is reached). Every call throws <see cref="RpcException"/> on failure,
/// with the refusal's <see cref="RpcException.Details"/> read from the trailers; writes carry the
/// caller's operation id, so a call that failed with UNAVAILABLE or DEADLINE_EXCEEDED may be repeated
/// as it is (see <see cref="RetryPolicy"/>).
/// </summary>
public sealed class LoyaltyClient : IDisposable
{
    /// <summary>The server's prefix for a refusal's details in trailing metadata.</summary>
    public const string DetailPrefix = "loyalty-";

    /// <summary>Names the channel sets itself (or the protocol reserves); custom metadata may not use them.</summary>
    private static readonly HashSet<string> ReservedNames = new(StringComparer.Ordinal) { "authorization", "te", "content-type", "user-agent", "host" };

    private readonly LoyaltyClientOptions _options;
    private readonly GrpcChannel _channel;
    private readonly Cards.CardsClient _cards;
    private readonly Admin.AdminClient _admin;
    private readonly Health.HealthClient _health;
    private readonly Exchange.ExchangeClient _exchange;
    private readonly Reconciliation.ReconciliationClient _reconciliation;
    private readonly Loyalty.Protos.V1.Fiscal.FiscalClient _fiscal;
    private readonly string? _authorization;

    /// <summary>A client over its own channel and connections; <see cref="Dispose"/> closes them.</summary>
    /// <exception cref="ArgumentException">The address is not http(s)://, a limit is out of range, or the key cannot travel in a header.</exception>
    public LoyaltyClient(LoyaltyClientOptions options)
        : this(options, CreateHandler(options))
    {
    }

    /// <summary>With a handler of the caller's (tests, or a custom TLS set-up); the client owns and disposes it.</summary>
    public LoyaltyClient(LoyaltyClientOptions options, HttpMessageHandler handler)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(handler);
        if (options.Address.Scheme is not ("http" or "https"))
        {
            throw new ArgumentException($"The server address must be http:// (HTTP/2 without TLS) or https://, not '{options.Address.Scheme}://'.", nameof(options));
        }
        if (options.DefaultTimeout <= TimeSpan.Zero || options.DefaultTimeout > CallOptions.MaxTimeout)
        {
            throw new ArgumentException($"DefaultTimeout must be positive and at most {CallOptions.MaxTimeout}.", nameof(options));
        }
        if (options.MaxReceiveMessageBytes <= 0 || options.MaxSendMessageBytes <= 0)
        {
            throw new ArgumentException("MaxReceiveMessageBytes and MaxSendMessageBytes must be positive.", nameof(options));
        }
        _options = options;
        _authorization = FormatAuthorization(options.ApiKey);
        _channel = GrpcChannel.ForAddress(options.Address, new GrpcChannelOptions
        {
            HttpHandler = handler,
            DisposeHttpClient = true,
            MaxReceiveMessageSize = options.MaxReceiveMessageBytes,
            MaxSendMessageSize = options.MaxSendMessageBytes,
            // No retries inside the channel: RetryPolicy owns them, with the rules the server's
            // operation ids need (gRPC's built-in retries would resend on their own terms).
            MaxRetryAttempts = 0,
        });
        _cards = new Cards.CardsClient(_channel);
        _admin = new Admin.AdminClient(_channel);
        _health = new Health.HealthClient(_channel);
        _exchange = new Exchange.ExchangeClient(_channel);
        _reconciliation = new Reconciliation.ReconciliationClient(_channel);
        _fiscal = new Loyalty.Protos.V1.Fiscal.FiscalClient(_channel);
    }

    /// <summary>A client for <paramref name="address"/> (e.g. http://127.0.0.1:5080) with the default limits.</summary>
    public static LoyaltyClient Create(string address, string? apiKey, TimeSpan? defaultTimeout = null) =>
        new(new LoyaltyClientOptions
        {
            Address = new Uri(address, UriKind.Absolute),
            ApiKey = apiKey,
            DefaultTimeout = defaultTimeout ?? TimeSpan.FromSeconds(10),
        });

    /// <summary>The server's address, as given.</summary>
    public Uri Address => _options.Address;

    /// <summary>The connection settings the stock channel is given; the gRPC framing is its own.</summary>
    public static SocketsHttpHandler CreateHandler(LoyaltyClientOptions options) => new()
    {
        // One HTTP/2 connection carries only as many concurrent streams as the server allows (256 for
        // the loyalty server, 100 for many others); more calls than that would otherwise queue.
        EnableMultipleHttp2Connections = true,
        ConnectTimeout = options.ConnectTimeout,
        KeepAlivePingDelay = options.KeepAlivePingDelay,
        KeepAlivePingTimeout = options.KeepAlivePingTimeout,
        KeepAlivePingPolicy = HttpKeepAlivePingPolicy.WithActiveRequests,
        PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
        AutomaticDecompression = DecompressionMethods.None,
        UseCookies = false,
        UseProxy = false,
    };

    // Cards: what a terminal does.

    public Task<Card> GetCardAsync(string cardNumber, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        UnaryAsync(_cards.GetCardAsync, new GetCardRequest { CardNumber = cardNumber }, options, cancellationToken);

    public Task<QuoteReply> QuoteAsync(QuoteRequest request, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        UnaryAsync(_cards.QuoteAsync, request, options, cancellationToken);

    public Task<RedeemReply> RedeemAsync(RedeemRequest request, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        UnaryAsync(_cards.RedeemAsync, request, options, cancellationToken);

    public Task<CommitReply> CommitAsync(CommitRequest request, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        UnaryAsync(_cards.CommitAsync, request, options, cancellationToken);

    public Task<CancelReply> CancelAsync(CancelRequest request, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        UnaryAsync(_cards.CancelAsync, request, options, cancellationToken);

    public Task<RefundReply> RefundAsync(RefundRequest request, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        UnaryAsync(_cards.RefundAsync, request, options, cancellationToken);

    // Admin: the back office.

    public Task<CreateApiKeyReply> CreateApiKeyAsync(CreateApiKeyRequest request, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        UnaryAsync(_admin.CreateApiKeyAsync, request, options, cancellationToken);

    public Task<ListApiKeysReply> ListApiKeysAsync(ListApiKeysRequest request, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        UnaryAsync(_admin.ListApiKeysAsync, request, options, cancellationToken);

    public Task<ApiKeyInfo> RevokeApiKeyAsync(RevokeApiKeyRequest request, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        UnaryAsync(_admin.RevokeApiKeyAsync, request, options, cancellationToken);

    public Task<Program> SetProgramAsync(SetProgramRequest request, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        UnaryAsync(_admin.SetProgramAsync, request, options, cancellationToken);

    /// <summary>An empty <paramref name="programId"/> is the default programme.</summary>
    public Task<Program> GetProgramAsync(string programId = "", CallOptions? options = null, CancellationToken cancellationToken = default) =>
        UnaryAsync(_admin.GetProgramAsync, new GetProgramRequest { ProgramId = programId }, options, cancellationToken);

    public Task<Card> IssueCardAsync(IssueCardRequest request, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        UnaryAsync(_admin.IssueCardAsync, request, options, cancellationToken);

    public Task<Card> BlockCardAsync(BlockCardRequest request, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        UnaryAsync(_admin.BlockCardAsync, request, options, cancellationToken);

    public Task<Card> UnblockCardAsync(UnblockCardRequest request, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        UnaryAsync(_admin.UnblockCardAsync, request, options, cancellationToken);

    public Task<Card> AdjustAsync(AdjustRequest request, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        UnaryAsync(_admin.AdjustAsync, request, options, cancellationToken);

    public Task<GetStatementReply> GetStatementAsync(GetStatementRequest request, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        UnaryAsync(_admin.GetStatementAsync, request, options, cancellationToken);

    public Task<TransferCardReply> TransferCardAsync(TransferCardRequest request, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        UnaryAsync(_admin.TransferCardAsync, request, options, cancellationToken);

    // Exchange: what a store adapter does.

    /// <summary>
    /// Every card for <paramref name="storeId"/>'s catalog files, in card-number order: first a message
    /// with only the watermark, then one per card. No deadline unless the caller gives one (a million
    /// cards take seconds); cancel to stop.
    /// </summary>
    public IAsyncEnumerable<ExportedCard> ExportCardsAsync(string storeId, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        StreamAsync(callOptions => _exchange.ExportCards(new ExportCardsRequest { StoreId = storeId }, callOptions), options, cancellationToken);

    /// <summary>Uploads a closed shift's report and returns its reconciliation; safe to repeat with the same report.</summary>
    public Task<ShiftReconciliation> UploadShiftReportAsync(ShiftReport report, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        UnaryAsync(_exchange.UploadShiftReportAsync, report, options, cancellationToken);

    public Task<ShiftReconciliation> GetShiftAsync(GetShiftRequest request, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        UnaryAsync(_exchange.GetShiftAsync, request, options, cancellationToken);

    // ---- Reconciliation (accountant or admin keys) ----

    /// <summary>Shifts newest first with counts per outcome and their state (open, needs attention, settled).</summary>
    public Task<ListShiftsResponse> ListShiftsAsync(ListShiftsRequest request, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        UnaryAsync(_reconciliation.ListShiftsAsync, request, options, cancellationToken);

    /// <summary>One shift with its reconciliation, resolutions and the ledger rows they wrote.</summary>
    public Task<ShiftDetail> GetShiftDetailAsync(GetShiftRequest request, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        UnaryAsync(_reconciliation.GetShiftAsync, request, options, cancellationToken);

    /// <summary>Resolves a receipt waiting for an accountant; idempotent (the same request again answers <c>repeated</c>).</summary>
    public Task<ResolveReceiptResponse> ResolveReceiptAsync(ResolveReceiptRequest request, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        UnaryAsync(_reconciliation.ResolveReceiptAsync, request, options, cancellationToken);

    /// <summary>The bonus liability statement for a period of book days.</summary>
    public Task<LiabilityStatement> GetLiabilityStatementAsync(LiabilityRequest request, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        UnaryAsync(_reconciliation.GetLiabilityStatementAsync, request, options, cancellationToken);

    /// <summary>Cards driven below zero by offline redemption, with their repayments.</summary>
    public Task<ListDebtsResponse> ListDebtsAsync(ListDebtsRequest request, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        UnaryAsync(_reconciliation.ListDebtsAsync, request, options, cancellationToken);

    // Fiscal: delivery drivers and the office register (issue 13).

    /// <summary>Queues a sale on an office register; the same operation id again answers the same job.</summary>
    public Task<PrintJob> SubmitReceiptAsync(SubmitReceiptRequest request, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        UnaryAsync(_fiscal.SubmitReceiptAsync, request, options, cancellationToken);

    public Task<PrintJob> GetPrintJobAsync(string jobId, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        UnaryAsync(_fiscal.GetPrintJobAsync, new GetPrintJobRequest { JobId = jobId }, options, cancellationToken);

    /// <summary>The office adapter's feed of jobs to print, oldest first, then new ones as they come; no deadline, cancel to stop.</summary>
    public IAsyncEnumerable<PrintJobTask> ReceivePrintJobsAsync(string storeId, string officeRegisterId, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        StreamAsync(callOptions => _fiscal.ReceivePrintJobs(new ReceivePrintJobsRequest { StoreId = storeId, OfficeRegisterId = officeRegisterId }, callOptions), options, cancellationToken);

    /// <summary>Reports a job's outcome; safe to repeat.</summary>
    public Task<PrintJob> ReportPrintResultAsync(ReportPrintResultRequest request, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        UnaryAsync(_fiscal.ReportPrintResultAsync, request, options, cancellationToken);

    /// <summary>Queues a paper copy of a printed receipt on its office register; answers the copy's job.</summary>
    public Task<PrintJob> ReprintReceiptAsync(ReprintReceiptRequest request, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        UnaryAsync(_fiscal.ReprintReceiptAsync, request, options, cancellationToken);

    /// <summary>Sends a printed receipt's link again by SMS or e-mail; UNAVAILABLE when the gateway did not take it.</summary>
    public Task<PrintJob> ResendReceiptAsync(ResendReceiptRequest request, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        UnaryAsync(_fiscal.ResendReceiptAsync, request, options, cancellationToken);

    public Task<DriverMode> SetDriverModeAsync(SetDriverModeRequest request, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        UnaryAsync(_fiscal.SetDriverModeAsync, request, options, cancellationToken);

    public Task<DisplayLink> GetDisplayLinkAsync(GetDisplayLinkRequest request, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        UnaryAsync(_fiscal.GetDisplayLinkAsync, request, options, cancellationToken);

    // Health: needs no key.

    /// <summary>An empty <paramref name="service"/> asks about the whole server.</summary>
    public Task<HealthCheckResponse> CheckHealthAsync(string service = "", CallOptions? options = null, CancellationToken cancellationToken = default) =>
        UnaryAsync(_health.CheckAsync, new HealthCheckRequest { Service = service }, options, cancellationToken);

    /// <summary>The current status at once, then every change, until cancelled or the server ends the stream.</summary>
    public IAsyncEnumerable<HealthCheckResponse> WatchHealthAsync(string service = "", CallOptions? options = null, CancellationToken cancellationToken = default) =>
        StreamAsync(callOptions => _health.Watch(new HealthCheckRequest { Service = service }, callOptions), options, cancellationToken);

    /// <summary>A server-streaming call's messages, with no deadline unless the caller gives one, failures as our <see cref="RpcException"/>.</summary>
    private async IAsyncEnumerable<TReply> StreamAsync<TReply>(
        Func<GrpcCallOptions, AsyncServerStreamingCall<TReply>> start, CallOptions? options, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var callOptions = ToGrpcOptions(options, defaultTimeout: null, cancellationToken);
        using var call = Translate(() => start(callOptions));
        var stream = call.ResponseStream;
        while (true)
        {
            // yield cannot sit inside a try with a catch, so each read is translated on its own.
            bool more;
            try
            {
                more = await stream.MoveNext(CancellationToken.None).ConfigureAwait(false);
            }
            catch (Grpc.Core.RpcException error)
            {
                throw Translate(error);
            }
            if (!more) yield break;
            yield return stream.Current;
        }
    }

    public void Dispose() => _channel.Dispose();

    private async Task<TReply> UnaryAsync<TRequest, TReply>(
        Func<TRequest, GrpcCallOptions, AsyncUnaryCall<TReply>> method, TRequest request, CallOptions? options, CancellationToken cancellationToken)
    {
        var callOptions = ToGrpcOptions(options, _options.DefaultTimeout, cancellationToken);
        try
        {
            using var call = method(request, callOptions);
            return await call.ResponseAsync.ConfigureAwait(false);
        }
        catch (Grpc.Core.RpcException error)
        {
            throw Translate(error);
        }
    }

    private static TCall Translate<TCall>(Func<TCall> start)
    {
        try
        {
            return start();
        }
        catch (Grpc.Core.RpcException error)
        {
            throw Translate(error);
        }
    }

    /// <summary>
    /// Deadline (the call's own, else <paramref name="defaultTimeout"/>, else none), the key and the
    /// caller's metadata, as the stock client takes them.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The timeout is over <see cref="CallOptions.MaxTimeout"/>.</exception>
    /// <exception cref="ArgumentException">A metadata name is reserved or malformed, or a key cannot travel in a header.</exception>
    private GrpcCallOptions ToGrpcOptions(CallOptions? options, TimeSpan? defaultTimeout, CancellationToken cancellationToken)
    {
        var now = DateTimeOffset.UtcNow;
        DateTimeOffset? deadline = options switch
        {
            { Deadline: { } given } => given,
            { Timeout: { } timeout } => now + timeout,
            _ => defaultTimeout is { } value ? now + value : null,
        };
        // A deadline already past is fine: the stock client answers DEADLINE_EXCEEDED without sending.
        if (deadline is { } checkedDeadline && checkedDeadline - now > CallOptions.MaxTimeout)
        {
            throw new ArgumentOutOfRangeException(nameof(options), checkedDeadline - now, $"A call's timeout may be at most {CallOptions.MaxTimeout}.");
        }

        var headers = new Metadata();
        var authorization = options?.ApiKey is { } callKey ? FormatAuthorization(callKey) : _authorization;
        if (authorization is not null) headers.Add("authorization", authorization);
        if (options?.Metadata is { } metadata)
        {
            foreach (var (name, value) in metadata)
            {
                ValidateMetadataName(name);
                if (name.EndsWith(Metadata.BinaryHeaderSuffix, StringComparison.Ordinal))
                {
                    // Our CallOptions carry text; binary metadata travels as base64 of the bytes.
                    headers.Add(name, Convert.FromBase64String(value));
                }
                else
                {
                    headers.Add(name, value);
                }
            }
        }
        return new GrpcCallOptions(headers, deadline?.UtcDateTime, cancellationToken);
    }

    /// <summary>
    /// The stock client's exception as ours: same status; the server's own message, or for what the
    /// client decided (deadline, lost connection) a sentence that says the outcome is unknown; and the
    /// refusal's details from the <c>loyalty-*</c> trailers.
    /// </summary>
    internal static RpcException Translate(Grpc.Core.RpcException error)
    {
        var code = (StatusCode)(int)error.StatusCode;
        if (code is < StatusCode.Ok or > StatusCode.Unauthenticated) code = StatusCode.Unknown;
        if (code == StatusCode.Internal && IsConnectionFailure(error.Status.DebugException))
        {
            // Grpc.Net.Client says INTERNAL for an HttpRequestException it has no rule for, e.g. "the
            // server did not complete the HTTP/2 handshake" (seen under load in
            // A_connection_closed_by_the_server_before_any_answer_is_unavailable). Nothing the server
            // decided is in it: it is a lost connection, so the terminal must be told to repeat.
            code = StatusCode.Unavailable;
        }
        var detail = error.Status.Detail;
        var clientMade = error.Status.DebugException is not null || (code == StatusCode.DeadlineExceeded && error.Trailers.Count == 0);
        var message = (code, clientMade) switch
        {
            (StatusCode.DeadlineExceeded, true) =>
                "The call did not finish within its deadline; whether a write was applied is unknown, so repeat it with the same operation id.",
            // A refused connection sent nothing: no write can have been applied (found by a new user's try).
            (StatusCode.Unavailable, true) when NeverConnected(error.Status.DebugException) =>
                $"The server could not be reached ({Cause(error)}); nothing was sent. Try again when it is up (a write with the same operation id).",
            (StatusCode.Unavailable, true) =>
                $"The server could not be reached or the connection was lost ({Cause(error)}); whether a write was applied is unknown, so repeat it with the same operation id.",
            _ => detail,
        };
        var details = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in error.Trailers)
        {
            if (!entry.IsBinary && entry.Key.StartsWith(DetailPrefix, StringComparison.Ordinal))
            {
                details[entry.Key[DetailPrefix.Length..]] = entry.Value;
            }
        }
        return new RpcException(code, message, error) { Details = details };
    }

    /// <summary>The connection was never made (refused, no route, name not found): the request did not leave.</summary>
    private static bool NeverConnected(Exception? error)
    {
        for (var current = error; current is not null; current = current.InnerException)
        {
            if (current is System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.ConnectionRefused or System.Net.Sockets.SocketError.HostUnreachable or System.Net.Sockets.SocketError.NetworkUnreachable or System.Net.Sockets.SocketError.HostNotFound })
                return true;
        }
        return false;
    }

    /// <summary>
    /// A failure of the connection rather than an answer: an HttpRequestException that is not an
    /// HTTP/2 reset or GOAWAY with an error code (those map by their code, as gRPC's table says).
    /// </summary>
    private static bool IsConnectionFailure(Exception? error)
    {
        var sawRequestFailure = false;
        for (var current = error; current is not null; current = current.InnerException)
        {
            // The reset may be wrapped in a plain HttpRequestException, so the whole chain is read.
            if (current is HttpProtocolException) return false;
            sawRequestFailure |= current is HttpRequestException;
        }
        return sawRequestFailure;
    }

    /// <summary>The innermost cause (e.g. "Connection refused"), for a person reading the message.</summary>
    private static string Cause(Grpc.Core.RpcException error)
    {
        Exception? current = error.Status.DebugException;
        if (current is null) return error.Status.Detail;
        while (current.InnerException is not null) current = current.InnerException;
        return current.Message;
    }

    private static string? FormatAuthorization(string? apiKey)
    {
        if (string.IsNullOrEmpty(apiKey)) return null;
        foreach (var character in apiKey)
        {
            if (character is < (char)0x21 or > (char)0x7E)
            {
                // The key itself is never part of a message: it would end up in logs.
                throw new ArgumentException("The API key contains a character that cannot travel in an HTTP header (spaces, line breaks or non-ASCII).");
            }
        }
        return "Bearer " + apiKey;
    }

    private static void ValidateMetadataName(string name)
    {
        var valid = name.Length > 0 && !name.StartsWith("grpc-", StringComparison.Ordinal) && !ReservedNames.Contains(name);
        foreach (var character in name)
        {
            valid &= character is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-' or '_' or '.';
        }
        if (!valid)
        {
            throw new ArgumentException($"'{name}' cannot be a metadata name: names are lower-case letters, digits, '-', '_' and '.', and neither 'grpc-' names nor the headers the channel sets itself may be given.");
        }
    }
}
