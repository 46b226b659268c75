using System.Globalization;

namespace HybridSharp.Jinja;

/// <summary>The Python methods templates call on strings, dicts and lists (<c>.strip()</c>, <c>.items()</c>, …).</summary>
internal static class Methods
{
    public static ICallable? Get(object? target, string name) => target switch
    {
        string s => StringMethod(s, name),
        OrderedDictionary<string, object?> d => DictMethod(d, name),
        List<object?> l => ListMethod(l, name),
        _ => null,
    };

    private static NativeFunction Fn(string name, Func<List<object?>, List<(string Name, object? Value)>, object?> body) =>
        new(name, (_, args, kwargs, _) => body(args, kwargs));

    private static object? Arg(List<object?> args, List<(string Name, object? Value)> kwargs, int index, string name, object? fallback = null)
    {
        if (index < args.Count) return args[index];
        foreach (var (k, v) in kwargs) if (k == name) return v;
        return fallback;
    }

    private static ICallable? StringMethod(string s, string name) => name switch
    {
        "strip" => Fn(name, (a, k) => Arg(a, k, 0, "chars") is string c ? s.Trim(c.ToCharArray()) : s.Trim()),
        "lstrip" => Fn(name, (a, k) => Arg(a, k, 0, "chars") is string c ? s.TrimStart(c.ToCharArray()) : s.TrimStart()),
        "rstrip" => Fn(name, (a, k) => Arg(a, k, 0, "chars") is string c ? s.TrimEnd(c.ToCharArray()) : s.TrimEnd()),
        "upper" => Fn(name, (_, _) => s.ToUpperInvariant()),
        "lower" => Fn(name, (_, _) => s.ToLowerInvariant()),
        "title" => Fn(name, (_, _) => Title(s)),
        "capitalize" => Fn(name, (_, _) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant()),
        "startswith" => Fn(name, (a, k) => Prefixes(Arg(a, k, 0, "prefix")).Any(p => s.StartsWith(p, StringComparison.Ordinal))),
        "endswith" => Fn(name, (a, k) => Prefixes(Arg(a, k, 0, "suffix")).Any(p => s.EndsWith(p, StringComparison.Ordinal))),
        "replace" => Fn(name, (a, k) => Replace(s, Values.Str(Arg(a, k, 0, "old")), Values.Str(Arg(a, k, 1, "new")), Arg(a, k, 2, "count") is long n ? n : -1)),
        "split" => Fn(name, (a, k) => Split(s, Arg(a, k, 0, "sep") as string, Arg(a, k, 1, "maxsplit") is long m ? m : -1)),
        "count" => Fn(name, (a, k) => (long)CountOf(s, Values.Str(Arg(a, k, 0, "x")))),
        "find" => Fn(name, (a, k) => (long)s.IndexOf(Values.Str(Arg(a, k, 0, "sub")), StringComparison.Ordinal)),
        "join" => Fn(name, (a, k) => string.Join(s, Values.Iterate(Arg(a, k, 0, "iterable")).Select(Values.Str))),
        "splitlines" => Fn(name, (_, _) => s.Replace("\r\n", "\n").Split('\n', '\r').Cast<object?>().ToList() is var l && l.Count > 0 && (string?)l[^1] == "" ? l.Take(l.Count - 1).ToList() : s.Replace("\r\n", "\n").Split('\n', '\r').Cast<object?>().ToList()),
        "isdigit" => Fn(name, (_, _) => s.Length > 0 && s.All(char.IsDigit)),
        "isalpha" => Fn(name, (_, _) => s.Length > 0 && s.All(char.IsLetter)),
        "isspace" => Fn(name, (_, _) => s.Length > 0 && s.All(char.IsWhiteSpace)),
        "format" => Fn(name, (a, _) => Format(s, a)),
        _ => null,
    };

    private static ICallable? DictMethod(OrderedDictionary<string, object?> d, string name) => name switch
    {
        "items" => Fn(name, (_, _) => d.Select(kv => (object?)new List<object?> { kv.Key, kv.Value }).ToList()),
        "keys" => Fn(name, (_, _) => d.Keys.Cast<object?>().ToList()),
        "values" => Fn(name, (_, _) => d.Values.ToList()),
        "get" => Fn(name, (a, k) => Arg(a, k, 0, "key") is string key && d.TryGetValue(key, out var v) ? v : Arg(a, k, 1, "default")),
        "copy" => Fn(name, (_, _) => new OrderedDictionary<string, object?>(d, StringComparer.Ordinal)),
        "update" => Fn(name, (a, _) =>
        {
            if (a.Count > 0 && a[0] is OrderedDictionary<string, object?> other) foreach (var (k, v) in other) d[k] = v;
            return null;
        }),
        _ => null,
    };

    private static ICallable? ListMethod(List<object?> l, string name) => name switch
    {
        "append" => Fn(name, (a, _) => { l.Add(a.Count > 0 ? a[0] : null); return null; }),
        "extend" => Fn(name, (a, _) => { l.AddRange(Values.Iterate(a.Count > 0 ? a[0] : null)); return null; }),
        "pop" => Fn(name, (a, _) =>
        {
            if (l.Count == 0) throw new InvalidOperationException("pop from empty list");
            int i = a.Count > 0 && a[0] is long idx ? (int)(idx < 0 ? idx + l.Count : idx) : l.Count - 1;
            var v = l[i];
            l.RemoveAt(i);
            return v;
        }),
        "index" => Fn(name, (a, _) => (long)l.FindIndex(x => Values.Equals(x, a.Count > 0 ? a[0] : null))),
        "count" => Fn(name, (a, _) => (long)l.Count(x => Values.Equals(x, a.Count > 0 ? a[0] : null))),
        _ => null,
    };

    private static IEnumerable<string> Prefixes(object? arg) => arg switch
    {
        string s => [s],
        List<object?> l => l.Select(Values.Str),
        _ => throw new InvalidOperationException($"startswith/endswith takes a string or a tuple of strings, not {Values.TypeName(arg)}"),
    };

    public static string Title(string s)
    {
        var chars = s.ToCharArray();
        bool previousCased = false;
        for (int i = 0; i < chars.Length; i++)
        {
            bool cased = char.IsLetter(chars[i]);
            chars[i] = cased ? (previousCased ? char.ToLowerInvariant(chars[i]) : char.ToUpperInvariant(chars[i])) : chars[i];
            previousCased = cased;
        }
        return new string(chars);
    }

    private static string Replace(string s, string oldValue, string newValue, long count)
    {
        if (count < 0) return oldValue.Length == 0 ? InsertBetween(s, newValue) : s.Replace(oldValue, newValue, StringComparison.Ordinal);
        var sb = new System.Text.StringBuilder();
        int pos = 0;
        for (long n = 0; n < count; n++)
        {
            int i = s.IndexOf(oldValue, pos, StringComparison.Ordinal);
            if (i < 0 || oldValue.Length == 0) break;
            sb.Append(s, pos, i - pos).Append(newValue);
            pos = i + oldValue.Length;
        }
        return sb.Append(s, pos, s.Length - pos).ToString();
    }

    private static string InsertBetween(string s, string value) => value + string.Join(value, s.Select(c => c.ToString())) + (s.Length > 0 ? value : "");

    private static int CountOf(string s, string sub)
    {
        if (sub.Length == 0) return s.Length + 1;
        int n = 0;
        for (int i = s.IndexOf(sub, StringComparison.Ordinal); i >= 0; i = s.IndexOf(sub, i + sub.Length, StringComparison.Ordinal)) n++;
        return n;
    }

    private static List<object?> Split(string s, string? sep, long maxSplit)
    {
        if (sep is null)
        {
            var words = s.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Cast<object?>().ToList();
            if (maxSplit < 0 || words.Count <= maxSplit + 1) return words;
            // Python keeps the rest of the string (leading whitespace stripped) as the last part.
            var rest = s.TrimStart();
            var result = new List<object?>();
            for (long k = 0; k < maxSplit; k++)
            {
                int end = 0;
                while (end < rest.Length && !char.IsWhiteSpace(rest[end])) end++;
                result.Add(rest[..end]);
                rest = rest[end..].TrimStart();
            }
            result.Add(rest);
            return result;
        }
        if (sep.Length == 0) throw new InvalidOperationException("empty separator");
        var parts = maxSplit < 0 ? s.Split(sep) : s.Split(sep, (int)Math.Min(int.MaxValue, maxSplit + 1));
        return parts.Cast<object?>().ToList();
    }

    private static string Format(string format, List<object?> args)
    {
        var sb = new System.Text.StringBuilder();
        int auto = 0;
        for (int i = 0; i < format.Length; i++)
        {
            if (format[i] == '{' && i + 1 < format.Length && format[i + 1] == '{') { sb.Append('{'); i++; continue; }
            if (format[i] == '}' && i + 1 < format.Length && format[i + 1] == '}') { sb.Append('}'); i++; continue; }
            if (format[i] != '{') { sb.Append(format[i]); continue; }
            int close = format.IndexOf('}', i);
            if (close < 0) throw new InvalidOperationException("single '{' encountered in format string");
            var field = format[(i + 1)..close];
            int index = field.Length == 0 ? auto++ : int.Parse(field, CultureInfo.InvariantCulture);
            sb.Append(Values.Str(index < args.Count ? args[index] : throw new InvalidOperationException("format index out of range")));
            i = close;
        }
        return sb.ToString();
    }
}
