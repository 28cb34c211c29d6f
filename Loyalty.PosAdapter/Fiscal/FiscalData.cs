using System.Globalization;
using System.Text.Json.Nodes;

namespace Loyalty.PosAdapter.Fiscal;

/// <summary>
/// What the register gives back for a closed fiscal document, kept with the receipt in the journal:
/// ATOL <c>result.fiscalParams</c> (protocols.md §1.2 and §1.4).
/// </summary>
/// <param name="FiscalDocumentNumber">FD number, tag 1040.</param>
/// <param name="FiscalSign">ФП/ФПД, tag 1077: a string of up to 10 decimal digits.</param>
/// <param name="FnNumber">FN serial, tag 1041, 16 digits (kept as text: leading zeros matter).</param>
/// <param name="ShiftNumber">Shift, tag 1038.</param>
/// <param name="ReceiptNumber">Receipt number within the shift, tag 1042 (0 for shift documents).</param>
/// <param name="DocumentDateTime">The register's own local date-time with its offset, tag 1012. The QR code uses its wall-clock part (field cases C2).</param>
/// <param name="TotalKopecks">Receipt total, tag 1020 (0 for shift documents).</param>
/// <param name="RegistrationNumber">РН ККТ, tag 1037.</param>
/// <param name="FnsUrl">Tag 1060.</param>
public sealed record FiscalData(
    long FiscalDocumentNumber,
    string FiscalSign,
    string FnNumber,
    int ShiftNumber,
    int ReceiptNumber,
    DateTimeOffset DocumentDateTime,
    long TotalKopecks,
    string RegistrationNumber,
    string FnsUrl)
{
    /// <summary>
    /// Reads <c>fiscalParams</c> (a <c>sell</c>/<c>openShift</c>/<c>closeShift</c>/<c>getLastFiscalParams</c>
    /// result). Throws <see cref="FormatException"/> when a required field (FD number, sign, FN, date-time) is missing.
    /// </summary>
    public static FiscalData FromFiscalParams(JsonObject fiscalParams)
    {
        string Text(string name) => fiscalParams[name] is JsonValue v
            ? (v.TryGetValue<string>(out var s) ? s : v.ToJsonString())
            : throw new FormatException($"fiscalParams has no '{name}'.");
        var dateText = Text("fiscalDocumentDateTime");
        if (!DateTimeOffset.TryParse(dateText, CultureInfo.InvariantCulture, DateTimeStyles.None, out var date))
            throw new FormatException($"fiscalParams.fiscalDocumentDateTime '{dateText}' is not an ISO 8601 date-time with offset.");
        return new FiscalData(
            FiscalDocumentNumber: fiscalParams["fiscalDocumentNumber"]?.GetValue<long>() ?? throw new FormatException("fiscalParams has no 'fiscalDocumentNumber'."),
            FiscalSign: Text("fiscalDocumentSign"),
            FnNumber: Text("fnNumber"),
            ShiftNumber: fiscalParams["shiftNumber"]?.GetValue<int>() ?? 0,
            ReceiptNumber: fiscalParams["fiscalReceiptNumber"]?.GetValue<int>() ?? 0,
            DocumentDateTime: date,
            TotalKopecks: fiscalParams["total"] is null ? 0 : FiscalAmount.FromRoubles(fiscalParams["total"]),
            RegistrationNumber: fiscalParams["registrationNumber"]?.GetValue<string>() ?? "",
            FnsUrl: fiscalParams["fnsUrl"]?.GetValue<string>() ?? "");
    }
}
