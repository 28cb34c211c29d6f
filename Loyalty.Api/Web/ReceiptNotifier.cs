using System.Globalization;
using Loyalty.Grains.Domain;
using MailKit.Net.Smtp;
using MailKit.Security;
using Microsoft.Extensions.Configuration;
using MimeKit;

namespace Loyalty.Api.Web;

/// <summary>
/// Where the receipt links go out (issue 13 point 6). Settings (environment variables or --NAME=value):
/// <list type="bullet">
/// <item><c>LOYALTY_RECEIPT_BASE_URL</c>: the public address of the receipt pages, e.g. <c>https://chek.example.ru</c> (the server's HTTP port behind a proxy);</item>
/// <item><c>LOYALTY_SMS_URL</c>: the SMS gateway's URL template; <c>{phone}</c> and <c>{text}</c> are replaced, URL-escaped, and the URL is fetched with GET (most Russian gateways, e.g. <c>https://sms.ru/sms/send?api_id=KEY&amp;to={phone}&amp;msg={text}</c>); a 2xx answer is success;</item>
/// <item><c>LOYALTY_SMTP_HOST</c>, <c>LOYALTY_SMTP_PORT</c> (25), <c>LOYALTY_SMTP_FROM</c>, <c>LOYALTY_SMTP_USER</c>/<c>LOYALTY_SMTP_PASSWORD</c> (optional),
/// <c>LOYALTY_SMTP_TLS</c> (<c>none</c>, <c>starttls</c>, <c>ssl</c>; default <c>auto</c>: STARTTLS when offered).</item>
/// </list>
/// An unset channel refuses its sends with a sentence naming the setting.
/// </summary>
public sealed record ReceiptNotifierOptions
{
    public string? ReceiptBaseUrl { get; init; }
    public string? SmsUrlTemplate { get; init; }
    public string? SmtpHost { get; init; }
    public int SmtpPort { get; init; } = 25;
    public string? SmtpFrom { get; init; }
    public string? SmtpUser { get; init; }
    public string? SmtpPassword { get; init; }
    public SecureSocketOptions SmtpSecurity { get; init; } = SecureSocketOptions.Auto;
    /// <summary>Bound of one send (gateway call or SMTP session).</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(15);

    public static ReceiptNotifierOptions From(IConfiguration configuration)
    {
        string? Value(string name) => configuration[name] is { Length: > 0 } v ? v : null;
        var port = Value("LOYALTY_SMTP_PORT");
        return new ReceiptNotifierOptions
        {
            ReceiptBaseUrl = Value("LOYALTY_RECEIPT_BASE_URL"),
            SmsUrlTemplate = Value("LOYALTY_SMS_URL"),
            SmtpHost = Value("LOYALTY_SMTP_HOST"),
            SmtpPort = port is null ? 25 : int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out var p) && p is > 0 and < 65536
                ? p : throw new InvalidOperationException($"LOYALTY_SMTP_PORT '{port}' is not a port number."),
            SmtpFrom = Value("LOYALTY_SMTP_FROM"),
            SmtpUser = Value("LOYALTY_SMTP_USER"),
            SmtpPassword = Value("LOYALTY_SMTP_PASSWORD"),
            SmtpSecurity = Value("LOYALTY_SMTP_TLS")?.ToLowerInvariant() switch
            {
                null or "auto" => SecureSocketOptions.Auto,
                "none" => SecureSocketOptions.None,
                "starttls" => SecureSocketOptions.StartTls,
                "ssl" => SecureSocketOptions.SslOnConnect,
                var other => throw new InvalidOperationException($"LOYALTY_SMTP_TLS '{other}' is not none, starttls, ssl or auto."),
            },
        };
    }
}

/// <summary>A send that did not go through (gateway down, mail server refused); the sentence says which and why.</summary>
public sealed class ReceiptNotSentException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Sends a receipt's link by SMS (an HTTP gateway) or e-mail (SMTP through MailKit).</summary>
public sealed class ReceiptNotifier(ReceiptNotifierOptions options, HttpClient http)
{
    /// <summary>The receipt page's public link.</summary>
    public string Link(PrintJob job) => (options.ReceiptBaseUrl ?? "").TrimEnd('/') + "/receipt/" + job.ReceiptToken;

    /// <summary>A path of the HTTP port on LOYALTY_RECEIPT_BASE_URL; null when that is not set.</summary>
    public string? PublicUrl(string path) => string.IsNullOrEmpty(options.ReceiptBaseUrl) ? null : options.ReceiptBaseUrl.TrimEnd('/') + path;

    /// <summary>Sends the link to <paramref name="contact"/> by <paramref name="channel"/> (SMS or e-mail); throws <see cref="ReceiptNotSentException"/>.</summary>
    public Task SendAsync(PrintJob job, ReceiptDeliveryKind channel, string contact, CancellationToken cancellationToken) => channel switch
    {
        ReceiptDeliveryKind.Sms => SendSmsAsync(job, contact, cancellationToken),
        ReceiptDeliveryKind.Email => SendEmailAsync(job, contact, cancellationToken),
        _ => throw new ArgumentOutOfRangeException(nameof(channel), "Only SMS and e-mail carry a link."),
    };

    private string Text(PrintJob job) => string.Create(CultureInfo.InvariantCulture,
        $"Чек на {(job.Fiscal?.TotalKopecks ?? 0) / 100m:0.00} руб.: {Link(job)}");

    private async Task SendSmsAsync(PrintJob job, string phone, CancellationToken cancellationToken)
    {
        var template = options.SmsUrlTemplate ?? throw new ReceiptNotSentException("No SMS gateway is set (LOYALTY_SMS_URL); the link was not sent.");
        var url = template.Replace("{phone}", Uri.EscapeDataString(phone), StringComparison.Ordinal)
            .Replace("{text}", Uri.EscapeDataString(Text(job)), StringComparison.Ordinal);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.Timeout);
        try
        {
            using var response = await http.GetAsync(new Uri(url, UriKind.Absolute), timeout.Token);
            if (!response.IsSuccessStatusCode)
                throw new ReceiptNotSentException($"The SMS gateway answered {(int)response.StatusCode} {response.ReasonPhrase}; the link to {phone} was not sent.");
        }
        catch (Exception error) when (error is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            throw new ReceiptNotSentException($"The SMS gateway cannot be reached ({error.Message}); the link to {phone} was not sent.", error);
        }
    }

    private async Task SendEmailAsync(PrintJob job, string email, CancellationToken cancellationToken)
    {
        var host = options.SmtpHost ?? throw new ReceiptNotSentException("No mail server is set (LOYALTY_SMTP_HOST); the link was not sent.");
        var from = options.SmtpFrom ?? throw new ReceiptNotSentException("No sender address is set (LOYALTY_SMTP_FROM); the link was not sent.");
        var message = new MimeMessage();
        try
        {
            message.From.Add(MailboxAddress.Parse(from));
            message.To.Add(MailboxAddress.Parse(email));
        }
        catch (ParseException bad)
        {
            throw new ReceiptNotSentException($"'{email}' or the sender '{from}' is not an e-mail address; the link was not sent.", bad);
        }
        message.Subject = "Кассовый чек";
        var body = new BodyBuilder
        {
            TextBody = Text(job) + "\n",
            HtmlBody = $"<p>Ваш кассовый чек: <a href=\"{System.Net.WebUtility.HtmlEncode(Link(job))}\">{System.Net.WebUtility.HtmlEncode(Link(job))}</a></p>",
        };
        message.Body = body.ToMessageBody();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.Timeout);
        using var smtp = new SmtpClient { Timeout = (int)options.Timeout.TotalMilliseconds };
        try
        {
            await smtp.ConnectAsync(host, options.SmtpPort, options.SmtpSecurity, timeout.Token);
            if (options.SmtpUser is { } user) await smtp.AuthenticateAsync(user, options.SmtpPassword ?? "", timeout.Token);
            await smtp.SendAsync(message, timeout.Token);
            await smtp.DisconnectAsync(quit: true, timeout.Token);
        }
        catch (Exception error) when (error is System.Net.Sockets.SocketException or IOException or MailKit.ProtocolException or MailKit.CommandException
            or System.Security.Authentication.AuthenticationException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            throw new ReceiptNotSentException($"The mail server did not take the message ({error.Message}); the link to {email} was not sent.", error);
        }
    }
}
