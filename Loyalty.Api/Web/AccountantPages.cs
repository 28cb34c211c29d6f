using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Loyalty.Api.Auth;
using Loyalty.Grains.Domain;
using Loyalty.Grains.Runtime;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using MiniExcelLibs;
using static Loyalty.Api.Web.Html;

namespace Loyalty.Api.Web;

/// <summary>
/// The accountant's workplace on the server's HTTP port: server-rendered pages (no script), in
/// Russian and English, for accountant and admin keys. Sign-in with an API key makes a session
/// (<see cref="WebSessions"/>; cookie HttpOnly, SameSite=Strict, Secure over HTTPS, with an expiry);
/// every form carries a CSRF token (the session's synchronizer token; the sign-in form a
/// double-submit cookie) and a POST without the right one changes nothing. Every table is also CSV
/// (<c>?format=csv</c>); the liability statement also XLSX. Pages: <c>/</c> (sign-in), <c>/shifts</c>,
/// <c>/shift</c>, <c>/debts</c>, <c>/liability</c>, <c>/card</c>; posts: <c>/signin</c>,
/// <c>/signout</c>, <c>/resolve</c>. The figures come from <see cref="AccountantBooks"/>.
/// </summary>
public sealed partial class AccountantPages(CardDirectory runtime, ApiKeyStore keys, TimeProvider time)
{
    /// <summary>The largest form body accepted; the forms here are a few hundred bytes.</summary>
    public const int MaxFormBytes = 16 * 1024;

    /// <summary>Rows a page shows at most (lists say when there are more).</summary>
    public const int PageRows = 500;

    private const string SignInCsrfCookie = "loyalty_signin_csrf";

    private readonly WebSessions _sessions = new(runtime.Store.DataSource, time);
    private AccountantBooks Books => new(runtime, time);

    /// <summary>The paths served here; anything else is not this class's (the caller answers 404).</summary>
    public static bool Serves(PathString path) => path.Value is "/" or "/signin" or "/signout" or "/shifts" or "/shift" or "/resolve" or "/debts" or "/liability" or "/card";

    public async Task HandleAsync(HttpContext http)
    {
        var lang = WebText.Choose(http);
        var path = http.Request.Path.Value!;
        SecurityHeaders(http.Response);
        var isPost = HttpMethods.IsPost(http.Request.Method);
        if (!isPost && !HttpMethods.IsGet(http.Request.Method) && !HttpMethods.IsHead(http.Request.Method))
        {
            http.Response.Headers.Allow = "GET, HEAD, POST";
            await SendAsync(http, StatusCodes.Status405MethodNotAllowed, Page(lang, WebText.T(lang, "error"), "<p class=\"error\">405</p>", path, null, null));
            return;
        }
        var session = await _sessions.FindAsync(http.Request.Cookies[WebSessions.Cookie], http.RequestAborted);
        try
        {
            IFormCollection? form = null;
            if (isPost)
            {
                form = await ReadFormAsync(http);
                if (form is null)
                {
                    await ErrorAsync(http, lang, StatusCodes.Status415UnsupportedMediaType, WebText.T(lang, "bad.request"), session);
                    return;
                }
            }
            switch (path)
            {
                case "/" when !isPost:
                    if (session is not null && IsAccountant(session)) Redirect(http, "/shifts");
                    else await SignInPageAsync(http, lang, null, StatusCodes.Status200OK);
                    return;
                case "/signin" when isPost:
                    await SignInAsync(http, lang, form!);
                    return;
            }
            if (session is null)
            {
                if (isPost) await ErrorAsync(http, lang, StatusCodes.Status403Forbidden, WebText.T(lang, "csrf"), null);
                else Redirect(http, "/");
                return;
            }
            if (!IsAccountant(session))
            {
                await ErrorAsync(http, lang, StatusCodes.Status403Forbidden, WebText.T(lang, "signin.role"), null);
                return;
            }
            if (isPost && !WebSessions.TokensMatch(form!["csrf"].ToString(), session.CsrfToken))
            {
                await ErrorAsync(http, lang, StatusCodes.Status403Forbidden, WebText.T(lang, "csrf"), session);
                return;
            }
            switch (path)
            {
                case "/signout" when isPost:
                    await _sessions.DeleteAsync(session, http.RequestAborted);
                    http.Response.Cookies.Delete(WebSessions.Cookie, SessionCookie(http, DateTimeOffset.UnixEpoch));
                    Redirect(http, "/");
                    return;
                case "/resolve" when isPost:
                    await ResolveAsync(http, lang, session, form!);
                    return;
                case "/shifts" when !isPost: await ShiftsAsync(http, lang, session); return;
                case "/shift" when !isPost: await ShiftAsync(http, lang, session); return;
                case "/debts" when !isPost: await DebtsAsync(http, lang, session); return;
                case "/liability" when !isPost: await LiabilityAsync(http, lang, session); return;
                case "/card" when !isPost: await CardAsync(http, lang, session); return;
                default:
                    await ErrorAsync(http, lang, StatusCodes.Status405MethodNotAllowed, WebText.T(lang, "bad.request"), session);
                    return;
            }
        }
        catch (CardException refused)
        {
            var status = refused.Code switch
            {
                CardErrorCode.NotFound => StatusCodes.Status404NotFound,
                CardErrorCode.InvalidArgument => StatusCodes.Status400BadRequest,
                CardErrorCode.Unavailable or CardErrorCode.Overloaded => StatusCodes.Status503ServiceUnavailable,
                CardErrorCode.Forbidden => StatusCodes.Status403Forbidden,
                _ => StatusCodes.Status409Conflict,
            };
            await ErrorAsync(http, lang, status, refused.Message, session);
        }
        catch (Npgsql.NpgsqlException transient) when (transient.IsTransient)
        {
            await ErrorAsync(http, lang, StatusCodes.Status503ServiceUnavailable, "The database cannot be reached just now; try again shortly.", session);
        }
    }

    private static bool IsAccountant(WebSession session) => session.Caller.Role is Role.Accountant or Role.Admin;

    // ---- sign-in ----

    private async Task SignInPageAsync(HttpContext http, Lang lang, string? error, int status)
    {
        var token = WebSessions.NewToken();
        http.Response.Cookies.Append(SignInCsrfCookie, token, new CookieOptions
        {
            HttpOnly = true, SameSite = SameSiteMode.Strict, Secure = http.Request.IsHttps, Path = "/signin", MaxAge = TimeSpan.FromHours(1), IsEssential = true,
        });
        var body = new StringBuilder();
        if (error is not null) body.Append("<p class=\"error\" id=\"error\">").Append(E(error)).Append("</p>");
        body.Append("<p>").Append(E(WebText.T(lang, "signin.hint"))).Append("</p>")
            .Append("<form method=\"post\" action=\"/signin\" id=\"signin-form\">").Append(Csrf(token))
            .Append("<label>").Append(E(WebText.T(lang, "signin.key"))).Append(" <input type=\"password\" name=\"key\" id=\"key\" autocomplete=\"off\" size=\"60\" required></label> ")
            .Append("<button type=\"submit\" id=\"signin\">").Append(E(WebText.T(lang, "signin"))).Append("</button></form>");
        await SendAsync(http, status, Page(lang, WebText.T(lang, "signin"), body.ToString(), "/", http.Request.QueryString.Value, null));
    }

    private async Task SignInAsync(HttpContext http, Lang lang, IFormCollection form)
    {
        var expected = http.Request.Cookies[SignInCsrfCookie];
        if (string.IsNullOrEmpty(expected) || !WebSessions.TokensMatch(form["csrf"].ToString(), expected))
        {
            await SignInPageAsync(http, lang, WebText.T(lang, "csrf"), StatusCodes.Status403Forbidden);
            return;
        }
        var key = form["key"].ToString().Trim();
        var caller = key.Length is > 0 and <= 200 ? await keys.VerifyAsync(key, http.RequestAborted) : null;
        if (caller is null)
        {
            await SignInPageAsync(http, lang, WebText.T(lang, "signin.bad"), StatusCodes.Status401Unauthorized);
            return;
        }
        if (caller.Role is not (Role.Accountant or Role.Admin))
        {
            await SignInPageAsync(http, lang, WebText.T(lang, "signin.role"), StatusCodes.Status403Forbidden);
            return;
        }
        var (cookie, session) = await _sessions.CreateAsync(caller, http.RequestAborted);
        http.Response.Cookies.Append(WebSessions.Cookie, cookie, SessionCookie(http, session.ExpiresAt));
        http.Response.Cookies.Delete(SignInCsrfCookie, new CookieOptions { Path = "/signin" });
        Redirect(http, "/shifts");
    }

    private static CookieOptions SessionCookie(HttpContext http, DateTimeOffset expires) => new()
    {
        HttpOnly = true, SameSite = SameSiteMode.Strict, Secure = http.Request.IsHttps, Path = "/", Expires = expires, IsEssential = true,
    };

    // ---- shifts ----

    private async Task ShiftsAsync(HttpContext http, Lang lang, WebSession session)
    {
        var q = http.Request.Query;
        var store = Identifier(q, "store");
        var register = Identifier(q, "register");
        var from = DayParam(q, "from");
        var to = DayParam(q, "to");
        var shifts = await Books.ListShiftsAsync(store, register, from, to, PageRows + 1, http.RequestAborted);
        var headers = new[] { "store", "register", "shift", "date", "status", "receipts", "o.Matched", "o.AppliedFromReport", "o.OnlineOnly", "o.Mismatch", "other", "debts", "unresolved" }
            .Select(k => WebText.T(lang, k)).ToArray();
        var shown = shifts.Take(PageRows).ToList();
        if (IsCsv(q))
        {
            await SendCsvAsync(http, "shifts.csv", headers, shown.Select(s => new[]
            {
                s.Shift.StoreId, s.Shift.RegisterId, s.Shift.ShiftNumber.ToString(CultureInfo.InvariantCulture), Time(s.At), WebText.T(lang, "state." + s.State),
                N(s.Receipts), N(s.Matched), N(s.AppliedFromReport), N(s.OnlineOnly), N(s.Mismatch), N(s.Other), N(s.Debts), N(s.Unresolved),
            }));
            return;
        }
        var body = new StringBuilder();
        body.Append("<form method=\"get\" action=\"/shifts\" class=\"filters\">")
            .Append(Input(lang, "store", "store", store)).Append(Input(lang, "register", "register", register))
            .Append(Input(lang, "from", "from", from is null ? null : Day(from.Value), "date")).Append(Input(lang, "to", "to", to is null ? null : Day(to.Value), "date"))
            .Append("<button type=\"submit\">").Append(E(WebText.T(lang, "show"))).Append("</button></form>");
        body.Append(Table(headers, shown.Select(s => (IReadOnlyList<string>)
        [
            E(s.Shift.StoreId), E(s.Shift.RegisterId),
            $"<a href=\"/shift?store={E(U(s.Shift.StoreId))}&amp;register={E(U(s.Shift.RegisterId))}&amp;shift={s.Shift.ShiftNumber}\">{s.Shift.ShiftNumber}</a>",
            E(Time(s.At)), $"<span class=\"{(s.State == ShiftState.NeedsAttention ? "bad" : s.State == ShiftState.Settled ? "ok" : "")}\">{E(WebText.T(lang, "state." + s.State))}</span>",
            N(s.Receipts), N(s.Matched), N(s.AppliedFromReport), N(s.OnlineOnly), N(s.Mismatch), N(s.Other), N(s.Debts), N(s.Unresolved),
        ]), new HashSet<int> { 5, 6, 7, 8, 9, 10, 11, 12 }, "shifts"));
        if (shifts.Count > PageRows) body.Append("<p>").Append(E(WebText.T(lang, "more.rows", PageRows))).Append("</p>");
        body.Append(CsvLink(http, lang));
        await SendAsync(http, 200, Page(lang, WebText.T(lang, "nav.shifts"), body.ToString(), "/shifts", http.Request.QueryString.Value, session));
    }

    private async Task ShiftAsync(HttpContext http, Lang lang, WebSession session)
    {
        var q = http.Request.Query;
        var key = new ShiftKey(Identifier(q, "store") ?? throw Validate.Invalid("The store is missing."),
            Identifier(q, "register") ?? throw Validate.Invalid("The register is missing."), LongParam(q, "shift") ?? throw Validate.Invalid("The shift number is missing."));
        var detail = await Books.GetShiftAsync(key, http.RequestAborted) ?? throw new CardException(CardErrorCode.NotFound, $"The server knows no receipt of shift {key}.");
        var resolved = detail.Resolutions.ToDictionary(r => r.Receipt.ReceiptNumber);
        var headers = new[] { "receipt", "outcome", "card", "online", "total", "bonuses", "report", "total", "bonuses", "applied", "note", "resolution" }
            .Select(k => WebText.T(lang, k)).ToList();
        headers[3] = $"{WebText.T(lang, "online")}: {WebText.T(lang, "card")}";
        headers[6] = $"{WebText.T(lang, "report")}: {WebText.T(lang, "card")}";
        headers[2] = WebText.T(lang, "card");
        var receipts = detail.Result?.Receipts ?? [];
        if (IsCsv(q))
        {
            await SendCsvAsync(http, $"shift-{key.StoreId}-{key.RegisterId}-{key.ShiftNumber}.csv", headers, receipts.Select(r => new[]
            {
                N(r.Ref.ReceiptNumber), WebText.T(lang, "o." + r.Outcome), r.Report?.CardNumber ?? r.Online?.CardNumber ?? "",
                r.Online?.CardNumber ?? "", r.Online is null ? "" : MoneyPlain(r.Online.TotalKopecks, lang), r.Online is null ? "" : MoneyPlain(r.Online.RedeemedKopecks, lang),
                r.Report?.CardNumber ?? "", r.Report is null ? "" : MoneyPlain(r.Report.TotalKopecks, lang), r.Report is null ? "" : MoneyPlain(r.Report.RedeemedKopecks, lang),
                MoneyPlain(r.AppliedAccruedKopecks - r.AppliedRedeemedKopecks + r.ReturnRestoredKopecks - r.ReturnReversedKopecks, lang), r.Note ?? "",
                resolved.TryGetValue(r.Ref.ReceiptNumber, out var done) ? $"{WebText.T(lang, "r." + ShiftResolution.Name(done.Kind))} ({done.Actor}, {Time(done.At)})" : "",
            }));
            return;
        }
        var body = new StringBuilder();
        var s = detail.Summary;
        body.Append("<p>").Append(E(WebText.T(lang, "status"))).Append(": <strong id=\"shift-state\">").Append(E(WebText.T(lang, "state." + s.State))).Append("</strong>; ")
            .Append(E(WebText.T(lang, "receipts"))).Append(' ').Append(s.Receipts).Append("; ").Append(E(WebText.T(lang, "unresolved"))).Append(' ').Append(s.Unresolved).Append("</p>");
        if (q["done"].ToString() is "applied" or "repeated")
            body.Append("<p class=\"notice\" id=\"notice\">").Append(E(WebText.T(lang, q["done"] == "applied" ? "resolved.done" : "resolved.repeated"))).Append("</p>");
        body.Append(Table(headers, receipts.Select(r => (IReadOnlyList<string>)
        [
            N(r.Ref.ReceiptNumber), E(WebText.T(lang, "o." + r.Outcome)) + (r.Debt ? $" <span class=\"bad\">({E(WebText.T(lang, "debts"))})</span>" : ""),
            E(r.Report?.CardNumber ?? r.Online?.CardNumber),
            E(r.Online?.CardNumber), r.Online is null ? "" : Money(r.Online.TotalKopecks, lang), r.Online is null ? "" : Money(r.Online.RedeemedKopecks, lang),
            E(r.Report?.CardNumber), r.Report is null ? "" : Money(r.Report.TotalKopecks, lang), r.Report is null ? "" : Money(r.Report.RedeemedKopecks, lang),
            Money(r.AppliedAccruedKopecks - r.AppliedRedeemedKopecks + r.ReturnRestoredKopecks - r.ReturnReversedKopecks, lang), E(r.Note),
            ResolutionCell(lang, session, key, r, resolved.GetValueOrDefault(r.Ref.ReceiptNumber), s.State == ShiftState.Open),
        ]), new HashSet<int> { 0, 4, 5, 7, 8, 9 }, "receipts"));
        body.Append("<h2>").Append(E(WebText.T(lang, "history"))).Append("</h2>");
        body.Append(Table(new[] { "receipt", "resolution", "amount", "reason", "who", "when", "operation" }.Select(k => WebText.T(lang, k)),
            detail.Resolutions.Select(r => (IReadOnlyList<string>)
            [
                N(r.Receipt.ReceiptNumber), E(WebText.T(lang, "r." + ShiftResolution.Name(r.Kind))) + (r.Applied ? "" : " …"), Money(r.AmountKopecks, lang),
                E(r.Reason), E(r.Actor), E(Time(r.At)), E(r.OperationId),
            ]), new HashSet<int> { 0, 2 }, "history"));
        body.Append("<h2>").Append(E(WebText.T(lang, "ledger.rows"))).Append("</h2>");
        body.Append(Table(new[] { "card", "kind", "amount", "balance.after", "reason", "who", "when", "operation" }.Select(k => WebText.T(lang, k)),
            detail.Movements.Select(m => (IReadOnlyList<string>)
            [
                E(m.CardNumber), E(m.Kind.ToString()), Money(m.AmountKopecks, lang), Money(m.BalanceAfterKopecks, lang), E(m.Reason), E(m.Actor), E(Time(m.At)), E(m.OperationId),
            ]), new HashSet<int> { 2, 3 }, "movements"));
        body.Append(CsvLink(http, lang));
        await SendAsync(http, 200, Page(lang, $"{WebText.T(lang, "shift")} {key}", body.ToString(), "/shift", http.Request.QueryString.Value, session));
    }

    private static string ResolutionCell(Lang lang, WebSession session, ShiftKey key, ReconciledReceipt r, ResolutionRecord? done, bool open)
    {
        if (done is not null)
            return $"<span class=\"ok\">{E(WebText.T(lang, "r." + ShiftResolution.Name(done.Kind)))}</span> — {E(WebText.T(lang, "resolved.by"))} {E(done.Actor)}, {E(Time(done.At))}";
        if (open || !ShiftResolution.NeedsResolution(r.Outcome)) return "";
        var hidden = Csrf(session.CsrfToken)
            + $"<input type=\"hidden\" name=\"store\" value=\"{E(key.StoreId)}\"><input type=\"hidden\" name=\"register\" value=\"{E(key.RegisterId)}\">"
            + $"<input type=\"hidden\" name=\"shift\" value=\"{key.ShiftNumber}\"><input type=\"hidden\" name=\"receipt\" value=\"{r.Ref.ReceiptNumber}\">";
        var id = r.Ref.ReceiptNumber;
        var sb = new StringBuilder("<div class=\"resolve\">");
        if (r.Outcome is ReceiptOutcome.OnlineOnly or ReceiptOutcome.Mismatch)
            sb.Append("<form method=\"post\" action=\"/resolve\">").Append(hidden).Append("<input type=\"hidden\" name=\"kind\" value=\"accept-report\">")
              .Append($"<button type=\"submit\" id=\"accept-{id}\">").Append(E(WebText.T(lang, "r.accept-report"))).Append("</button></form>");
        sb.Append("<form method=\"post\" action=\"/resolve\">").Append(hidden).Append("<input type=\"hidden\" name=\"kind\" value=\"keep-online\">")
          .Append($"<button type=\"submit\" id=\"keep-{id}\">").Append(E(WebText.T(lang, "r.keep-online"))).Append("</button></form>");
        sb.Append("<form method=\"post\" action=\"/resolve\">").Append(hidden).Append("<input type=\"hidden\" name=\"kind\" value=\"adjustment\">")
          .Append($"<input type=\"text\" name=\"amount\" id=\"amount-{id}\" placeholder=\"{E(WebText.T(lang, "amount"))}\" size=\"8\" required> ")
          .Append($"<input type=\"text\" name=\"reason\" id=\"reason-{id}\" placeholder=\"{E(WebText.T(lang, "reason"))}\" maxlength=\"{ShiftResolution.MaxReasonLength}\" required> ")
          .Append($"<button type=\"submit\" id=\"adjust-{id}\">").Append(E(WebText.T(lang, "r.adjustment"))).Append("</button></form>");
        return sb.Append("</div>").ToString();
    }

    private async Task ResolveAsync(HttpContext http, Lang lang, WebSession session, IFormCollection form)
    {
        var store = FormIdentifier(form, "store");
        var register = FormIdentifier(form, "register");
        var shift = ParseLong(form["shift"].ToString(), "shift");
        var receipt = ParseLong(form["receipt"].ToString(), "receipt");
        var kind = ShiftResolution.Parse(form["kind"].ToString()) ?? throw Validate.Invalid("The resolution is not one of: accept-report, keep-online, adjustment.");
        var amount = kind == ResolutionKind.Adjustment ? ParseRoubles(form["amount"].ToString()) : 0;
        var outcome = await Books.ResolveAsync(new ShiftKey(store, register, shift), receipt, kind, amount, form["reason"].ToString(), session.Caller.Actor, http.RequestAborted);
        Redirect(http, $"/shift?store={U(store)}&register={U(register)}&shift={shift}&done={(outcome.Repeated ? "repeated" : "applied")}");
    }

    // ---- debts ----

    private async Task DebtsAsync(HttpContext http, Lang lang, WebSession session)
    {
        var q = http.Request.Query;
        var outstanding = q["outstanding"].ToString() == "1";
        var debts = await Books.ListDebtsAsync(outstanding, PageRows, http.RequestAborted);
        var headers = new[] { "card", "debt.incurred", "receipt", "debt.redeemed", "balance.after", "debt.now", "debt.repaid", "debt.repaid.at" }.Select(k => WebText.T(lang, k)).ToArray();
        string Repaid(DebtRecord d, bool html) => string.Join(html ? "<br>" : "; ", d.Repayments.Select(r =>
        {
            var text = $"{Time(r.Row.At)} {r.Row.Kind} {(html ? Money(r.RepaidKopecks, lang) : MoneyPlain(r.RepaidKopecks, lang))}";
            return html ? E(text) : text;
        }));
        if (IsCsv(q))
        {
            await SendCsvAsync(http, "debts.csv", headers, debts.Select(d => new[]
            {
                d.CardNumber, Time(d.Incurred.At), d.Incurred.Receipt?.ToString() ?? "", MoneyPlain(-d.Incurred.AmountKopecks, lang), MoneyPlain(d.Incurred.AvailableAfterKopecks, lang),
                MoneyPlain(d.DebtNowKopecks, lang), Repaid(d, false), d.RepaidAt is { } at ? Time(at) : WebText.T(lang, "debt.open"),
            }));
            return;
        }
        var body = new StringBuilder();
        body.Append("<form method=\"get\" action=\"/debts\" class=\"filters\"><label><input type=\"checkbox\" name=\"outstanding\" value=\"1\"")
            .Append(outstanding ? " checked" : "").Append("> ").Append(E(WebText.T(lang, "debt.outstanding"))).Append("</label> <button type=\"submit\">")
            .Append(E(WebText.T(lang, "show"))).Append("</button></form>");
        body.Append(Table(headers, debts.Select(d => (IReadOnlyList<string>)
        [
            $"<a href=\"/card?number={E(U(d.CardNumber))}\">{E(d.CardNumber)}</a>", E(Time(d.Incurred.At)), E(d.Incurred.Receipt?.ToString()),
            Money(-d.Incurred.AmountKopecks, lang), Money(d.Incurred.AvailableAfterKopecks, lang), Money(d.DebtNowKopecks, lang), Repaid(d, true),
            d.RepaidAt is { } at ? E(Time(at)) : $"<span class=\"bad\">{E(WebText.T(lang, "debt.open"))}</span>",
        ]), new HashSet<int> { 3, 4, 5 }, "debts"));
        body.Append(CsvLink(http, lang));
        await SendAsync(http, 200, Page(lang, WebText.T(lang, "nav.debts"), body.ToString(), "/debts", http.Request.QueryString.Value, session));
    }

    // ---- liability ----

    private static readonly string[] LineKeys =
    [
        "l.opening", "l.accrued", "l.released", "l.online", "l.offline", "l.expired", "l.returns", "l.adjustments", "l.transfers", "l.other", "l.closing",
        "l.pending.opening", "l.pending.accrued", "l.pending.released", "l.pending.returned", "l.pending.closing", "l.held",
    ];

    private static long[] Figures(LiabilityLine l) =>
    [
        l.OpeningKopecks, l.AccruedKopecks, l.ReleasedKopecks, l.RedeemedOnlineKopecks, l.RedeemedOfflineKopecks, l.ExpiredKopecks, l.ReturnsKopecks,
        l.AdjustmentsKopecks, l.TransfersKopecks, l.OtherKopecks, l.ClosingKopecks,
        l.PendingOpeningKopecks, l.PendingAccruedKopecks, l.PendingReleasedKopecks, l.PendingReturnedKopecks, l.PendingClosingKopecks, l.HeldClosingKopecks,
    ];

    private async Task LiabilityAsync(HttpContext http, Lang lang, WebSession session)
    {
        var q = http.Request.Query;
        var books = Books;
        var today = books.Today;
        var to = DayParam(q, "to") ?? today;
        var from = DayParam(q, "from") ?? new DateOnly(to.Year, to.Month, 1);
        var report = await books.LiabilityAsync(from, to, http.RequestAborted);
        var st = report.Statement;
        var rows = st.Lines.Select(l => (l: l, Store: l.StoreId == "" ? WebText.T(lang, "l.store.none") : l.StoreId))
            .Concat(st.Programs.Select(l => (l: l, Store: WebText.T(lang, "l.store.all"))))
            .Append((l: st.Total, Store: WebText.T(lang, "l.total"))).ToList();
        var headers = new[] { WebText.T(lang, "l.program"), WebText.T(lang, "store") }.Concat(LineKeys.Select(k => WebText.T(lang, k))).ToArray();
        string Program(LiabilityLine l) => l.ProgramId == "*" ? "" : l.ProgramId;
        var format = q["format"].ToString();
        if (format == "csv")
        {
            await SendCsvAsync(http, $"liability-{Day(from)}-{Day(to)}.csv", headers,
                rows.Select(r => new[] { Program(r.l), r.Store }.Concat(Figures(r.l).Select(k => MoneyPlain(k, lang)))));
            return;
        }
        if (format == "xlsx")
        {
            var sheet = rows.Select(r =>
            {
                var row = new Dictionary<string, object> { [headers[0]] = Program(r.l), [headers[1]] = r.Store };
                var figures = Figures(r.l);
                for (var i = 0; i < figures.Length; i++) row[headers[i + 2]] = figures[i] / 100m;
                return row;
            }).ToList();
            using var buffer = new MemoryStream();
            await buffer.SaveAsAsync(sheet, sheetName: "Liability", excelType: ExcelType.XLSX, cancellationToken: http.RequestAborted);
            http.Response.ContentType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
            http.Response.Headers.ContentDisposition = $"attachment; filename=\"liability-{Day(from)}-{Day(to)}.xlsx\"";
            await http.Response.Body.WriteAsync(buffer.ToArray(), http.RequestAborted);
            return;
        }
        var body = new StringBuilder();
        body.Append("<form method=\"get\" action=\"/liability\" class=\"filters\">")
            .Append(Input(lang, "from", "from", Day(from), "date")).Append(Input(lang, "to", "to", Day(to), "date"))
            .Append("<button type=\"submit\">").Append(E(WebText.T(lang, "show"))).Append("</button></form>");
        body.Append("<p>").Append(E(WebText.T(lang, "l.explain"))).Append("</p>");
        // Transposed: a row per statement line, a column per programme and store, as accountants read a roll-forward.
        var columns = rows.Select(r => $"{Program(r.l)} {r.Store}".Trim()).ToList();
        body.Append(Table(new[] { "" }.Concat(columns), LineKeys.Select((k, i) => (IReadOnlyList<string>)
            [E(WebText.T(lang, k)), .. rows.Select(r => Money(Figures(r.l)[i], lang))]), new HashSet<int>(Enumerable.Range(1, columns.Count)), "liability"));
        body.Append("<h2>").Append(E(WebText.T(lang, "check"))).Append("</h2><ul id=\"check\">");
        body.Append(st.RollsForward ? $"<li class=\"ok\" id=\"check-roll\">{E(WebText.T(lang, "check.roll.ok"))}</li>" : $"<li class=\"bad\" id=\"check-roll\">{E(WebText.T(lang, "check.roll.bad"))}</li>");
        if (report.Cards is { } cards)
            body.Append(report.TiesToCards == true
                ? $"<li class=\"ok\" id=\"check-cards\">{E(WebText.T(lang, "check.cards.ok", Money(cards.BalanceKopecks, lang)))}</li>"
                : $"<li class=\"bad\" id=\"check-cards\">{E(WebText.T(lang, "check.cards.bad", Money(cards.BalanceKopecks, lang), Money(cards.PendingKopecks, lang), Money(cards.HeldKopecks, lang)))}</li>");
        else
            body.Append($"<li id=\"check-cards\">{E(WebText.T(lang, "check.cards.past"))}</li>");
        body.Append("</ul>");
        body.Append("<h2>").Append(E(WebText.T(lang, "chart"))).Append("</h2>").Append(Chart(report.Daily, lang));
        var query = $"from={Day(from)}&amp;to={Day(to)}";
        body.Append($"<p><a href=\"/liability?{query}&amp;format=csv\" id=\"csv\">CSV</a> · <a href=\"/liability?{query}&amp;format=xlsx\" id=\"xlsx\">XLSX</a></p>");
        await SendAsync(http, 200, Page(lang, $"{WebText.T(lang, "nav.liability")} {Day(from)} — {Day(to)}", body.ToString(), "/liability", http.Request.QueryString.Value, session));
    }

    /// <summary>The daily closing liability as an SVG line (no script): a point a day, the axis labelled with the first and last day and the range.</summary>
    private static string Chart(IReadOnlyList<(DateOnly Day, long LiabilityKopecks, long PendingKopecks)> daily, Lang lang)
    {
        const int width = 720, height = 240, pad = 40;
        if (daily.Count == 0) return "";
        var min = Math.Min(0, daily.Min(d => d.LiabilityKopecks));
        var max = Math.Max(1, daily.Max(d => d.LiabilityKopecks));
        double X(int i) => pad + (daily.Count == 1 ? 0 : (double)i * (width - 2 * pad) / (daily.Count - 1));
        double Y(long v) => height - pad - (double)(v - min) * (height - 2 * pad) / (max - min);
        var points = string.Join(" ", daily.Select((d, i) => $"{X(i).ToString("0.#", CultureInfo.InvariantCulture)},{Y(d.LiabilityKopecks).ToString("0.#", CultureInfo.InvariantCulture)}"));
        var sb = new StringBuilder();
        sb.Append($"<svg id=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\">")
          .Append($"<title>{E(WebText.T(lang, "chart"))}</title>")
          .Append($"<line x1=\"{pad}\" y1=\"{height - pad}\" x2=\"{width - pad}\" y2=\"{height - pad}\" stroke=\"#888\"/>")
          .Append($"<line x1=\"{pad}\" y1=\"{pad}\" x2=\"{pad}\" y2=\"{height - pad}\" stroke=\"#888\"/>")
          .Append($"<polyline fill=\"none\" stroke=\"#2a6\" stroke-width=\"2\" points=\"{points}\"/>")
          .Append($"<text x=\"{pad}\" y=\"{height - 10}\" font-size=\"12\">{E(Day(daily[0].Day))}</text>")
          .Append($"<text x=\"{width - pad}\" y=\"{height - 10}\" font-size=\"12\" text-anchor=\"end\">{E(Day(daily[^1].Day))}</text>")
          .Append($"<text x=\"{pad + 4}\" y=\"{pad - 8}\" font-size=\"12\">{E(Money(max, lang))} ₽</text>")
          .Append($"<text x=\"{pad + 4}\" y=\"{height - pad - 4}\" font-size=\"12\">{E(Money(min, lang))} ₽</text>");
        for (var i = 0; i < daily.Count; i++)
            sb.Append($"<circle cx=\"{X(i).ToString("0.#", CultureInfo.InvariantCulture)}\" cy=\"{Y(daily[i].LiabilityKopecks).ToString("0.#", CultureInfo.InvariantCulture)}\" r=\"2\" fill=\"#2a6\"><title>{E(Day(daily[i].Day))}: {E(Money(daily[i].LiabilityKopecks, lang))}</title></circle>");
        return sb.Append("</svg>").ToString();
    }

    // ---- card lookup ----

    private async Task CardAsync(HttpContext http, Lang lang, WebSession session)
    {
        var q = http.Request.Query;
        var number = q["number"].ToString().Trim();
        var body = new StringBuilder();
        body.Append("<form method=\"get\" action=\"/card\" class=\"filters\">").Append(Input(lang, "card.number", "number", number))
            .Append("<button type=\"submit\" id=\"find\">").Append(E(WebText.T(lang, "card.lookup"))).Append("</button></form>");
        if (number.Length > 0)
        {
            Validate.CardNumber(number);
            var grain = runtime.Card(number);
            var card = await grain.GetAsync(http.RequestAborted);
            var statement = await grain.GetStatementAsync(100, null, http.RequestAborted);
            var headers = new[] { "when", "kind", "amount", "balance.after", "card.available", "receipt", "reason", "who", "operation" }.Select(k => WebText.T(lang, k)).ToArray();
            if (IsCsv(q))
            {
                await SendCsvAsync(http, $"card-{number}.csv", headers, statement.Entries.Select(e => new[]
                {
                    Time(e.At), e.Kind.ToString(), MoneyPlain(e.AmountKopecks, lang), MoneyPlain(e.BalanceAfterKopecks, lang), MoneyPlain(e.AvailableAfterKopecks, lang),
                    e.Receipt?.ToString() ?? "", e.Reason ?? "", e.Actor ?? "", e.OperationId,
                }));
                return;
            }
            body.Append(Table(["", ""], new (string, string)[]
            {
                ("card.number", E(card.Number)), ("card.status", E(card.Status.ToString())), ("card.program", E(card.ProgramId)),
                ("card.balance", Money(card.BalanceKopecks, lang)), ("card.available", Money(card.AvailableKopecks, lang)),
                ("card.held", Money(card.HeldKopecks, lang)), ("card.pending", Money(card.PendingKopecks, lang)),
                ("card.phone", E(MaskPhone(card.Phone))), ("card.email", E(MaskEmail(card.Email))),
            }.Select(p => (IReadOnlyList<string>)[E(WebText.T(lang, p.Item1)), p.Item2]), null, "card"));
            body.Append("<h2>").Append(E(WebText.T(lang, "card.statement"))).Append("</h2>");
            body.Append(Table(headers, statement.Entries.Select(e => (IReadOnlyList<string>)
            [
                E(Time(e.At)), E(e.Kind.ToString()), Money(e.AmountKopecks, lang), Money(e.BalanceAfterKopecks, lang), Money(e.AvailableAfterKopecks, lang),
                E(e.Receipt?.ToString()), E(e.Reason), E(e.Actor), E(e.OperationId),
            ]), new HashSet<int> { 2, 3, 4 }, "statement"));
            body.Append(CsvLink(http, lang));
        }
        await SendAsync(http, 200, Page(lang, WebText.T(lang, "nav.card"), body.ToString(), "/card", http.Request.QueryString.Value, session));
    }

    /// <summary>A phone with all but its first two and last two digits hidden: +7*******67.</summary>
    public static string MaskPhone(string? phone)
    {
        if (string.IsNullOrEmpty(phone)) return "";
        var keep = phone.Length <= 4 ? 1 : 2;
        return phone[..keep] + new string('*', Math.Max(0, phone.Length - 2 * keep)) + phone[^keep..];
    }

    /// <summary>An e-mail with its local part reduced to the first character: i***@example.com.</summary>
    public static string MaskEmail(string? email)
    {
        if (string.IsNullOrEmpty(email)) return "";
        var at = email.IndexOf('@');
        return at <= 0 ? "***" : email[0] + "***" + email[at..];
    }

    // ---- input ----

    private static async Task<IFormCollection?> ReadFormAsync(HttpContext http)
    {
        if (!http.Request.HasFormContentType || http.Request.ContentType?.StartsWith("application/x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase) != true) return null;
        if (http.Request.ContentLength > MaxFormBytes) throw Validate.Invalid($"The form is larger than {MaxFormBytes} bytes.");
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit) limit.MaxRequestBodySize = MaxFormBytes;
        try
        {
            return await http.Request.ReadFormAsync(new FormOptions { ValueCountLimit = 32, KeyLengthLimit = 64, ValueLengthLimit = 4096 }, http.RequestAborted);
        }
        catch (Exception e) when (e is InvalidDataException or BadHttpRequestException or IOException)
        {
            throw Validate.Invalid("The form could not be read: it is malformed or too large.");
        }
    }

    private static string? Identifier(IQueryCollection q, string name)
    {
        var value = q[name].ToString().Trim();
        if (value.Length == 0) return null;
        Validate.Identifier(value, name);
        return value;
    }

    private static string FormIdentifier(IFormCollection form, string name)
    {
        var value = form[name].ToString().Trim();
        Validate.Identifier(value, name);
        return value;
    }

    private static long? LongParam(IQueryCollection q, string name)
    {
        var text = q[name].ToString().Trim();
        return text.Length == 0 ? null : ParseLong(text, name);
    }

    private static long ParseLong(string text, string name) =>
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value > 0
            ? value
            : throw Validate.Invalid($"The {name} must be a positive whole number.");

    private static DateOnly? DayParam(IQueryCollection q, string name)
    {
        var text = q[name].ToString().Trim();
        if (text.Length == 0) return null;
        return DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day) && day.Year >= 2000
            ? day
            : throw Validate.Invalid($"The day \"{name}\" must be a date written YYYY-MM-DD from the year 2000.");
    }

    [GeneratedRegex(@"^[+-]?[0-9]{1,10}([.,][0-9]{1,2})?$")]
    private static partial Regex RoublesPattern();

    /// <summary>Roubles as typed ("-12,50", "300", "+0.05") to kopecks; anything else is refused.</summary>
    public static long ParseRoubles(string text)
    {
        text = text.Trim().Replace(" ", "").Replace("\u00A0", "");
        if (!RoublesPattern().IsMatch(text))
            throw Validate.Invalid("The amount must be roubles with at most two decimals, like -12,50 or 300.");
        return (long)(decimal.Parse(text.Replace(',', '.'), NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture) * 100);
    }

    private static bool IsCsv(IQueryCollection q) => q["format"].ToString() == "csv";

    private static string N(long n) => n.ToString(CultureInfo.InvariantCulture);

    private static string Input(Lang lang, string label, string name, string? value, string type = "text") =>
        $"<label>{E(WebText.T(lang, label))} <input type=\"{type}\" name=\"{name}\" id=\"{name}\" value=\"{E(value)}\"></label>";

    private static string CsvLink(HttpContext http, Lang lang)
    {
        var rest = string.Join("&", (http.Request.QueryString.Value ?? "").TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Where(p => !p.StartsWith("format=", StringComparison.Ordinal) && !p.StartsWith("done=", StringComparison.Ordinal) && !p.StartsWith("lang=", StringComparison.Ordinal)));
        return $"<p><a id=\"csv\" href=\"{E(http.Request.Path.Value)}?{E(rest)}{(rest.Length > 0 ? "&amp;" : "")}format=csv\">{E(WebText.T(lang, "csv"))}</a></p>";
    }

    // ---- output ----

    private static void SecurityHeaders(HttpResponse response)
    {
        response.Headers.ContentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
        response.Headers.XContentTypeOptions = "nosniff";
        response.Headers["Referrer-Policy"] = "no-referrer";
        response.Headers.XFrameOptions = "DENY";
        response.Headers.CacheControl = "no-store";
    }

    private static async Task SendAsync(HttpContext http, int status, string html)
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = "text/html; charset=utf-8";
        if (!HttpMethods.IsHead(http.Request.Method)) await http.Response.WriteAsync(html, Encoding.UTF8, http.RequestAborted);
    }

    private static async Task SendCsvAsync(HttpContext http, string fileName, IEnumerable<string> headers, IEnumerable<IEnumerable<string>> rows)
    {
        var bytes = Csv.Write(headers, rows);
        http.Response.StatusCode = 200;
        http.Response.ContentType = "text/csv; charset=utf-8";
        var safe = new string(fileName.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' ? c : '_').ToArray());
        http.Response.Headers.ContentDisposition = $"attachment; filename=\"{safe}\"";
        await http.Response.Body.WriteAsync(bytes, http.RequestAborted);
    }

    private static Task ErrorAsync(HttpContext http, Lang lang, int status, string message, WebSession? session) =>
        SendAsync(http, status, Page(lang, WebText.T(lang, "error"), $"<p class=\"error\" id=\"error\">{E(message)}</p>", http.Request.Path.Value ?? "/", null, session));

    private static void Redirect(HttpContext http, string location)
    {
        http.Response.StatusCode = StatusCodes.Status303SeeOther;
        http.Response.Headers.Location = location;
    }
}
