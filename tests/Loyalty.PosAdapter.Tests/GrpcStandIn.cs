using System.Collections.Concurrent;
using System.Net;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Loyalty.PosAdapter.Tests;

/// <summary>One request as the stand-in saw it: path, headers, and the request message's bytes (frame prefix removed).</summary>
internal sealed record ReceivedCall(string Path, IReadOnlyDictionary<string, string> Headers, byte[] Message);

/// <summary>
/// A gRPC server stand-in on Kestrel (h2c, loopback, free port) whose answer each test writes —
/// a reply, a refusal with trailers, a stream reset, a pause past the deadline — so the stock client
/// is tested against faults the real server cannot be made to show on demand. The replies follow
/// grpc/doc/PROTOCOL-HTTP2.md; the real server is exercised in Loyalty.Api.Tests.
/// </summary>
internal sealed class GrpcStandIn : IAsyncDisposable
{
    private readonly WebApplication _app;

    private GrpcStandIn(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
    }

    public Uri Address { get; }

    /// <summary>Every request in arrival order.</summary>
    public ConcurrentQueue<ReceivedCall> Calls { get; } = new();

    /// <summary><paramref name="respond"/> gets the context, the call as received, and its 1-based number.</summary>
    public static async Task<GrpcStandIn> StartAsync(Func<HttpContext, ReceivedCall, int, Task> respond)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http2));
        var app = builder.Build();
        GrpcStandIn? standIn = null;
        var count = 0;
        app.Run(async context =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body, context.RequestAborted);
            var bytes = body.ToArray();
            var call = new ReceivedCall(
                context.Request.Path.Value ?? "",
                context.Request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString()),
                bytes.Length >= 5 ? bytes[5..] : []);
            standIn!.Calls.Enqueue(call);
            await respond(context, call, Interlocked.Increment(ref count));
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        standIn = new GrpcStandIn(app, new Uri(address));
        return standIn;
    }

    /// <summary>A reply message, then grpc-status 0 in the trailers.</summary>
    public static async Task ReplyAsync(HttpContext context, IMessage reply)
    {
        await WriteMessageAsync(context, reply);
        context.Response.AppendTrailer("grpc-status", "0");
    }

    /// <summary>One length-prefixed message; a stream calls this once per message, then sets its status.</summary>
    public static async Task WriteMessageAsync(HttpContext context, IMessage message)
    {
        if (!context.Response.HasStarted) context.Response.ContentType = "application/grpc";
        var bytes = message.ToByteArray();
        var frame = new byte[5 + bytes.Length];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(1, 4), bytes.Length);
        bytes.CopyTo(frame, 5);
        await context.Response.Body.WriteAsync(frame);
    }

    /// <summary>
    /// A refusal: Trailers-Only (status in the headers, no body) when <paramref name="trailersOnly"/>,
    /// otherwise headers first and the status in real trailers; <paramref name="metadata"/> rides with the status.
    /// </summary>
    public static async Task RefuseAsync(HttpContext context, StatusCode code, string message, bool trailersOnly = true, params (string Name, string Value)[] metadata)
    {
        context.Response.ContentType = "application/grpc";
        if (trailersOnly)
        {
            context.Response.Headers["grpc-status"] = ((int)code).ToString(System.Globalization.CultureInfo.InvariantCulture);
            context.Response.Headers["grpc-message"] = Uri.EscapeDataString(message);
            foreach (var (name, value) in metadata) context.Response.Headers[name] = value;
            return;
        }
        await context.Response.StartAsync();
        context.Response.AppendTrailer("grpc-status", ((int)code).ToString(System.Globalization.CultureInfo.InvariantCulture));
        context.Response.AppendTrailer("grpc-message", Uri.EscapeDataString(message));
        foreach (var (name, value) in metadata) context.Response.AppendTrailer(name, value);
    }

    /// <summary>RST_STREAM with an HTTP/2 error code, as a server or proxy that gives up on the call sends.</summary>
    public static Task ResetAsync(HttpContext context, int http2ErrorCode)
    {
        context.Features.Get<IHttpResetFeature>()!.Reset(http2ErrorCode);
        return Task.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
