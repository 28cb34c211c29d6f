#nullable enable

namespace Loyalty.Protos;

/// <summary>
/// The Russian taxpayer number (ИНН) check: 10 digits (organisation) with one control digit, 12
/// digits (person, sole proprietor) with two. The weights are those of the FNS algorithm (order
/// of the Ministry of Taxes № БГ-3-09/178, appendix): control digit = (Σ digit × weight mod 11) mod 10.
/// Here because fiscal.proto states it for <c>FiscalCustomerInfo.inn</c>: the server refuses a failing
/// INN at submit, and the office adapter leaves one out of tag 1228.
/// </summary>
public static class Inn
{
    private static readonly int[] Weights10 = [2, 4, 10, 3, 5, 9, 4, 6, 8];
    private static readonly int[] Weights11 = [7, 2, 4, 10, 3, 5, 9, 4, 6, 8];
    private static readonly int[] Weights12 = [3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8];

    /// <summary>True for a 10- or 12-digit INN whose control digits are right; false for anything else (spaces, letters, other lengths).</summary>
    public static bool IsValid(string? inn)
    {
        if (inn is null || (inn.Length != 10 && inn.Length != 12) || !inn.All(char.IsAsciiDigit)) return false;
        if (inn.Length == 10) return Control(inn, Weights10) == inn[9] - '0';
        return Control(inn, Weights11) == inn[10] - '0' && Control(inn, Weights12) == inn[11] - '0';
    }

    private static int Control(string digits, int[] weights)
    {
        var sum = 0;
        for (var i = 0; i < weights.Length; i++) sum += (digits[i] - '0') * weights[i];
        return sum % 11 % 10;
    }
}
