using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Loyalty.Grains.Domain;
using Loyalty.Grains.Storage;
using Microsoft.AspNetCore.Http;
using QRCoder;

namespace Loyalty.Api.Web;

/// <summary>
/// The dematerialized receipt's pages on the server's plain-HTTP port (issue 13 point 6, seed
/// aemsofts-dematerialized-tickets.txt):
/// <list type="bullet">
/// <item><c>GET /receipt/{token}</c>: the receipt page (lines, bonus discounts, payments, fiscal data and the FNS QR code);</item>
/// <item><c>GET /receipt/{token}/qr.png</c> and <c>qr.svg</c>: the QR code alone;</item>
/// <item><c>GET /display/{token}</c>: what the customer display shows, JSON polled by the display:
/// the QR of the register's last receipt until the next one starts;</item>
/// <item><c>GET /display/{token}/qr.png</c> and <c>qr.svg</c>: that QR as an image (404 while none).</item>
/// </list>
/// A receipt token is the job's 192-bit random link (<see cref="PrintQueue.NewReceiptToken"/>); a
/// display token is the register's, as random, given out by Fiscal.GetDisplayLink. An unknown or
/// malformed token is a plain 404, the same for both, so links cannot be probed. Pages are never
/// cached and never send the link on as a referrer.
/// </summary>
public sealed class FiscalWebEndpoints(PrintJobStore jobs)
{
    /// <summary>Pixels per QR module in the PNG: 4 px gives a ~150 px code, readable on a phone and a customer display.</summary>
    public const int PngPixelsPerModule = 4;
    /// <summary>Tokens are 32 base64url characters; anything else is not looked up.</summary>
    private const int TokenLength = 32;

    /// <summary>Serves the request if it is one of the paths above; false otherwise (the caller answers 404).</summary>
    public async Task<bool> TryHandleAsync(HttpContext http)
    {
        var path = http.Request.Path.Value ?? "";
        if (!path.StartsWith("/receipt/", StringComparison.Ordinal) && !path.StartsWith("/display/", StringComparison.Ordinal)) return false;
        if (!HttpMethods.IsGet(http.Request.Method) && !HttpMethods.IsHead(http.Request.Method))
        {
            http.Response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            return true;
        }
        http.Response.Headers.CacheControl = "no-store";
        http.Response.Headers["Referrer-Policy"] = "no-referrer";
        http.Response.Headers["X-Content-Type-Options"] = "nosniff";
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var ct = http.RequestAborted;
        if (parts[0] == "receipt" && parts.Length is 2 or 3 && IsToken(parts[1]))
        {
            var job = await jobs.LoadByTokenAsync(parts[1], ct);
            if (job is null) return NotFound(http);
            if (parts.Length == 2) { await WriteAsync(http, "text/html; charset=utf-8", Encoding.UTF8.GetBytes(ReceiptPage(job))); return true; }
            return await QrAsync(http, job.Fiscal?.QrCode, parts[2]);
        }
        if (parts[0] == "display" && parts.Length is 2 or 3 && IsToken(parts[1]))
        {
            var register = await jobs.DisplayOfTokenAsync(parts[1], ct);
            if (register is null) return NotFound(http);
            var shown = await DisplayedAsync(register.Value.StoreId, register.Value.RegisterId, ct);
            if (parts.Length == 3) return await QrAsync(http, shown?.Fiscal?.QrCode, parts[2]);
            var body = JsonSerializer.SerializeToUtf8Bytes(shown is null
                ? new DisplayState("waiting", null, null, null, null)
                : new DisplayState("qr", shown.Fiscal!.QrCode, shown.Fiscal.TotalKopecks, shown.Fiscal.FiscalDocumentNumber, shown.Sequence), Json.Options);
            await WriteAsync(http, "application/json", body);
            return true;
        }
        return NotFound(http);
    }

    /// <summary>What the display shows: <c>qr</c> with the last receipt's check string, or <c>waiting</c> while the next one is on its way (or none was printed yet).</summary>
    public sealed record DisplayState(string State, string? Qr, long? TotalKopecks, long? FiscalDocumentNumber, long? Sequence);

    /// <summary>The register's newest job when it is done; null when the newest is still on its way (the next receipt started) or there is none.</summary>
    private async Task<PrintJob?> DisplayedAsync(string store, string register, CancellationToken ct)
    {
        var newest = (await jobs.LoadRecentAsync(store, register, 1, ct)).FirstOrDefault();
        return newest is { State: PrintJobState.Done, Fiscal: not null } ? newest : null;
    }

    private static async Task<bool> QrAsync(HttpContext http, string? text, string file)
    {
        if (string.IsNullOrEmpty(text)) return NotFound(http);
        switch (file)
        {
            case "qr.png": await WriteAsync(http, "image/png", QrPng(text)); return true;
            case "qr.svg": await WriteAsync(http, "image/svg+xml", Encoding.UTF8.GetBytes(QrSvg(text))); return true;
            default: return NotFound(http);
        }
    }

    /// <summary>The QR code of <paramref name="text"/> as PNG (error correction M, as FNS receipt codes are printed).</summary>
    public static byte[] QrPng(string text)
    {
        using var data = QRCodeGenerator.GenerateQrCode(text, QRCodeGenerator.ECCLevel.M);
        return new PngByteQRCode(data).GetGraphic(PngPixelsPerModule);
    }

    /// <summary>The QR code of <paramref name="text"/> as SVG, scalable for any display.</summary>
    public static string QrSvg(string text)
    {
        using var data = QRCodeGenerator.GenerateQrCode(text, QRCodeGenerator.ECCLevel.M);
        return new SvgQRCode(data).GetGraphic(PngPixelsPerModule);
    }

    private static bool IsToken(string text) =>
        text.Length == TokenLength && text.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');

    private static bool NotFound(HttpContext http)
    {
        http.Response.StatusCode = StatusCodes.Status404NotFound;
        return true;
    }

    private static async Task WriteAsync(HttpContext http, string contentType, byte[] body)
    {
        http.Response.StatusCode = StatusCodes.Status200OK;
        http.Response.ContentType = contentType;
        http.Response.ContentLength = body.Length;
        if (!HttpMethods.IsHead(http.Request.Method)) await http.Response.Body.WriteAsync(body, http.RequestAborted);
    }

    private static string Rub(long kopecks) => (kopecks / 100m).ToString("0.00", CultureInfo.InvariantCulture);

    private static string H(string? text) => WebUtility.HtmlEncode(text ?? "");

    /// <summary>The receipt page: what the paper receipt would show, plus its QR code inline (SVG).</summary>
    public static string ReceiptPage(PrintJob job)
    {
        var r = job.Request;
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html><html lang=\"ru\"><head><meta charset=\"utf-8\"><meta name=\"robots\" content=\"noindex\">")
            .Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Кассовый чек</title>")
            .Append("<style>body{font-family:sans-serif;max-width:32em;margin:1em auto;padding:0 1em}table{width:100%;border-collapse:collapse}td{padding:.2em 0}td.n{text-align:right}</style></head><body>")
            .Append("<h1>Кассовый чек. Приход</h1>")
            .Append(CultureInfo.InvariantCulture, $"<p>Магазин {H(r.StoreId)}, касса {H(r.OfficeRegisterId)}</p><table>");
        foreach (var line in r.Receipt.Lines)
        {
            var discount = r.DiscountOf(line.Sku);
            html.Append(CultureInfo.InvariantCulture, $"<tr><td>{H(line.Name.Length > 0 ? line.Name : line.Sku)}<br><small>{line.QuantityMilli / 1000m:0.###} × {Rub(line.PriceKopecks)}</small></td><td class=\"n\">{Rub(line.AmountKopecks)}</td></tr>");
            if (discount > 0) html.Append(CultureInfo.InvariantCulture, $"<tr><td><small>Скидка (бонусы)</small></td><td class=\"n\"><small>−{Rub(discount)}</small></td></tr>");
        }
        html.Append(CultureInfo.InvariantCulture, $"<tr><td><b>ИТОГ</b></td><td class=\"n\"><b data-total>{Rub(r.Receipt.TotalKopecks)}</b></td></tr>");
        foreach (var p in r.Payments)
            html.Append(CultureInfo.InvariantCulture, $"<tr><td>{(p.Kind == PrintPaymentKind.Cash ? "Наличными" : p.Kind == PrintPaymentKind.Card ? "Безналичными" : p.Kind == PrintPaymentKind.Prepaid ? "Предоплата" : "Кредит")}</td><td class=\"n\">{Rub(p.AmountKopecks)}</td></tr>");
        html.Append("</table>");
        if (job is { State: PrintJobState.Done, Fiscal: { } f })
        {
            html.Append("<table>")
                .Append(CultureInfo.InvariantCulture, $"<tr><td>Дата и время</td><td class=\"n\" data-time>{H(f.DocumentDateTime)}</td></tr>")
                .Append(CultureInfo.InvariantCulture, $"<tr><td>Смена № / чек №</td><td class=\"n\">{f.ShiftNumber} / {f.ReceiptNumber}</td></tr>")
                .Append(CultureInfo.InvariantCulture, $"<tr><td>ФН</td><td class=\"n\" data-fn>{H(f.FnNumber)}</td></tr>")
                .Append(CultureInfo.InvariantCulture, $"<tr><td>ФД</td><td class=\"n\" data-fd>{f.FiscalDocumentNumber}</td></tr>")
                .Append(CultureInfo.InvariantCulture, $"<tr><td>ФП</td><td class=\"n\" data-fp>{H(f.FiscalSign)}</td></tr>")
                .Append(CultureInfo.InvariantCulture, $"<tr><td>РН ККТ</td><td class=\"n\">{H(f.RegistrationNumber)}</td></tr>");
            if (job.ContactUsed is { } contact) html.Append(CultureInfo.InvariantCulture, $"<tr><td>Эл. адрес покупателя</td><td class=\"n\">{H(contact)}</td></tr>");
            html.Append("</table><figure>").Append(QrSvg(f.QrCode)).Append(CultureInfo.InvariantCulture, $"<figcaption><code data-qr>{H(f.QrCode)}</code></figcaption></figure>");
        }
        else
        {
            html.Append(CultureInfo.InvariantCulture, $"<p data-state>{(job.State == PrintJobState.Failed ? "Чек не был пробит." : "Чек ещё печатается; обновите страницу через минуту.")}</p>");
        }
        return html.Append("</body></html>").ToString();
    }
}
