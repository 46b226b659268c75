using System.Globalization;

namespace HybridSharp.Jinja;

internal sealed partial class Renderer
{
    private static object? Kw(List<object?> args, List<(string Name, object? Value)> kwargs, int index, string name, object? fallback = null)
    {
        if (index < args.Count) return args[index];
        foreach (var (k, v) in kwargs) if (k == name) return v;
        return fallback;
    }

    private static TemplateException UndefinedError(Undefined u, int line) =>
        new(u.Hint.Contains("undefined") ? u.Hint : $"{u.Hint} is undefined", line);

    public object? ApplyFilter(string name, object? value, List<object?> args, List<(string Name, object? Value)> kwargs, int line)
    {
        switch (name)
        {
            case "default" or "d":
            {
                var fallback = Kw(args, kwargs, 0, "default_value", "");
                bool boolean = Values.Truthy(Kw(args, kwargs, 1, "boolean", false));
                return value is Undefined || (boolean && !Values.Truthy(value)) ? fallback : value;
            }
            case "tojson":
            {
                if (value is Undefined u) throw UndefinedError(u, line);
                var indent = Kw(args, kwargs, 0, "indent");
                bool sortKeys = Values.Truthy(Kw(args, kwargs, 99, "sort_keys", false));
                try
                {
                    return Values.ToJson(value, indent is long n ? (int)n : null, sortKeys);
                }
                catch (InvalidOperationException ex)
                {
                    throw Error(ex.Message, line);
                }
            }
            case "safe" or "e" or "escape" when name == "safe":
                return value;
            case "string":
                return Values.Str(value);
            case "trim":
                return Kw(args, kwargs, 0, "chars") is string chars ? Values.Str(value).Trim(chars.ToCharArray()) : Values.Str(value).Trim();
            case "upper":
                return Values.Str(value).ToUpperInvariant();
            case "lower":
                return Values.Str(value).ToLowerInvariant();
            case "capitalize":
            {
                var s = Values.Str(value);
                return s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();
            }
            case "title":
                return Methods.Title(Values.Str(value));
            case "replace":
            {
                var s = Values.Str(value);
                var old = Values.Str(Kw(args, kwargs, 0, "old"));
                var @new = Values.Str(Kw(args, kwargs, 1, "new"));
                return Methods.Get(s, "replace")!.Call(this, [old, @new, .. Kw(args, kwargs, 2, "count") is long c ? new object?[] { c } : []], [], line);
            }
            case "length" or "count":
                return value switch
                {
                    string s => (long)s.EnumerateRunes().Count(),
                    List<object?> l => (long)l.Count,
                    OrderedDictionary<string, object?> d => (long)d.Count,
                    Undefined => 0L,
                    Namespace ns => (long)ns.Attributes.Count,
                    _ => throw Error($"object of type '{Values.TypeName(value)}' has no len()", line),
                };
            case "wordcount":
                return (long)Values.Str(value).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length;
            case "first":
            {
                var items = Iter(value, line);
                return items.Count > 0 ? items[0] : new Undefined("first item of an empty sequence");
            }
            case "last":
            {
                var items = Iter(value, line);
                return items.Count > 0 ? items[^1] : new Undefined("last item of an empty sequence");
            }
            case "list":
                return Iter(value, line).ToList();
            case "reverse":
                return value is string rs ? new string(rs.Reverse().ToArray()) : Enumerable.Reverse(Iter(value, line)).ToList();
            case "join":
            {
                var sep = Values.Str(Kw(args, kwargs, 0, "d", ""));
                var attribute = Kw(args, kwargs, 1, "attribute");
                var items = Iter(value, line);
                if (attribute is not null) items = items.Select(x => GetAttributePath(x, attribute, line)).ToList();
                return string.Join(sep, items.Select(Values.Str));
            }
            case "map":
            {
                var items = Iter(value, line);
                if (Kw([], kwargs, 0, "attribute") is { } attribute)
                {
                    var def = Kw([], kwargs, 0, "default");
                    return items.Select(x => GetAttributePath(x, attribute, line) is var v && v is Undefined && def is not null ? def : GetAttributePath(x, attribute, line)).ToList();
                }
                if (args.Count == 0) throw Error("map needs a filter name or attribute=", line);
                var filter = Values.Str(args[0]);
                return items.Select(x => ApplyFilter(filter, x, args.Skip(1).ToList(), kwargs, line)).ToList();
            }
            case "select" or "reject":
            {
                bool keep = name == "select";
                var items = Iter(value, line);
                return items.Where(x => (args.Count == 0 ? Values.Truthy(x) : ApplyTest(Values.Str(args[0]), x, args.Skip(1).ToList(), line)) == keep).ToList();
            }
            case "selectattr" or "rejectattr":
            {
                bool keep = name == "selectattr";
                if (args.Count == 0) throw Error($"{name} needs an attribute name", line);
                var items = Iter(value, line);
                return items.Where(x =>
                {
                    var attr = GetAttributePath(x, args[0], line);
                    bool ok = args.Count < 2 ? Values.Truthy(attr) : ApplyTest(Values.Str(args[1]), attr, args.Skip(2).ToList(), line);
                    return ok == keep;
                }).ToList();
            }
            case "items":
                if (value is Undefined) return new List<object?>();
                if (value is not OrderedDictionary<string, object?> mapping) throw Error($"items filter needs a mapping, not {Values.TypeName(value)}", line);
                return mapping.Select(kv => (object?)new List<object?> { kv.Key, kv.Value }).ToList();
            case "dictsort":
            {
                if (value is not OrderedDictionary<string, object?> dict) throw Error($"dictsort needs a mapping, not {Values.TypeName(value)}", line);
                bool caseSensitive = Values.Truthy(Kw(args, kwargs, 0, "case_sensitive", false));
                bool byValue = Values.Str(Kw(args, kwargs, 1, "by", "key")) == "value";
                bool reverse = Values.Truthy(Kw(args, kwargs, 2, "reverse", false));
                var pairs = dict.Select(kv => new List<object?> { kv.Key, kv.Value }).ToList();
                pairs.Sort((a, b) => Values.Compare(SortKey(byValue ? a[1] : a[0], caseSensitive), SortKey(byValue ? b[1] : b[0], caseSensitive)));
                if (reverse) pairs.Reverse();
                return pairs.Cast<object?>().ToList();
            }
            case "sort":
            {
                bool reverse = Values.Truthy(Kw(args, kwargs, 0, "reverse", false));
                bool caseSensitive = Values.Truthy(Kw(args, kwargs, 1, "case_sensitive", false));
                var attribute = Kw(args, kwargs, 2, "attribute");
                var items = Iter(value, line).ToList();
                var keyed = items.Select(x => (Key: SortKey(attribute is null ? x : GetAttributePath(x, attribute, line), caseSensitive), Item: x)).ToList();
                var sorted = keyed.OrderBy(p => p.Key, Comparer<object?>.Create(Values.Compare)).Select(p => p.Item).ToList();
                if (reverse) sorted.Reverse();
                return sorted;
            }
            case "unique":
            {
                var result = new List<object?>();
                foreach (var x in Iter(value, line))
                    if (!result.Any(r => Values.Equals(SortKey(r, false), SortKey(x, false)))) result.Add(x);
                return result;
            }
            case "int":
            {
                var def = Kw(args, kwargs, 0, "default", 0L);
                return value switch
                {
                    long l => l,
                    bool b => b ? 1L : 0L,
                    double d => (long)Math.Truncate(d),
                    string s when long.TryParse(s.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var l) => l,
                    string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => (long)Math.Truncate(d),
                    _ => def,
                };
            }
            case "float":
            {
                var def = Kw(args, kwargs, 0, "default", 0.0);
                return value switch
                {
                    long l => (double)l,
                    double d => d,
                    bool b => b ? 1.0 : 0.0,
                    string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => d,
                    _ => def,
                };
            }
            case "abs":
                return value is long al ? (object)Math.Abs(al) : Math.Abs(Values.ToDouble(value));
            case "round":
            {
                int precision = Kw(args, kwargs, 0, "precision", 0L) is long p ? (int)p : 0;
                var method = Values.Str(Kw(args, kwargs, 1, "method", "common"));
                double v = Values.ToDouble(value), f = Math.Pow(10, precision);
                return method switch
                {
                    "ceil" => Math.Ceiling(v * f) / f,
                    "floor" => Math.Floor(v * f) / f,
                    _ => Math.Round(v * f, MidpointRounding.AwayFromZero) / f,
                };
            }
            case "sum":
            {
                var attribute = Kw(args, kwargs, 0, "attribute");
                object? total = Kw(args, kwargs, 1, "start", 0L);
                foreach (var x in Iter(value, line))
                {
                    var v = attribute is null ? x : GetAttributePath(x, attribute, line);
                    total = total is long a && v is long b ? (object)(a + b) : Values.ToDouble(total) + Values.ToDouble(v);
                }
                return total;
            }
            case "min" or "max":
            {
                var items = Iter(value, line);
                if (items.Count == 0) return new Undefined($"{name} of an empty sequence");
                var best = items[0];
                foreach (var x in items.Skip(1))
                {
                    int c = Values.Compare(SortKey(x, false), SortKey(best, false));
                    if (name == "min" ? c < 0 : c > 0) best = x;
                }
                return best;
            }
            case "indent":
            {
                var s = Values.Str(value);
                var width = Kw(args, kwargs, 0, "width", 4L);
                string pad = width is string ws ? ws : new string(' ', (int)Values.ToDouble(width));
                bool first = Values.Truthy(Kw(args, kwargs, 1, "first", false));
                bool blank = Values.Truthy(Kw(args, kwargs, 2, "blank", false));
                var lines = s.Split('\n');
                for (int i = 0; i < lines.Length; i++)
                {
                    if (i == 0 && !first) continue;
                    if (!blank && lines[i].Trim().Length == 0) continue;
                    lines[i] = pad + lines[i];
                }
                return string.Join("\n", lines);
            }
            case "center":
            {
                var s = Values.Str(value);
                int width = (int)Values.ToDouble(Kw(args, kwargs, 0, "width", 80L));
                if (s.Length >= width) return s;
                int left = (width - s.Length) / 2 + ((width - s.Length) % 2 == 1 && s.Length % 2 == 1 ? 1 : 0);
                return new string(' ', left) + s + new string(' ', width - s.Length - left);
            }
            case "batch":
            {
                int size = (int)Values.ToDouble(Kw(args, kwargs, 0, "linecount", 1L));
                return Iter(value, line).Chunk(Math.Max(1, size)).Select(c => (object?)c.ToList()).ToList();
            }
            case "attr":
                return GetAttribute(value, Values.Str(Kw(args, kwargs, 0, "name")), line);
            case "escape" or "e":
                return Values.Str(value).Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;").Replace("\"", "&#34;").Replace("'", "&#39;");
            default:
                throw Error($"no filter named '{name}'", line);
        }
    }

    private static object? SortKey(object? v, bool caseSensitive) => !caseSensitive && v is string s ? s.ToLowerInvariant() : v;

    private List<object?> Iter(object? value, int line)
    {
        try
        {
            return Values.Iterate(value);
        }
        catch (InvalidOperationException ex)
        {
            throw Error(ex.Message, line);
        }
    }

    /// <summary>Jinja's attribute paths for filters: <c>"a.b"</c> walks attributes, an integer indexes.</summary>
    private object? GetAttributePath(object? item, object? attribute, int line)
    {
        if (attribute is long index) return GetItem(item, index, line);
        var v = item;
        foreach (var part in Values.Str(attribute).Split('.'))
        {
            if (v is Undefined) return v;
            v = int.TryParse(part, out var i) && v is List<object?> ? GetItem(v, (long)i, line) : GetItem(v, part, line);
        }
        return v;
    }

    public bool ApplyTest(string name, object? value, List<object?> args, int line)
    {
        object? Arg0() => args.Count > 0 ? args[0] : throw Error($"test '{name}' needs an argument", line);
        return name switch
        {
            "defined" => value is not Undefined,
            "undefined" => value is Undefined,
            "none" => value is null,
            "string" => value is string,
            "number" => value is long or double,
            "integer" => value is long,
            "float" => value is double,
            "boolean" => value is bool,
            "true" => value is true,
            "false" => value is false,
            "mapping" => value is OrderedDictionary<string, object?> or Namespace,
            "sequence" => value is List<object?> or string or OrderedDictionary<string, object?>,
            "iterable" => value is List<object?> or string or OrderedDictionary<string, object?>,
            "callable" => value is ICallable,
            "odd" => value is long o ? o % 2 != 0 : throw Error("odd needs an integer", line),
            "even" => value is long e ? e % 2 == 0 : throw Error("even needs an integer", line),
            "divisibleby" => (long)Values.ToDouble(value) % (long)Values.ToDouble(Arg0()) == 0,
            "lower" => value is string ls && ls == ls.ToLowerInvariant(),
            "upper" => value is string us && us == us.ToUpperInvariant(),
            "equalto" or "eq" or "==" or "sameas" => Values.Equals(value, Arg0()),
            "ne" or "!=" => !Values.Equals(value, Arg0()),
            "lt" or "lessthan" or "<" => Values.Compare(value, Arg0()) < 0,
            "le" or "<=" => Values.Compare(value, Arg0()) <= 0,
            "gt" or "greaterthan" or ">" => Values.Compare(value, Arg0()) > 0,
            "ge" or ">=" => Values.Compare(value, Arg0()) >= 0,
            "in" => Contains(Arg0(), value, line),
            "startingwith" => value is string sw && sw.StartsWith(Values.Str(Arg0()), StringComparison.Ordinal),
            _ => throw Error($"no test named '{name}'", line),
        };
    }
}
