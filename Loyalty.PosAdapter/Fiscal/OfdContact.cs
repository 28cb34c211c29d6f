namespace Loyalty.PosAdapter.Fiscal;

/// <summary>A delivery address's contacts as the CRM keeps them (seed vodyanoy-office-kkm.txt, tab «грузопол.»).</summary>
/// <param name="OfdContact">«Эл.почта или телефон для отправки чека ОФД»: an e-mail or a phone, as typed.</param>
/// <param name="Phones">The address's phones in the CRM's order, as typed; landlines may be among them.</param>
public sealed record DeliveryAddress(string? OfdContact, IReadOnlyList<string> Phones);

/// <summary>The buyer as the CRM knows them; every field optional and unvalidated.</summary>
/// <param name="Name">Buyer name, tag 1227.</param>
/// <param name="Inn">Buyer INN, tag 1228 (10 digits for a company, 12 for a person).</param>
/// <param name="Email">The customer's general e-mail.</param>
public sealed record FiscalCustomer(string? Name = null, string? Inn = null, string? Email = null, DeliveryAddress? Delivery = null);

/// <summary>Which contact the rule prefers when the OFD field is empty: e-mail first by default, since some OFD tariffs deliver only to e-mail (field cases C1).</summary>
public enum ContactPreference { Email, Phone }

/// <summary>Where tag 1008 came from.</summary>
public enum ContactSource { None, AddressOfdField, CustomerEmail, AddressMobilePhone }

/// <summary>
/// The outcome of the contact rule: <see cref="Value"/> goes into tag 1008 (ATOL
/// <c>clientInfo.emailOrPhone</c>), or is null and <see cref="Reason"/> says why no copy is sent.
/// <see cref="Rejected"/> lists values that were present but invalid, for the receipt record.
/// </summary>
public sealed record ContactChoice(string? Value, ContactSource Source, string Reason, IReadOnlyList<string> Rejected);

/// <summary>
/// The rule for the OFD copy's address (tag 1008), from the seed vodyanoy-office-kkm.txt: the
/// delivery address's «e-mail or phone for OFD receipts» if filled and valid; else the customer's
/// general e-mail; else the first mobile phone of the delivery address; none valid → no copy.
/// Phones become <c>+7XXXXXXXXXX</c>, e-mails are checked (protocols.md §2.1: tag 1008 is at most
/// 64 characters, a phone written <c>+7…</c> without spaces). Placeholders such as <c>none</c> or
/// <c>-</c> are never sent: a register refuses them with error 51 (field cases C1).
/// </summary>
public static class OfdContactRule
{
    /// <summary>Tag 1008's length limit (protocols.md §2.1).</summary>
    public const int MaxContactLength = 64;

    /// <summary>Applies the rule. With <see cref="ContactPreference.Phone"/> the mobile phone is tried before the general e-mail.</summary>
    public static ContactChoice Choose(FiscalCustomer? customer, ContactPreference preference = ContactPreference.Email)
    {
        var rejected = new List<string>();
        if (customer is null) return new ContactChoice(null, ContactSource.None, "No customer is given, so no copy is sent.", rejected);

        var ofdField = customer.Delivery?.OfdContact;
        if (!IsBlank(ofdField))
        {
            var normalised = NormaliseEmailOrPhone(ofdField!);
            if (normalised is not null)
                return new ContactChoice(normalised, ContactSource.AddressOfdField, "The delivery address's OFD contact field.", rejected);
            rejected.Add($"delivery address OFD contact '{ofdField}'");
        }

        ContactChoice? FromEmail()
        {
            if (IsBlank(customer.Email)) return null;
            if (IsValidEmail(customer.Email!.Trim()))
                return new ContactChoice(customer.Email.Trim(), ContactSource.CustomerEmail, "The customer's general e-mail (the address's OFD field is empty or invalid).", rejected);
            rejected.Add($"customer e-mail '{customer.Email}'");
            return null;
        }
        ContactChoice? FromPhone()
        {
            foreach (var phone in customer.Delivery?.Phones ?? [])
            {
                if (IsBlank(phone)) continue;
                var normalised = NormalisePhone(phone);
                if (normalised is not null && IsMobile(normalised))
                    return new ContactChoice(normalised, ContactSource.AddressMobilePhone, "The first mobile phone of the delivery address.", rejected);
                rejected.Add(normalised is null ? $"phone '{phone}'" : $"phone '{phone}' (not a mobile)");
            }
            return null;
        }

        var choice = preference == ContactPreference.Email ? FromEmail() ?? FromPhone() : FromPhone() ?? FromEmail();
        if (choice is not null) return choice;
        var reason = rejected.Count == 0
            ? "No e-mail or phone is filled in, so no copy is sent."
            : $"Contact rejected: {string.Join("; ", rejected)} is not a valid e-mail or mobile phone, so no copy is sent.";
        return new ContactChoice(null, ContactSource.None, reason, rejected);
    }

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
