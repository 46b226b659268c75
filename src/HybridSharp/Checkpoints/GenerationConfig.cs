using System.Text.Json;

namespace HybridSharp.Checkpoints;

/// <summary>
/// A model's <c>generation_config.json</c> (transformers' format): the sampling defaults its authors chose and the
/// tokens that end generation. Missing fields stay null; <see cref="Read"/> rejects fields of the wrong type.
/// </summary>
public sealed record GenerationConfig
{
    public const string FileName = "generation_config.json";

    /// <summary>False: greedy decoding by default (transformers' <c>do_sample</c>).</summary>
    public bool? DoSample { get; init; }
    public double? Temperature { get; init; }
    public double? TopP { get; init; }
    public int? TopK { get; init; }
    public double? MinP { get; init; }
    public double? RepetitionPenalty { get; init; }
    public int? MaxNewTokens { get; init; }
    /// <summary><c>eos_token_id</c>, one id or several (Llama 3.1 Instruct lists three); generation stops on any of them.</summary>
    public IReadOnlyList<int> EosTokenIds { get; init; } = [];

    /// <summary>The default temperature: 0 (greedy) when <see cref="DoSample"/> is false, else <see cref="Temperature"/>.</summary>
    public double? DefaultTemperature => DoSample == false ? 0 : Temperature;

    /// <summary>The file in <paramref name="directory"/>; an empty config when there is none.</summary>
    /// <exception cref="InvalidDataException">Not JSON, or a field of the wrong type.</exception>
    public static GenerationConfig Read(string directory)
    {
        var path = Path.Combine(directory, FileName);
        if (!File.Exists(path)) return new GenerationConfig();
        JsonDocument doc;
        try { doc = JsonDocument.Parse(File.ReadAllText(path)); }
        catch (JsonException ex) { throw new InvalidDataException($"{path}: not valid JSON ({ex.Message.Split('\n')[0]})"); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{path}: expected a JSON object");
            double? Number(string name) => Field(root, name) is { } v
                ? v.ValueKind == JsonValueKind.Number ? v.GetDouble() : throw new InvalidDataException($"{path}: \"{name}\" must be a number")
                : null;
            int? Integer(string name) => Field(root, name) is { } v
                ? v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) ? i : throw new InvalidDataException($"{path}: \"{name}\" must be an integer")
                : null;
            var eos = new List<int>();
            if (Field(root, "eos_token_id") is { } e)
            {
                var items = e.ValueKind == JsonValueKind.Array ? e.EnumerateArray().ToList() : [e];
                foreach (var item in items)
                    eos.Add(item.ValueKind == JsonValueKind.Number && item.TryGetInt32(out var id) && id >= 0 ? id
                        : throw new InvalidDataException($"{path}: \"eos_token_id\" must be a token id or a list of them"));
            }
            return new GenerationConfig
            {
                DoSample = Field(root, "do_sample") is { } d
                    ? d.ValueKind switch { JsonValueKind.True => true, JsonValueKind.False => false, _ => throw new InvalidDataException($"{path}: \"do_sample\" must be true or false") }
                    : null,
                Temperature = Number("temperature"),
                TopP = Number("top_p"),
                TopK = Integer("top_k"),
                MinP = Number("min_p"),
                RepetitionPenalty = Number("repetition_penalty"),
                MaxNewTokens = Integer("max_new_tokens"),
                EosTokenIds = eos,
            };
        }
    }

    private static JsonElement? Field(JsonElement root, string name) =>
        root.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;
}
