using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using HybridSharp.Config;

namespace HybridSharp.Checkpoints.HfInterop;

/// <summary>
/// Reading and writing Hugging Face <c>config.json</c> values: tolerant getters (ints written as floats, numbers written
/// as strings, Python's bare <c>Infinity</c>/<c>NaN</c>), float literals that stay floats for Python, and the
/// <c>rope_scaling</c> / <c>rope_parameters</c> forms of RoPE settings.
/// </summary>
internal static class HfJson
{
    public static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    private static readonly string[] NonFiniteTokens = ["-Infinity", "Infinity", "NaN"];

    /// <summary>Reads a JSON object file; Python's bare <c>Infinity</c>, <c>-Infinity</c> and <c>NaN</c> are accepted (as strings).</summary>
    public static JsonObject ReadObject(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"file not found: {path}", path);
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(QuoteNonFiniteLiterals(File.ReadAllText(path)),
                documentOptions: new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException ex) { throw new InvalidDataException($"{path}: not valid JSON ({ex.Message.Split('\n')[0]})", ex); }
        return node as JsonObject ?? throw new InvalidDataException($"{path}: expected a JSON object");
    }

    /// <summary>Puts quotes around bare <c>Infinity</c>, <c>-Infinity</c> and <c>NaN</c> tokens outside strings (Python's json.dumps writes them).</summary>
    public static string QuoteNonFiniteLiterals(string json)
    {
        if (!json.Contains("Infinity", StringComparison.Ordinal) && !json.Contains("NaN", StringComparison.Ordinal)) return json;
        var sb = new StringBuilder(json.Length + 16);
        bool inString = false, escaped = false;
        for (int i = 0; i < json.Length; i++)
        {
            char c = json[i];
            if (inString)
            {
                sb.Append(c);
                if (escaped) escaped = false;
                else if (c == '\\') escaped = true;
                else if (c == '"') inString = false;
                continue;
            }
            if (c == '"') { inString = true; sb.Append(c); continue; }
            string? token = null;
            foreach (var t in NonFiniteTokens)
                if (string.CompareOrdinal(json, i, t, 0, t.Length) == 0) { token = t; break; }
            if (token is not null)
            {
                sb.Append('"').Append(token).Append('"');
                i += token.Length - 1;
                continue;
            }
            sb.Append(c);
        }
        return sb.ToString();
    }

    public static bool Has(JsonObject o, string key) => o.TryGetPropertyValue(key, out var v) && v is not null;

    public static string? Str(JsonObject o, string key) =>
        o.TryGetPropertyValue(key, out var v) && v is JsonValue jv && jv.TryGetValue<string>(out var s) ? s : null;

    public static double? Double(JsonObject o, string key)
    {
        if (!o.TryGetPropertyValue(key, out var v) || v is null) return null;
        return ToDouble(v, key);
    }

    public static double ToDouble(JsonNode v, string key)
    {
        if (v is JsonValue jv)
        {
            if (jv.GetValueKind() == JsonValueKind.Number
                && double.TryParse(jv.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d)) return d;
            if (jv.TryGetValue<string>(out var s))
            {
                switch (s)
                {
                    case "Infinity" or "inf": return double.PositiveInfinity;
                    case "-Infinity" or "-inf": return double.NegativeInfinity;
                    case "NaN" or "nan": return double.NaN;
                }
                if (double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out d)) return d;
            }
        }
        throw new InvalidDataException($"config.json: '{key}' should be a number, got {v.ToJsonString()}");
    }

    public static int? Int(JsonObject o, string key)
    {
        var d = Double(o, key);
        if (d is null) return null;
        if (d != Math.Floor(d.Value) || d < int.MinValue || d > int.MaxValue)
            throw new InvalidDataException($"config.json: '{key}' should be an integer, got {d}");
        return (int)d.Value;
    }

    public static bool? Bool(JsonObject o, string key)
    {
        if (!o.TryGetPropertyValue(key, out var v) || v is null) return null;
        if (v is JsonValue jv)
        {
            if (jv.TryGetValue<bool>(out var b)) return b;
            if (jv.TryGetValue<string>(out var s) && bool.TryParse(s, out b)) return b;
        }
        throw new InvalidDataException($"config.json: '{key}' should be true or false, got {v.ToJsonString()}");
    }

    /// <summary>An int or a list of ints (HF's <c>eos_token_id</c>).</summary>
    public static List<int>? IntOrList(JsonObject o, string key)
    {
        if (!o.TryGetPropertyValue(key, out var v) || v is null) return null;
        if (v is JsonArray arr)
        {
            var list = new List<int>();
            foreach (var item in arr)
            {
                if (item is null) continue;
                double d = ToDouble(item, key);
                list.Add((int)d);
            }
            return list.Count == 0 ? null : list;
        }
        return [Int(o, key)!.Value];
    }

    /// <summary>A number node that Python reads back as a float (always with a '.' or an exponent).</summary>
    public static JsonNode Float(double value)
    {
        if (!double.IsFinite(value)) throw new ArgumentException($"cannot write the non-finite value {value} as JSON");
        var s = value.ToString("R", CultureInfo.InvariantCulture);
        if (!s.Contains('.') && !s.Contains('E') && !s.Contains('e')) s += ".0";
        return JsonNode.Parse(s)!;
    }

    /// <summary>
    /// RoPE settings of a config: <c>rope_theta</c> + <c>rope_scaling</c> (transformers 4.x; the scaling object may say
    /// <c>type</c> or <c>rope_type</c>) or <c>rope_parameters</c> (transformers 5). Only "default" and "dynamic" are supported.
    /// </summary>
    public static (double Theta, RopeScaling? Scaling) Rope(JsonObject o, double defaultTheta = ModelConfig.DefaultRopeTheta)
    {
        double theta = Double(o, "rope_theta") ?? defaultTheta;
        JsonObject? scaling = o["rope_scaling"] as JsonObject;
        if (o["rope_parameters"] is JsonObject rp)
        {
            theta = Double(rp, "rope_theta") ?? theta;
            scaling ??= rp;
        }
        if (scaling is null) return (theta, null);
        var type = Str(scaling, "rope_type") ?? Str(scaling, "type") ?? "default";
        switch (type)
        {
            case "default":
                return (theta, null);
            case "dynamic":
                return (theta, new RopeScaling
                {
                    RopeType = "dynamic",
                    Factor = Double(scaling, "factor") ?? 1.0,
                    OriginalMaxPositionEmbeddings = Int(scaling, "original_max_position_embeddings"),
                });
            default:
                throw new ArgumentException($"config.json: RoPE scaling type '{type}' is not supported by HybridSharp (supported: default, dynamic NTK)");
        }
    }

    /// <summary>Writes <c>rope_theta</c> and <c>rope_scaling</c> in the transformers 4.x form (read by 5.x as well).</summary>
    public static void WriteRope(JsonObject o, ModelConfig cfg)
    {
        o["rope_theta"] = Float(cfg.RopeTheta);
        if (cfg.RopeScaling is { } s)
        {
            var rs = new JsonObject { ["rope_type"] = s.RopeType, ["factor"] = Float(s.Factor) };
            if (s.OriginalMaxPositionEmbeddings is { } m) rs["original_max_position_embeddings"] = m;
            o["rope_scaling"] = rs;
        }
        else o["rope_scaling"] = null;
    }

    public static void WriteTokenIds(JsonObject o, ModelConfig cfg)
    {
        o["bos_token_id"] = cfg.BosTokenId;
        o["eos_token_id"] = cfg.EosTokenId switch
        {
            null or { Count: 0 } => null,
            { Count: 1 } e => e[0],
            var e => new JsonArray(e.Select(x => (JsonNode?)x).ToArray()),
        };
        o["pad_token_id"] = cfg.PadTokenId;
    }
}
