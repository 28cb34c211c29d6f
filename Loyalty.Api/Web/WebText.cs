using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace Loyalty.Api.Web;

/// <summary>The pages' languages.</summary>
public enum Lang { Ru, En }

/// <summary>
/// Every word the accountant's pages show, in Russian and English, in one place; and the choice of
/// language: <c>?lang=</c> (remembered in a cookie), else the cookie, else Accept-Language (Russian
/// when it names Russian before English), else Russian.
/// </summary>
public static class WebText
{
    public const string LanguageCookie = "loyalty_lang";

    private static readonly Dictionary<string, (string Ru, string En)> Words = new(StringComparer.Ordinal)
    {
        ["title"] = ("Рабочее место бухгалтера", "Accountant's workplace"),
        ["signin"] = ("Вход", "Sign in"),
        ["signin.key"] = ("API-ключ", "API key"),
        ["signin.hint"] = ("Войдите с ключом роли accountant или admin.", "Sign in with an accountant or admin key."),
        ["signin.bad"] = ("Ключ не подходит: неизвестный, отозванный или с опечаткой.", "The key is not valid: unknown, revoked or mistyped."),
        ["signin.role"] = ("Ключ кассы (pos) не открывает рабочее место бухгалтера; нужен ключ accountant или admin.", "A register's (pos) key does not open the accountant's workplace; use an accountant or admin key."),
        ["signout"] = ("Выйти", "Sign out"),
        ["csrf"] = ("Форма устарела или пришла не с этой страницы (нет CSRF-токена). Откройте страницу заново и повторите.", "The form is stale or did not come from this page (CSRF token missing). Open the page again and retry."),
        ["nav.shifts"] = ("Смены", "Shifts"),
        ["nav.debts"] = ("Долги", "Debts"),
        ["nav.liability"] = ("Обязательства", "Liability"),
        ["nav.card"] = ("Карта", "Card"),
        ["store"] = ("Магазин", "Store"),
        ["register"] = ("Касса", "Register"),
        ["shift"] = ("Смена", "Shift"),
        ["date"] = ("Дата", "Date"),
        ["from"] = ("С", "From"),
        ["to"] = ("По", "To"),
        ["show"] = ("Показать", "Show"),
        ["status"] = ("Статус", "Status"),
        ["receipts"] = ("Чеков", "Receipts"),
        ["receipt"] = ("Чек", "Receipt"),
        ["outcome"] = ("Итог сверки", "Outcome"),
        ["state.Open"] = ("открыта", "open"),
        ["state.NeedsAttention"] = ("требует внимания", "needs attention"),
        ["state.Settled"] = ("сверена", "settled"),
        ["o.Matched"] = ("совпал", "matched"),
        ["o.AppliedFromReport"] = ("проведён по отчёту", "applied from the report"),
        ["o.OnlineOnly"] = ("только онлайн", "online only"),
        ["o.Mismatch"] = ("расхождение", "mismatch"),
        ["o.ReturnApplied"] = ("возврат проведён", "return applied"),
        ["o.ReturnUnmatched"] = ("возврат без продажи", "return unmatched"),
        ["o.WithoutCard"] = ("без карты", "without card"),
        ["o.Cancelled"] = ("аннулирован", "cancelled"),
        ["o.NotApplied"] = ("не проведён", "not applied"),
        ["other"] = ("прочие", "other"),
        ["debts"] = ("долги", "debts"),
        ["unresolved"] = ("не решено", "unresolved"),
        ["online"] = ("Онлайн", "Online"),
        ["report"] = ("Отчёт кассы", "Register report"),
        ["card"] = ("Карта", "Card"),
        ["total"] = ("Сумма", "Total"),
        ["bonuses"] = ("Бонусы", "Bonuses"),
        ["applied"] = ("Проведено", "Applied"),
        ["note"] = ("Примечание", "Note"),
        ["resolution"] = ("Решение", "Resolution"),
        ["r.accept-report"] = ("принять отчёт кассы", "accept the report"),
        ["r.keep-online"] = ("оставить онлайн", "keep online"),
        ["r.adjustment"] = ("корректировка", "adjustment"),
        ["amount"] = ("Сумма, ₽", "Amount, ₽"),
        ["reason"] = ("Причина", "Reason"),
        ["apply"] = ("Провести", "Apply"),
        ["resolved.by"] = ("решено", "resolved"),
        ["resolved.done"] = ("Решение проведено.", "The resolution is applied."),
        ["resolved.repeated"] = ("Этот чек уже решён этим же решением; повторно ничего не проведено.", "This receipt was already resolved this way; nothing was applied again."),
        ["history"] = ("История решений", "Resolution history"),
        ["who"] = ("Кто", "Who"),
        ["when"] = ("Когда", "When"),
        ["ledger.rows"] = ("Проводки в журнале", "Ledger rows"),
        ["operation"] = ("Операция", "Operation"),
        ["no.rows"] = ("Нет строк.", "No rows."),
        ["csv"] = ("CSV", "CSV"),
        ["xlsx"] = ("XLSX", "XLSX"),
        ["debt.now"] = ("Долг сейчас", "Debt now"),
        ["debt.incurred"] = ("Возник", "Incurred"),
        ["debt.redeemed"] = ("Списано офлайн", "Redeemed offline"),
        ["debt.repaid"] = ("Погашено (когда, чем, сколько)", "Repaid (when, by what, how much)"),
        ["debt.repaid.at"] = ("Погашен полностью", "Repaid in full"),
        ["debt.outstanding"] = ("Только непогашенные", "Outstanding only"),
        ["debt.open"] = ("не погашен", "outstanding"),
        ["l.program"] = ("Программа", "Programme"),
        ["l.store.none"] = ("(без магазина)", "(no store)"),
        ["l.store.all"] = ("Итого по программе", "Programme total"),
        ["l.total"] = ("Итого", "Total"),
        ["l.opening"] = ("Входящее обязательство", "Opening liability"),
        ["l.accrued"] = ("Начислено", "Accrued"),
        ["l.released"] = ("Из ожидания", "Released from pending"),
        ["l.online"] = ("Списано онлайн", "Redeemed online"),
        ["l.offline"] = ("Списано офлайн", "Redeemed offline"),
        ["l.expired"] = ("Сгорело", "Expired"),
        ["l.returns"] = ("Возвраты", "Returns"),
        ["l.adjustments"] = ("Корректировки", "Adjustments"),
        ["l.transfers"] = ("Переносы", "Transfers"),
        ["l.other"] = ("Прочее", "Other"),
        ["l.closing"] = ("Исходящее обязательство", "Closing liability"),
        ["l.pending.opening"] = ("Ожидание: вход", "Pending: opening"),
        ["l.pending.accrued"] = ("Ожидание: начислено", "Pending: accrued"),
        ["l.pending.released"] = ("Ожидание: освобождено", "Pending: released"),
        ["l.pending.returned"] = ("Ожидание: возвраты", "Pending: returned"),
        ["l.pending.closing"] = ("Ожидание: исход", "Pending: closing"),
        ["l.held"] = ("В т. ч. удержано", "Of which held"),
        ["l.explain"] = ("Обязательство — бонусы, которые покупатели могут потратить или отложили под покупку: остатки карт без начислений в ожидании (их покажем отдельно; при возврате товара они отменяются). Удержанные под чек бонусы входят в обязательство и показаны отдельно.",
            "The liability is what customers may spend or have set aside for a purchase: card balances less accruals still pending (shown apart; a return cancels them). Bonuses held for a receipt are part of the liability and shown apart."),
        ["check"] = ("Сверка с журналом", "Tie-out to the ledger"),
        ["check.roll.ok"] = ("Вход + движения = исход по каждой строке (и для ожидания): сходится.", "Opening + movements = closing on every line (and for pending): ties."),
        ["check.roll.bad"] = ("Вход + движения ≠ исход: НЕ СХОДИТСЯ.", "Opening + movements ≠ closing: DOES NOT TIE."),
        ["check.cards.ok"] = ("Исходящее обязательство + ожидание = сумма остатков карт ({0}); ожидание и удержано равны суммам по картам: сходится.", "Closing liability + pending = the sum of card balances ({0}); pending and held equal the cards' sums: ties."),
        ["check.cards.bad"] = ("С остатками карт НЕ СХОДИТСЯ: сумма остатков {0}, ожидание {1}, удержано {2}.", "DOES NOT TIE to the cards: balances {0}, pending {1}, held {2}."),
        ["check.cards.past"] = ("Период закончился до сегодняшнего дня: исход сверен с суммой строк журнала до конца периода (остатки карт — это сегодняшний день).", "The period ended before today: the closing figures are the ledger's rows up to its end (card balances are today's)."),
        ["chart"] = ("Исходящее обязательство по дням", "Daily closing liability"),
        ["card.lookup"] = ("Найти карту", "Find a card"),
        ["card.number"] = ("Номер карты", "Card number"),
        ["card.status"] = ("Статус", "Status"),
        ["card.balance"] = ("Остаток", "Balance"),
        ["card.available"] = ("Доступно", "Available"),
        ["card.held"] = ("Удержано", "Held"),
        ["card.pending"] = ("В ожидании", "Pending"),
        ["card.phone"] = ("Телефон", "Phone"),
        ["card.email"] = ("Эл. почта", "E-mail"),
        ["card.program"] = ("Программа", "Programme"),
        ["card.statement"] = ("Выписка", "Statement"),
        ["card.notfound"] = ("Карта не найдена.", "No such card."),
        ["kind"] = ("Вид", "Kind"),
        ["balance.after"] = ("Остаток после", "Balance after"),
        ["error"] = ("Ошибка", "Error"),
        ["bad.request"] = ("Запрос не понят", "The request is not understood"),
        ["not.found"] = ("Страница не найдена.", "No such page."),
        ["signed.as"] = ("Вы вошли как", "Signed in as"),
        ["more.rows"] = ("Показаны первые {0} строк; сузьте отбор.", "The first {0} rows are shown; narrow the selection."),
    };

    /// <summary>The word for <paramref name="key"/> in <paramref name="lang"/>; an unknown key is shown as itself (a missing word is visible, not a crash).</summary>
    public static string T(Lang lang, string key) => Words.TryGetValue(key, out var w) ? (lang == Lang.Ru ? w.Ru : w.En) : key;

    public static string T(Lang lang, string key, params object[] args) => string.Format(CultureInfo.InvariantCulture, T(lang, key), args);

    /// <summary>
    /// Number formats per language, built by hand: the server runs in .NET's globalization-invariant
    /// mode (no ICU), where no culture but the invariant one exists. Russian: "1 234,56" (no-break
    /// space); English: "1,234.56".
    /// </summary>
    public static NumberFormatInfo Numbers(Lang lang) => lang == Lang.Ru ? Russian : English;

    private static readonly NumberFormatInfo Russian = new() { NumberDecimalSeparator = ",", NumberGroupSeparator = "\u00A0", NegativeSign = "-" };
    private static readonly NumberFormatInfo English = NumberFormatInfo.InvariantInfo;

    /// <summary>The request's language (see the class summary); a <c>?lang=</c> choice is also remembered in a cookie.</summary>
    public static Lang Choose(HttpContext http)
    {
        var asked = Parse(http.Request.Query["lang"].ToString());
        if (asked is { } chosen)
        {
            http.Response.Cookies.Append(LanguageCookie, chosen == Lang.Ru ? "ru" : "en", new CookieOptions
            {
                HttpOnly = true, SameSite = SameSiteMode.Lax, Secure = http.Request.IsHttps, Path = "/", MaxAge = TimeSpan.FromDays(365), IsEssential = true,
            });
            return chosen;
        }
        if (Parse(http.Request.Cookies[LanguageCookie]) is { } remembered) return remembered;
        var header = http.Request.Headers.AcceptLanguage.ToString();
        var ru = header.IndexOf("ru", StringComparison.OrdinalIgnoreCase);
        var en = header.IndexOf("en", StringComparison.OrdinalIgnoreCase);
        return en >= 0 && (ru < 0 || en < ru) ? Lang.En : Lang.Ru;
    }

    private static Lang? Parse(string? text) => text switch { "ru" => Lang.Ru, "en" => Lang.En, _ => null };
}
