#nullable enable

namespace Loyalty.Protos;

/// <summary>
/// How a customer's contact is read, for tag 1008 (the OFD's copy) and for a receipt link sent by
/// SMS or e-mail: phones become <c>+7XXXXXXXXXX</c>, e-mails are checked, placeholders are blank
/// (protocols.md §2.1; field cases C1). Here because both ends of fiscal.proto apply it: the office
/// adapter (OfdContactRule) and the server (ResendReceipt's contact).
/// </summary>
public static class ContactText
{
    /// <summary>Tag 1008's length limit (protocols.md §2.1).</summary>
    public const int MaxContactLength = 64;

    /// <summary>Empty, whitespace and the placeholders people type for "nothing" (<c>none</c>, <c>-</c>, <c>нет</c>…).</summary>
    public static bool IsBlank(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return true;
        var t = text.Trim().ToLowerInvariant();
        return t is "-" or "--" or "—" or "none" or "null" or "n/a" or "нет" or "0";
    }

    /// <summary>An e-mail as given (trimmed) when valid, else the phone normalised, else null.</summary>
    public static string? NormaliseEmailOrPhone(string text)
    {
        var trimmed = text.Trim();
        if (trimmed.Contains('@')) return IsValidEmail(trimmed) ? trimmed : null;
        return NormalisePhone(trimmed);
    }

    /// <summary>
    /// A Russian phone to <c>+7XXXXXXXXXX</c>: accepts <c>+7</c>, <c>7</c> or <c>8</c> followed by 10
    /// digits, or 10 digits alone, with spaces, dashes, dots and parentheses between them. Anything
    /// else (letters, other country codes, wrong length) → null.
    /// </summary>
    public static string? NormalisePhone(string text)
    {
        var digits = new System.Text.StringBuilder(12);
        var trimmed = text.Trim();
        for (var i = 0; i < trimmed.Length; i++)
        {
            var c = trimmed[i];
            if (char.IsAsciiDigit(c)) digits.Append(c);
            else if (c == '+' && i == 0) continue;
            else if (c is ' ' or '-' or '(' or ')' or '.' or '\u00A0') continue;
            else return null;
        }
        var d = digits.ToString();
        if (trimmed.StartsWith('+') && !(d.Length == 11 && d[0] == '7')) return null;
        return d.Length switch
        {
            11 when d[0] is '7' or '8' => "+7" + d[1..],
            10 => "+7" + d,
            _ => null,
        };
    }

    /// <summary>Russian mobile numbers are +79XXXXXXXXX (DEF codes 9xx).</summary>
    public static bool IsMobile(string normalisedPhone) => normalisedPhone.Length == 12 && normalisedPhone.StartsWith("+79", StringComparison.Ordinal);

    /// <summary>
    /// A plain check, not RFC 5322 in full: one <c>@</c>; a local part of letters, digits and
    /// <c>.!#$%&amp;'*+/=?^_`{|}~-</c> without leading, trailing or double dots; a domain of at least
    /// two labels of letters, digits and inner hyphens, the last at least two letters (Cyrillic
    /// domains such as <c>почта.рф</c> included); at most <see cref="MaxContactLength"/> characters.
    /// </summary>
    public static bool IsValidEmail(string text)
    {
        if (text.Length is 0 or > MaxContactLength) return false;
        var at = text.IndexOf('@');
        if (at <= 0 || at != text.LastIndexOf('@') || at == text.Length - 1) return false;
        var local = text[..at];
        var domain = text[(at + 1)..];
        if (local.StartsWith('.') || local.EndsWith('.') || local.Contains("..")) return false;
        foreach (var c in local)
            if (!(char.IsAsciiLetterOrDigit(c) || ".!#$%&'*+/=?^_`{|}~-".Contains(c))) return false;
        var labels = domain.Split('.');
        if (labels.Length < 2) return false;
        foreach (var label in labels)
        {
            if (label.Length == 0 || label.StartsWith('-') || label.EndsWith('-')) return false;
            foreach (var c in label)
                if (!(char.IsLetterOrDigit(c) || c == '-')) return false;
        }
        var tld = labels[^1];
        return tld.Length >= 2 && tld.All(char.IsLetter);
    }
}
