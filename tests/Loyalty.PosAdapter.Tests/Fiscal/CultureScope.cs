using System.Globalization;

namespace Loyalty.PosAdapter.Tests.Fiscal;

/// <summary>
/// Runs code under a culture whose decimal separator is a comma, as ru-RU has. The build uses
/// InvariantGlobalization, where "ru-RU" carries invariant data, so the comma is set by hand: what
/// matters is that nothing in Fiscal/ follows the current culture's separator.
/// </summary>
internal sealed class CultureScope : IDisposable
{
    private readonly CultureInfo previous = CultureInfo.CurrentCulture;
    private readonly CultureInfo previousUi = CultureInfo.CurrentUICulture;

    public static CultureInfo RussianLike()
    {
        var culture = (CultureInfo)CultureInfo.InvariantCulture.Clone();
        culture.NumberFormat.NumberDecimalSeparator = ",";
        culture.NumberFormat.CurrencyDecimalSeparator = ",";
        culture.NumberFormat.NumberGroupSeparator = "\u00A0";
        culture.DateTimeFormat.ShortTimePattern = "h:mm tt";
        culture.DateTimeFormat.LongTimePattern = "h:mm:ss tt";
        return culture;
    }

    public CultureScope(CultureInfo culture)
    {
        CultureInfo.CurrentCulture = culture;
        CultureInfo.CurrentUICulture = culture;
    }

    public void Dispose()
    {
        CultureInfo.CurrentCulture = previous;
        CultureInfo.CurrentUICulture = previousUi;
    }

    public static T Under<T>(CultureInfo culture, Func<T> action)
    {
        using var _ = new CultureScope(culture);
        return action();
    }
}
