using Loyalty.Grains.Domain;

namespace Loyalty.Grains.Runtime;

/// <summary>
/// One register shift's reconciliation (design.md: ShiftGrain, key store/register/shift, see
/// <see cref="KeyOf"/>). One activation in the cluster takes the shift's uploads one at a time, so two
/// uploads of the same report (a retry racing the first attempt, two adapters) never interleave;
/// the reconciliation itself (<see cref="ShiftReconciler"/>, rules in <see cref="ShiftReconciliation"/>)
/// is idempotent step by step and its result is stored in PostgreSQL (the accountant's pages read it),
/// so the grain keeps nothing in memory that a crash could lose.
/// </summary>
public interface IShiftGrain : IGrainWithStringKey
{
    /// <summary>Reconciles the shift's closed report (see <see cref="ShiftReconciler.UploadAsync"/>); the same report again answers the same.</summary>
    Task<ShiftResult> UploadAsync(ShiftReportData report, CancellationToken cancellationToken = default);

    /// <summary>The stored reconciliation, or null when no report of the shift was reconciled.</summary>
    Task<ShiftResult?> GetAsync(CancellationToken cancellationToken = default);

    /// <summary>The grain key of a shift: its three parts joined by U+001F (unit separator), a control character no identifier may contain.</summary>
    static string KeyOf(ShiftKey shift) => $"{shift.StoreId}\u001f{shift.RegisterId}\u001f{shift.ShiftNumber}";
}

public sealed class ShiftGrain(CardGrainServices services) : Grain, IShiftGrain
{
    private ShiftReconciler Reconciler => new(new CardDirectory(GrainFactory, services.Store, services.Programs, services.Time), services.Time);

    public Task<ShiftResult> UploadAsync(ShiftReportData report, CancellationToken cancellationToken)
    {
        if (IShiftGrain.KeyOf(report.Shift) != this.GetPrimaryKeyString())
            throw Validate.Invalid($"The report is for shift {report.Shift}, not for {this.GetPrimaryKeyString()}.");
        return Reconciler.UploadAsync(report, cancellationToken);
    }

    public Task<ShiftResult?> GetAsync(CancellationToken cancellationToken)
    {
        var parts = this.GetPrimaryKeyString().Split('\u001f');
        return Reconciler.GetAsync(new ShiftKey(parts[0], parts[1], long.Parse(parts[2], System.Globalization.CultureInfo.InvariantCulture)), cancellationToken);
    }
}
