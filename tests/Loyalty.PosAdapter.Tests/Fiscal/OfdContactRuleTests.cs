using Loyalty.Protos;
using Loyalty.PosAdapter.Fiscal;

namespace Loyalty.PosAdapter.Tests.Fiscal;

public class OfdContactRuleTests
{
    /// <summary>
    /// The seed's rule (vodyanoy-office-kkm.txt) and field case C1 as one table: OFD field of the
    /// delivery address, customer e-mail, address phones → tag 1008 and where it came from.
    /// </summary>
    public static TheoryData<string, string?, string?, string[], string?, ContactSource> Rule => new()
    {
        { "the address's OFD field wins over everything", "anna@example.ru", "ivan@example.com", ["+79991112233"], "anna@example.ru", ContactSource.AddressOfdField },
        { "an OFD field holding a phone is normalised", "8 (912) 345-67-89", "ivan@example.com", [], "+79123456789", ContactSource.AddressOfdField },
        { "empty OFD field: the general e-mail", "", "ivan.petrov@example.com", ["+79991112233"], "ivan.petrov@example.com", ContactSource.CustomerEmail },
        { "invalid OFD field: the general e-mail", "anna@", "ivan.petrov@example.com", [], "ivan.petrov@example.com", ContactSource.CustomerEmail },
        { "no e-mail: the first mobile of the address", null, null, ["+7 (912) 345-67-89", "+79990000000"], "+79123456789", ContactSource.AddressMobilePhone },
        { "a landline first is skipped for the first mobile", null, null, ["+7 (495) 123-45-67", "89123456789"], "+79123456789", ContactSource.AddressMobilePhone },
        { "an invalid e-mail falls through to the phone", null, "ivan.petrov@example", ["89123456789"], "+79123456789", ContactSource.AddressMobilePhone },
        { "placeholder 'none' is never sent", "none", "-", [""], null, ContactSource.None },
        { "nothing filled in: no copy", null, null, [], null, ContactSource.None },
        { "only invalid values: no copy", "12345", "ivan.petrov@example", ["+1 212 555 0100"], null, ContactSource.None },
        { "only a landline: no copy", null, null, ["+7 (495) 123-45-67"], null, ContactSource.None },
    };

    [Theory]
    [MemberData(nameof(Rule))]
    public void The_OFD_copy_goes_to_the_contact_the_seeds_rule_picks(string why, string? ofdField, string? email, string[] phones, string? expected, ContactSource expectedSource)
    {
        var choice = OfdContactRule.Choose(new FiscalCustomer(Email: email, Delivery: new DeliveryAddress(ofdField, phones)));
        Assert.True(expected == choice.Value, $"{why}: expected '{expected}', got '{choice.Value}' ({choice.Reason})");
        Assert.Equal(expectedSource, choice.Source);
        Assert.False(string.IsNullOrEmpty(choice.Reason));
    }

    [Fact]
    public void C1_an_email_without_a_domain_is_rejected_and_the_reason_says_so()
    {
        var choice = OfdContactRule.Choose(new FiscalCustomer(Email: "ivan.petrov@example"));
        Assert.Null(choice.Value);
        Assert.Contains("Contact rejected", choice.Reason);
        Assert.Contains("ivan.petrov@example", choice.Reason);
    }

    [Fact]
    public void C1_with_an_email_and_a_phone_one_value_is_sent_the_email_by_default_the_phone_when_configured()
    {
        var customer = new FiscalCustomer(Email: "ivan.petrov@example.com", Delivery: new DeliveryAddress(null, ["+79123456789"]));
        Assert.Equal("ivan.petrov@example.com", OfdContactRule.Choose(customer).Value);
        Assert.Equal("+79123456789", OfdContactRule.Choose(customer, ContactPreference.Phone).Value);
    }

    [Fact]
    public void No_customer_means_no_copy_with_a_reason()
    {
        var choice = OfdContactRule.Choose(null);
        Assert.Null(choice.Value);
        Assert.Contains("No customer", choice.Reason);
    }

    [Theory]
    [InlineData("+7 (912) 345-67-89", "+79123456789")]
    [InlineData("89123456789", "+79123456789")]
    [InlineData("79123456789", "+79123456789")]
    [InlineData("9123456789", "+79123456789")]
    [InlineData("8-912-345-67-89", "+79123456789")]
    [InlineData("+7 912 345 67 89", "+79123456789")]
    [InlineData(" +79123456789 ", "+79123456789")]
    [InlineData("+8 912 345 67 89", null)]
    [InlineData("+1 212 555 0100", null)]
    [InlineData("8123456789", "+78123456789")] // ten digits: a St Petersburg landline, valid but not a mobile
    [InlineData("891234567", null)]
    [InlineData("891234567890", null)]
    [InlineData("+7 912 345 67 8x", null)]
    [InlineData("none", null)]
    [InlineData("", null)]
    [InlineData("9123456789+", null)]
    public void Phones_are_normalised_to_plus7_and_ten_digits_or_refused(string input, string? expected)
    {
        Assert.Equal(expected, ContactText.NormalisePhone(input));
    }

    [Theory]
    [InlineData("ivan.petrov@example.com", true)]
    [InlineData("a+tag@mail.example.ru", true)]
    [InlineData("ivan@почта.рф", true)]
    [InlineData("ivan.petrov@example", false)]
    [InlineData("ivan@@example.com", false)]
    [InlineData("@example.com", false)]
    [InlineData("ivan@", false)]
    [InlineData(".ivan@example.com", false)]
    [InlineData("iv..an@example.com", false)]
    [InlineData("ivan petrov@example.com", false)]
    [InlineData("ivan@-example.com", false)]
    [InlineData("ivan@example.c0m", false)]
    [InlineData("none", false)]
    public void Emails_are_checked_before_they_go_into_tag_1008(string email, bool valid)
    {
        Assert.Equal(valid, ContactText.IsValidEmail(email));
    }

    [Fact]
    public void An_email_longer_than_tag_1008s_64_characters_is_refused()
    {
        Assert.False(ContactText.IsValidEmail(new string('a', 55) + "@example.com"));
    }
}

public class InnTests
{
    [Theory]
    [InlineData("7707083893", true)]      // 10 digits, organisation
    [InlineData("7830002293", true)]
    [InlineData("500100732259", true)]    // 12 digits, person: both control digits right
    [InlineData("773173084809", true)]
    [InlineData("7707083894", false)]     // last control digit wrong
    [InlineData("500100732250", false)]   // 12th digit wrong
    [InlineData("500100732269", false)]   // 11th digit wrong
    [InlineData("770708389", false)]      // 9 digits
    [InlineData("77070838930", false)]    // 11 digits
    [InlineData("77070838 3", false)]
    [InlineData("7707O83893", false)]     // letter O
    [InlineData("", false)]
    [InlineData(null, false)]
    public void An_INN_is_valid_only_with_10_or_12_digits_and_right_control_digits(string? inn, bool valid)
    {
        Assert.Equal(valid, Inn.IsValid(inn));
    }
}
