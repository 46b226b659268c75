using System.Text.RegularExpressions;

namespace HybridSharp.Checkpoints.HfInterop;

/// <summary>
/// Writes a model directory through a staging folder next to the target, so a failed conversion never leaves a
/// half-written or mixed directory behind. On publish, files a previous model left in the target that the new one
/// does not replace (old shards, an old tokenizer.json) are removed.
/// </summary>
internal static class HfStaging
{
    private static readonly Regex ShardName = new(@"^model-\d+-of-\d+\.safetensors$", RegexOptions.CultureInvariant);

    /// <summary>Files of a model directory that belong to the model (replaced or removed on overwrite).</summary>
    private static readonly string[] ModelFiles =
    [
        "config.json", "model.safetensors", "model.safetensors.index.json", "generation_config.json", "tokenizer.json",
        "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja",
    ];

    public static void CheckTarget(string sourceDir, string targetDir, bool overwrite)
    {
        if (string.IsNullOrWhiteSpace(targetDir)) throw new ArgumentException("the target directory is empty");
        var src = Path.TrimEndingDirectorySeparator(Path.GetFullPath(sourceDir));
        var dst = Path.TrimEndingDirectorySeparator(Path.GetFullPath(targetDir));
        if (string.Equals(src, dst, StringComparison.Ordinal)) throw new ArgumentException($"source and target are the same directory ({src}); choose a new target");
        if (File.Exists(dst)) throw new ArgumentException($"{targetDir} is a file, not a directory");
        if (!overwrite && File.Exists(Path.Combine(dst, ModelDirectory.ConfigFile)))
            throw new ArgumentException($"{targetDir} already holds a model (config.json); pass `overwrite` to replace it");
    }

    public static string Create(string targetDir)
    {
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(targetDir));
        var parent = Path.GetDirectoryName(full) ?? throw new ArgumentException($"{targetDir} has no parent directory");
        Directory.CreateDirectory(parent);
        var staging = Path.Combine(parent, $".{Path.GetFileName(full)}.staging-{Guid.NewGuid().ToString("N")[..8]}");
        Directory.CreateDirectory(staging);
        return staging;
    }

    public static void Publish(string staging, string targetDir)
    {
        Directory.CreateDirectory(targetDir);
        var fresh = Directory.GetFiles(staging).Select(Path.GetFileName).ToHashSet(StringComparer.Ordinal);
        foreach (var old in Directory.GetFiles(targetDir))
        {
            var name = Path.GetFileName(old);
            if (!fresh.Contains(name) && (ModelFiles.Contains(name) || ShardName.IsMatch(name))) File.Delete(old);
        }
        // config.json last: until it moves, the target does not look like a (new) model directory.
        foreach (var file in Directory.GetFiles(staging).OrderBy(f => Path.GetFileName(f) == ModelDirectory.ConfigFile ? 1 : 0))
            File.Move(file, Path.Combine(targetDir, Path.GetFileName(file)), overwrite: true);
    }

    public static void Discard(string staging)
    {
        try { if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
