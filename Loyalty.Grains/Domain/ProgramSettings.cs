namespace Loyalty.Grains.Domain;

/// <summary>
/// The terms of a bonus programme. Every card belongs to one programme. Rates are in basis points
/// (1 bp = 0.01 %), amounts in kopecks, periods in whole seconds or days.
/// </summary>
[Orleans.Immutable]
public sealed record ProgramSettings
{
    public required string ProgramId { get; init; }

    /// <summary>Accrual rate on the part of a line paid with money, unless the line's category has its own rate.</summary>
    public int AccrualBasisPoints { get; init; }

    /// <summary>Per-category accrual rates that replace <see cref="AccrualBasisPoints"/>.</summary>
    public IReadOnlyDictionary<string, int> CategoryRates { get; init; } = new Dictionary<string, int>();

    /// <summary>Categories that neither earn bonuses nor may be paid with them (tobacco, alcohol, gift cards).</summary>
    public IReadOnlyCollection<string> ExcludedCategories { get; init; } = new HashSet<string>();

    /// <summary>At most this percent of the receipt total may be paid with bonuses.</summary>
    public int MaxRedeemPercent { get; init; } = 100;

    /// <summary>Every line keeps at least this much to be paid with money (a fiscal line cannot drop to zero unless it is 0).</summary>
    public long MinLineAmountKopecks { get; init; }

    /// <summary>A hold not committed or cancelled within this time releases itself.</summary>
    public int HoldTimeoutSeconds { get; init; } = 900;

    /// <summary>Accrued bonuses become spendable after this many days (the return window); 0 = at once.</summary>
    public int AccrualDelayDays { get; init; }

    /// <summary>Bonuses burn this many days after they became spendable; 0 = never.</summary>
    public int ExpiryDays { get; init; }

    /// <summary>
    /// The most a register working offline may let one card spend, whatever its balance: the cap on
    /// the offline spendable amount written into catalog files; 0 = no cap (the available balance).
    /// An offline register cannot see spending elsewhere, so this bounds the debt one card can run up.
    /// </summary>
    public long OfflineLimitPerCardKopecks { get; init; }

    public static ProgramSettings Default(string programId = "default") => new()
    {
        ProgramId = programId,
        AccrualBasisPoints = 500,
        MaxRedeemPercent = 30,
        MinLineAmountKopecks = 100,
        HoldTimeoutSeconds = 900,
        AccrualDelayDays = 0,
        ExpiryDays = 0,
    };

    /// <summary>Refuses settings that make no sense, naming the setting.</summary>
    public void Validate()
    {
        Domain.Validate.Identifier(ProgramId, "programme id");
        CheckRate(AccrualBasisPoints, "accrual_bp");
        foreach (var (category, rate) in CategoryRates)
        {
            Domain.Validate.Identifier(category, "category of a category rate");
            CheckRate(rate, $"rate of category {category}");
        }
        foreach (var category in ExcludedCategories)
            Domain.Validate.Identifier(category, "excluded category");
        if (MaxRedeemPercent is < 0 or > 100)
            throw Domain.Validate.Invalid($"max_redeem_percent must be between 0 and 100; {MaxRedeemPercent} was given.");
        if (MinLineAmountKopecks < 0 || MinLineAmountKopecks > Limits.MaxAmountKopecks)
            throw Domain.Validate.Invalid($"min_line_amount must be between 0 and {Limits.MaxAmountKopecks} kopecks; {MinLineAmountKopecks} was given.");
        if (OfflineLimitPerCardKopecks < 0 || OfflineLimitPerCardKopecks > Limits.MaxAmountKopecks)
            throw Domain.Validate.Invalid($"offline_limit_per_card must be between 0 (no cap) and {Limits.MaxAmountKopecks} kopecks; {OfflineLimitPerCardKopecks} was given.");
        if (HoldTimeoutSeconds is < 1 or > 7 * 24 * 3600)
            throw Domain.Validate.Invalid($"hold_timeout_seconds must be between 1 and {7 * 24 * 3600}; {HoldTimeoutSeconds} was given.");
        if (AccrualDelayDays is < 0 or > 3650)
            throw Domain.Validate.Invalid($"accrual_delay_days must be between 0 and 3650; {AccrualDelayDays} was given.");
        if (ExpiryDays is < 0 or > 36500)
            throw Domain.Validate.Invalid($"expiry_days must be between 0 (never) and 36500; {ExpiryDays} was given.");
    }

    private static void CheckRate(int basisPoints, string name)
    {
        if (basisPoints is < 0 or > 10_000)
            throw Domain.Validate.Invalid($"{name} must be between 0 and 10000 basis points; {basisPoints} was given.");
    }
}
