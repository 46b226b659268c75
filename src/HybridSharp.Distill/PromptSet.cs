using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace HybridSharp.Distill;

/// <summary>
/// The versioned prompt templates of a distillation run. Five markdown files:
/// <c>system.md</c> (DAP system prompt, one-call), <c>user.md</c> (one-call user turn), <c>long.md</c> (two-call, first
/// call's user turn), <c>rewrite-system.md</c> and <c>rewrite-user.md</c> (two-call rewrite). Placeholders:
/// <c>{{problem}}</c>, <c>{{reference}}</c>, <c>{{long_cot}}</c>; <c>{{#name}}…{{/name}}</c> keeps its body only when
/// the value is non-empty. The built-in set (embedded resources) is <see cref="BuiltInVersion"/>; a user folder
/// overrides any subset of the files.
/// </summary>
public sealed partial class PromptSet
{
    public const string BuiltInVersion = "dap-v1";
    public static readonly IReadOnlyList<string> FileNames = ["system.md", "user.md", "long.md", "rewrite-system.md", "rewrite-user.md"];

    private readonly Dictionary<string, string> _templates;

    /// <summary>"dap-v1" for the built-in set; "&lt;folder name&gt;@&lt;first 12 hex of the templates' SHA-256&gt;" for a user folder.</summary>
    public string Version { get; }

    /// <summary>SHA-256 (hex) of all templates, in <see cref="FileNames"/> order.</summary>
    public string TemplatesSha256 { get; }

    private PromptSet(Dictionary<string, string> templates, string? version)
    {
        _templates = templates;
        var all = new StringBuilder();
        foreach (var name in FileNames) all.Append(name).Append('\0').Append(templates[name]).Append('\0');
        TemplatesSha256 = Sha256Hex(all.ToString());
        Version = version ?? BuiltInVersion;
    }

    public string Template(string fileName) => _templates[fileName];

    /// <summary>The built-in templates shipped with the library.</summary>
    public static PromptSet BuiltIn() => new(LoadBuiltIn(), null);

    /// <summary>Templates from <paramref name="directory"/>; files it lacks fall back to the built-in ones.</summary>
    public static PromptSet Load(string? directory)
    {
        if (directory is null) return BuiltIn();
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"prompt folder '{directory}' does not exist");
        var templates = LoadBuiltIn();
        int found = 0;
        foreach (var name in FileNames)
        {
            var path = Path.Combine(directory, name);
            if (!File.Exists(path)) continue;
            templates[name] = Normalize(File.ReadAllText(path));
            found++;
        }
        if (found == 0) throw new ArgumentException($"prompt folder '{directory}' holds none of {string.Join(", ", FileNames)}");
        var probe = new PromptSet(templates, null);
        var name2 = Path.GetFileName(Path.GetFullPath(directory).TrimEnd(Path.DirectorySeparatorChar));
        return new PromptSet(templates, $"{name2}@{probe.TemplatesSha256[..12]}");
    }

    private static Dictionary<string, string> LoadBuiltIn()
    {
        var asm = typeof(PromptSet).Assembly;
        var dict = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in FileNames)
        {
            using var stream = asm.GetManifestResourceStream($"HybridSharp.Distill.Prompts.{BuiltInVersion}/{name}")
                ?? asm.GetManifestResourceStream($"HybridSharp.Distill.Prompts.{BuiltInVersion}\\{name}")
                ?? throw new InvalidOperationException($"embedded prompt {name} missing");
            using var reader = new StreamReader(stream, Encoding.UTF8);
            dict[name] = Normalize(reader.ReadToEnd());
        }
        return dict;
    }

    private static string Normalize(string text) => text.Replace("\r\n", "\n").TrimEnd('\n', ' ');

    /// <summary>Fills a template: substitutes placeholders and keeps or drops conditional sections.</summary>
    public string Render(string fileName, IReadOnlyDictionary<string, string?> values) => RenderText(_templates[fileName], values);

    public static string RenderText(string template, IReadOnlyDictionary<string, string?> values)
    {
        var withSections = SectionRegex().Replace(template, m =>
            values.TryGetValue(m.Groups[1].Value, out var v) && !string.IsNullOrWhiteSpace(v) ? m.Groups[2].Value : "");
        return PlaceholderRegex().Replace(withSections, m =>
            values.TryGetValue(m.Groups[1].Value, out var v) ? v ?? "" : m.Value).Trim();
    }

    /// <summary>Writes the templates into a folder (for users who want to edit a copy).</summary>
    public void WriteTo(string directory)
    {
        Directory.CreateDirectory(directory);
        foreach (var name in FileNames) IO.AtomicFile.WriteAllText(Path.Combine(directory, name), _templates[name] + "\n");
    }

    public static string Sha256Hex(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    [GeneratedRegex(@"\{\{#(\w+)\}\}(.*?)\{\{/\1\}\}", RegexOptions.Singleline)]
    private static partial Regex SectionRegex();

    [GeneratedRegex(@"\{\{(\w+)\}\}")]
    private static partial Regex PlaceholderRegex();
}
