using System.Collections;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace HybridSharp.Jinja;

/// <summary>Jinja's default <c>Undefined</c>: prints as nothing, is false, iterates as empty; most other uses are errors.</summary>
public sealed class Undefined(string hint)
{
    /// <summary>What was undefined, for error messages ("'foo' is undefined").</summary>
    public string Hint { get; } = hint;

    public override string ToString() => "";
}

/// <summary>The object <c>namespace()</c> returns: attributes that <c>{% set ns.x = … %}</c> may change from inner scopes.</summary>
internal sealed class Namespace
{
    public OrderedDictionary<string, object?> Attributes { get; } = new(StringComparer.Ordinal);
}

/// <summary>Something a template can call: a macro, <c>caller</c>, a global function or a bound method.</summary>
internal interface ICallable
{
    object? Call(Renderer renderer, List<object?> args, List<(string Name, object? Value)> kwargs, int line);
}

internal sealed class NativeFunction(string name, Func<Renderer, List<object?>, List<(string Name, object? Value)>, int, object?> body) : ICallable
{
    public string Name { get; } = name;

    public object? Call(Renderer renderer, List<object?> args, List<(string Name, object? Value)> kwargs, int line) => body(renderer, args, kwargs, line);
}

/// <summary>The <c>loop</c> variable of a for loop.</summary>
internal sealed class LoopInfo(List<object?> items)
{
    public int Index0 { get; set; }

    public object? Get(string name) => name switch
    {
        "index" => (long)Index0 + 1,
        "index0" => (long)Index0,
        "revindex" => (long)(items.Count - Index0),
        "revindex0" => (long)(items.Count - Index0 - 1),
        "first" => Index0 == 0,
        "last" => Index0 == items.Count - 1,
        "length" => (long)items.Count,
        "depth" => 1L,
        "depth0" => 0L,
        "previtem" => Index0 > 0 ? items[Index0 - 1] : new Undefined("loop.previtem"),
        "nextitem" => Index0 + 1 < items.Count ? items[Index0 + 1] : new Undefined("loop.nextitem"),
        "cycle" => new NativeFunction("loop.cycle", (_, args, _, _) => args.Count == 0 ? null : args[Index0 % args.Count]),
        _ => new Undefined($"loop.{name}"),
    };
}

/// <summary>Python-like value semantics for template values (null = None, long, double, bool, string, lists, ordered dicts).</summary>
internal static class Values
{
    /// <summary>Converts JSON into template values (objects keep their key order).</summary>
    public static object? FromJson(JsonNode? node) => node switch
    {
        null => null,
        JsonObject o => ToDict(o),
        JsonArray a => a.Select(FromJson).ToList(),
        JsonValue v => FromJsonValue(v),
        _ => null,
    };

    private static OrderedDictionary<string, object?> ToDict(JsonObject o)
    {
        var d = new OrderedDictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (k, v) in o) d[k] = FromJson(v);
        return d;
    }

    private static object? FromJsonValue(JsonValue v) => v.GetValueKind() switch
    {
        JsonValueKind.String => v.GetValue<string>(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.Null => null,
        JsonValueKind.Number => Number(v),
        _ => null,
    };

    private static object Number(JsonValue v)
    {
        if (v.TryGetValue<long>(out var l)) return l;
        if (v.TryGetValue<int>(out var i)) return (long)i;
        if (v.TryGetValue<JsonElement>(out var el)) return el.TryGetInt64(out var e64) ? e64 : el.GetDouble();
        var text = v.ToJsonString();
        return long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var p) ? p : double.Parse(text, CultureInfo.InvariantCulture);
    }

    /// <summary>Converts a plain .NET value (JsonNode, string, number, bool, IDictionary, IEnumerable) into a template value.</summary>
    public static object? From(object? value) => value switch
    {
        null => null,
        JsonNode n => FromJson(n),
        string or bool or long or double or Undefined or Namespace or ICallable or OrderedDictionary<string, object?> => value,
        int i => (long)i,
        float f => (double)f,
        decimal m => (double)m,
        IDictionary<string, object?> d when d is not OrderedDictionary<string, object?> => d.Aggregate(new OrderedDictionary<string, object?>(StringComparer.Ordinal), (acc, kv) => { acc[kv.Key] = From(kv.Value); return acc; }),
        IEnumerable e => e.Cast<object?>().Select(From).ToList(),
        _ => value.ToString(),
    };

    public static bool Truthy(object? v) => v switch
    {
        null => false,
        Undefined => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        ICollection c => c.Count > 0,
        _ => true,
    };

    public static bool IsNumber(object? v) => v is long or double or bool;

    public static double ToDouble(object? v) => v switch
    {
        long l => l,
        double d => d,
        bool b => b ? 1 : 0,
        _ => throw new InvalidOperationException($"{TypeName(v)} is not a number"),
    };

    public static string TypeName(object? v) => v switch
    {
        null => "NoneType",
        Undefined => "Undefined",
        bool => "bool",
        long => "int",
        double => "float",
        string => "str",
        List<object?> => "list",
        OrderedDictionary<string, object?> => "dict",
        Namespace => "Namespace",
        ICallable => "function",
        _ => v.GetType().Name,
    };

    /// <summary>Python's <c>str()</c>.</summary>
    public static string Str(object? v) => v switch
    {
        null => "None",
        Undefined => "",
        string s => s,
        bool b => b ? "True" : "False",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => FormatFloat(d),
        _ => Repr(v),
    };

    /// <summary>Python's <c>repr()</c> (lists and dicts print their items with it).</summary>
    public static string Repr(object? v) => v switch
    {
        string s => ReprString(s),
        List<object?> list => "[" + string.Join(", ", list.Select(Repr)) + "]",
        OrderedDictionary<string, object?> d => "{" + string.Join(", ", d.Select(kv => ReprString(kv.Key) + ": " + Repr(kv.Value))) + "}",
        Namespace => "<Namespace>",
        ICallable => "<function>",
        _ => Str(v),
    };

    private static string ReprString(string s)
    {
        char quote = s.Contains('\'') && !s.Contains('"') ? '"' : '\'';
        var sb = new StringBuilder().Append(quote);
        foreach (var c in s)
        {
            switch (c)
            {
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (c == quote) sb.Append('\\').Append(c);
                    else if (c < 0x20 || c == 0x7f) sb.Append($"\\x{(int)c:x2}");
                    else sb.Append(c);
                    break;
            }
        }
        return sb.Append(quote).ToString();
    }

    public static string FormatFloat(double d)
    {
        if (double.IsNaN(d)) return "nan";
        if (double.IsPositiveInfinity(d)) return "inf";
        if (double.IsNegativeInfinity(d)) return "-inf";
        if (d == Math.Floor(d) && Math.Abs(d) < 1e16) return d.ToString("0.0", CultureInfo.InvariantCulture);
        var r = d.ToString("R", CultureInfo.InvariantCulture);
        int e = r.IndexOf('E');
        if (e < 0) return r;
        var mantissa = r[..e];
        var exp = int.Parse(r[(e + 1)..], CultureInfo.InvariantCulture);
        if (exp >= -4 && exp < 16) return d.ToString("0.##################", CultureInfo.InvariantCulture);
        return $"{mantissa}e{(exp < 0 ? "-" : "+")}{Math.Abs(exp):00}";
    }

    public static new bool Equals(object? a, object? b)
    {
        if (a is Undefined || b is Undefined) return a is Undefined && b is Undefined;
        if (a is null || b is null) return a is null && b is null;
        if (IsNumber(a) && IsNumber(b)) return ToDouble(a) == ToDouble(b);
        if (a is string sa && b is string sb) return sa == sb;
        if (a is List<object?> la && b is List<object?> lb) return la.Count == lb.Count && la.Zip(lb).All(p => Equals(p.First, p.Second));
        if (a is OrderedDictionary<string, object?> da && b is OrderedDictionary<string, object?> db)
            return da.Count == db.Count && da.All(kv => db.TryGetValue(kv.Key, out var other) && Equals(kv.Value, other));
        return ReferenceEquals(a, b);
    }

    public static int Compare(object? a, object? b)
    {
        if (IsNumber(a) && IsNumber(b)) return ToDouble(a).CompareTo(ToDouble(b));
        if (a is string sa && b is string sb) return string.CompareOrdinal(sa, sb);
        if (a is List<object?> la && b is List<object?> lb)
        {
            for (int i = 0; i < Math.Min(la.Count, lb.Count); i++)
            {
                int c = Compare(la[i], lb[i]);
                if (c != 0) return c;
            }
            return la.Count.CompareTo(lb.Count);
        }
        throw new InvalidOperationException($"'<' not supported between instances of '{TypeName(a)}' and '{TypeName(b)}'");
    }

    /// <summary>The items a for loop or filter iterates: list items, dict keys, string characters; Undefined and None are errors except Undefined (empty).</summary>
    public static List<object?> Iterate(object? v) => v switch
    {
        List<object?> l => l,
        OrderedDictionary<string, object?> d => d.Keys.Cast<object?>().ToList(),
        string s => s.EnumerateRunes().Select(r => (object?)r.ToString()).ToList(),
        Undefined => [],
        Namespace ns => ns.Attributes.Keys.Cast<object?>().ToList(),
        _ => throw new InvalidOperationException($"'{TypeName(v)}' object is not iterable"),
    };

    /// <summary><c>json.dumps(value, ensure_ascii=False, indent=indent, sort_keys=sortKeys)</c> as transformers' tojson calls it.</summary>
    public static string ToJson(object? v, int? indent, bool sortKeys = false)
    {
        var sb = new StringBuilder();
        WriteJson(sb, v, indent, 0, sortKeys);
        return sb.ToString();
    }

    private static void WriteJson(StringBuilder sb, object? v, int? indent, int depth, bool sortKeys)
    {
        switch (v)
        {
            case null: sb.Append("null"); break;
            case bool b: sb.Append(b ? "true" : "false"); break;
            case long l: sb.Append(l.ToString(CultureInfo.InvariantCulture)); break;
            case double d:
                sb.Append(double.IsNaN(d) ? "NaN" : double.IsInfinity(d) ? (d > 0 ? "Infinity" : "-Infinity") : FormatFloat(d));
                break;
            case string s: WriteJsonString(sb, s); break;
            case List<object?> list:
                WriteContainer(sb, '[', ']', list.Count, indent, depth, i => WriteJson(sb, list[i], indent, depth + 1, sortKeys));
                break;
            case OrderedDictionary<string, object?> dict:
            {
                var keys = sortKeys ? dict.Keys.OrderBy(k => k, StringComparer.Ordinal).ToList() : dict.Keys.ToList();
                WriteContainer(sb, '{', '}', keys.Count, indent, depth, i =>
                {
                    WriteJsonString(sb, keys[i]);
                    sb.Append(": ");
                    WriteJson(sb, dict[keys[i]], indent, depth + 1, sortKeys);
                });
                break;
            }
            case Namespace ns:
                WriteJson(sb, new OrderedDictionary<string, object?>(ns.Attributes, StringComparer.Ordinal), indent, depth, sortKeys);
                break;
            default:
                throw new InvalidOperationException($"Object of type {TypeName(v)} is not JSON serializable");
        }
    }

    private static void WriteContainer(StringBuilder sb, char open, char close, int count, int? indent, int depth, Action<int> item)
    {
        sb.Append(open);
        if (count == 0)
        {
            sb.Append(close);
            return;
        }
        for (int i = 0; i < count; i++)
        {
            if (i > 0) sb.Append(indent is null ? ", " : ",");
            if (indent is int n) sb.Append('\n').Append(' ', n * (depth + 1));
            item(i);
        }
        if (indent is int m) sb.Append('\n').Append(' ', m * depth);
        sb.Append(close);
    }

    private static void WriteJsonString(StringBuilder sb, string s)
    {
        sb.Append('"');
        foreach (var c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                default:
                    if (c < 0x20) sb.Append($"\\u{(int)c:x4}");
                    else sb.Append(c);
                    break;
            }
        }
        sb.Append('"');
    }
}
