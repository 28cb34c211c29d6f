using System.Text.Json;
using System.Text.Json.Serialization;

namespace Loyalty.Grains.Storage;

/// <summary>The one JSON shape for state, receipts and stored results: camelCase, enums as names.</summary>
public static class Json
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter() },
        // Replies of two-card commands are value tuples, whose items are fields.
        IncludeFields = true,
    };

    public static string Serialize<T>(T value) => JsonSerializer.Serialize(value, Options);
    public static T Deserialize<T>(string json) => JsonSerializer.Deserialize<T>(json, Options)
        ?? throw new InvalidDataException($"Stored JSON for {typeof(T).Name} is null.");
}
