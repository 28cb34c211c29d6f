using static Loyalty.Protos.ContactText;
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
}
