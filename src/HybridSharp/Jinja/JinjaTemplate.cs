using System.Globalization;

namespace HybridSharp.Jinja;

/// <summary>
/// A Jinja template as Hugging Face transformers renders chat templates: <c>trim_blocks</c> and <c>lstrip_blocks</c>
/// on, loop controls, <c>{% generation %}</c> blocks, the globals <c>raise_exception</c>, <c>strftime_now</c>,
/// <c>namespace</c>, <c>range</c> and <c>dict</c>, transformers' <c>tojson</c> (no HTML escaping, <c>indent</c>,
/// <c>sort_keys</c>) and no autoescaping. Values follow Python: None, True/False, ints and floats, str, list, dict
/// (insertion order kept); a missing variable or key is Jinja's default <c>Undefined</c>.
/// </summary>
/// <remarks>
/// Not supported (an error names the line): <c>extends</c> / <c>block</c> / <c>include</c> / <c>import</c>, recursive
/// loops. No .NET Jinja engine exists, so this one is written for chat templates and is tested byte for byte against
/// <c>@huggingface/jinja</c> on the templates of real models.
/// </remarks>
public sealed class JinjaTemplate
{
    private readonly List<Node> _nodes;

    private JinjaTemplate(string source, List<Node> nodes)
    {
        Source = source;
        _nodes = nodes;
    }

    /// <summary>The template text.</summary>
    public string Source { get; }

    /// <summary>Parses a template.</summary>
    /// <exception cref="TemplateException">A syntax error (the message names the line).</exception>
    public static JinjaTemplate Parse(string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        var tokens = Lexer.Tokenize(source);
        return new JinjaTemplate(source, new Parser(tokens).ParseTemplate());
    }

    /// <summary>Renders with the given variables (plain .NET values, JsonNode or template values).</summary>
    /// <exception cref="TemplateException">A render error or <c>raise_exception</c> (the message names the line).</exception>
    public string Render(IReadOnlyDictionary<string, object?> variables) => RenderWithSpans(variables).Text;

    /// <summary>Renders and returns the character ranges produced inside <c>{% generation %}</c> blocks.</summary>
    public (string Text, IReadOnlyList<(int Start, int End)> GenerationSpans) RenderWithSpans(IReadOnlyDictionary<string, object?> variables)
    {
        var converted = variables.ToDictionary(kv => kv.Key, kv => Values.From(kv.Value), StringComparer.Ordinal);
        var renderer = new Renderer(Globals, converted);
        var text = renderer.Render(_nodes);
        return (text, renderer.GenerationSpans);
    }

    private static readonly IReadOnlyDictionary<string, object?> Globals = new Dictionary<string, object?>(StringComparer.Ordinal)
    {
        ["raise_exception"] = new NativeFunction("raise_exception", (_, args, _, line) =>
            throw new TemplateException(args.Count > 0 ? Values.Str(args[0]) : "raise_exception", line, raisedByTemplate: true)),
        ["strftime_now"] = new NativeFunction("strftime_now", (_, args, _, _) => Strftime(DateTime.Now, args.Count > 0 ? Values.Str(args[0]) : "%Y-%m-%d")),
        ["namespace"] = new NativeFunction("namespace", (_, args, kwargs, _) =>
        {
            var ns = new Namespace();
            if (args.Count > 0 && args[0] is OrderedDictionary<string, object?> init) foreach (var (k, v) in init) ns.Attributes[k] = v;
            foreach (var (k, v) in kwargs) ns.Attributes[k] = v;
            return ns;
        }),
        ["range"] = new NativeFunction("range", (_, args, _, line) =>
        {
            long start = 0, stop, step = 1;
            if (args.Count == 1) stop = (long)Values.ToDouble(args[0]);
            else if (args.Count >= 2)
            {
                start = (long)Values.ToDouble(args[0]);
                stop = (long)Values.ToDouble(args[1]);
                if (args.Count > 2) step = (long)Values.ToDouble(args[2]);
            }
            else throw new TemplateException("range expects at least 1 argument", line);
            if (step == 0) throw new TemplateException("range() arg 3 must not be zero", line);
            var list = new List<object?>();
            for (long i = start; step > 0 ? i < stop : i > stop; i += step) list.Add(i);
            return list;
        }),
        ["dict"] = new NativeFunction("dict", (_, args, kwargs, _) =>
        {
            var d = new OrderedDictionary<string, object?>(StringComparer.Ordinal);
            if (args.Count > 0 && args[0] is OrderedDictionary<string, object?> init) foreach (var (k, v) in init) d[k] = v;
            foreach (var (k, v) in kwargs) d[k] = v;
            return d;
        }),
    };

    /// <summary>Python's <c>strftime</c> for the directives chat templates use.</summary>
    public static string Strftime(DateTime t, string format)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new System.Text.StringBuilder();
        for (int i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 >= format.Length)
            {
                sb.Append(format[i]);
                continue;
            }
            char d = format[++i];
            sb.Append(d switch
            {
                'Y' => t.ToString("yyyy", inv),
                'y' => t.ToString("yy", inv),
                'm' => t.ToString("MM", inv),
                'd' => t.ToString("dd", inv),
                'e' => t.Day.ToString(inv).PadLeft(2),
                'H' => t.ToString("HH", inv),
                'I' => t.ToString("hh", inv),
                'M' => t.ToString("mm", inv),
                'S' => t.ToString("ss", inv),
                'p' => t.Hour < 12 ? "AM" : "PM",
                'B' => t.ToString("MMMM", inv),
                'b' or 'h' => t.ToString("MMM", inv),
                'A' => t.ToString("dddd", inv),
                'a' => t.ToString("ddd", inv),
                'j' => t.DayOfYear.ToString("000", inv),
                '%' => "%",
                _ => "%" + d,
            });
        }
        return sb.ToString();
    }
}
