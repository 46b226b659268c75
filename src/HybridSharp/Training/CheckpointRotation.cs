using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using HybridSharp.IO;

namespace HybridSharp.Training;

/// <summary>
/// The trainer's checkpoint folders and the protocol that never leaves a run without one. A checkpoint is written into
/// <c>checkpoint.tmp/</c>, and its manifest (<c>checkpoint.json</c>: step and the SHA-256 of every file) is written
/// last: a folder is complete exactly when its manifest exists and every file matches it. Then <c>checkpoint/</c>
/// becomes <c>checkpoint.old/</c>, <c>checkpoint.tmp/</c> becomes <c>checkpoint/</c>, and <c>checkpoint.old/</c> goes.
/// A kill at any point leaves at least one complete folder; resuming takes the newest complete one of the three
/// (<see cref="FindNewest"/>) and first moves it to <c>checkpoint/</c> (<see cref="Promote"/>), removing the rest.
/// </summary>
public static class CheckpointRotation
{
    public const string Current = "checkpoint";
    public const string Previous = "checkpoint.old";
    public const string Temporary = "checkpoint.tmp";
    public const string ManifestFile = "checkpoint.json";
    public const string StateFile = "trainer_state.json";

    /// <summary>A complete checkpoint folder and its state.</summary>
    public sealed record Found(string Directory, string Name, TrainerState State);

    /// <summary>The newest complete checkpoint under <paramref name="outputDirectory"/>, or null when there is none.</summary>
    public static Found? FindNewest(string outputDirectory)
    {
        Found? best = null;
        foreach (var name in new[] { Current, Temporary, Previous })
        {
            var dir = Path.Combine(outputDirectory, name);
            if (ReadComplete(dir, name) is not { } state) continue;
            if (best is null || state.Step > best.State.Step) best = new Found(dir, name, state);
        }
        return best;
    }

    /// <summary>
    /// Makes the newest complete checkpoint <c>checkpoint/</c> and removes the other folders; returns it, or null when
    /// there is none (<see cref="Found.Name"/> says where it was found). Every step keeps that checkpoint under one of the
    /// three names, so a kill here is harmless too.
    /// </summary>
    public static Found? Promote(string outputDirectory)
    {
        var best = FindNewest(outputDirectory);
        if (best is null) return null;
        var current = Path.Combine(outputDirectory, Current);
        if (best.Name != Current)
        {
            if (Directory.Exists(current)) Directory.Delete(current, recursive: true);
            Directory.Move(best.Directory, current);
        }
        foreach (var name in new[] { Temporary, Previous })
        {
            var dir = Path.Combine(outputDirectory, name);
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
        return best with { Directory = current };   // Name: where it was found
    }

    /// <summary>
    /// Writes a checkpoint: <paramref name="writeFiles"/> fills <c>checkpoint.tmp/</c>; the manifest follows; then the
    /// rotation. The current checkpoint stays complete until the new one is.
    /// </summary>
    public static void Save(string outputDirectory, TrainerState state, Action<string> writeFiles)
    {
        var current = Path.Combine(outputDirectory, Current);
        var previous = Path.Combine(outputDirectory, Previous);
        var temporary = Path.Combine(outputDirectory, Temporary);
        // A leftover .tmp or .old is never the only complete checkpoint here: runs start by promoting the newest one.
        if (Directory.Exists(temporary)) Directory.Delete(temporary, recursive: true);
        Directory.CreateDirectory(temporary);
        writeFiles(temporary);
        AtomicFile.WriteAllText(Path.Combine(temporary, StateFile), state.ToJson());
        WriteManifest(temporary, state.Step);
        if (Directory.Exists(previous)) Directory.Delete(previous, recursive: true);
        if (Directory.Exists(current)) Directory.Move(current, previous);
        Directory.Move(temporary, current);
        if (Directory.Exists(previous)) Directory.Delete(previous, recursive: true);
    }

    /// <summary>The state of <paramref name="directory"/> when it is a complete checkpoint, else null.</summary>
    public static TrainerState? ReadComplete(string directory, string name)
    {
        var statePath = Path.Combine(directory, StateFile);
        if (!File.Exists(statePath)) return null;
        var manifestPath = Path.Combine(directory, ManifestFile);
        if (!File.Exists(manifestPath))
            // Checkpoints written before manifests existed: only finished renames carried the current and previous names.
            return name == Temporary ? null : TryState(statePath);
        try
        {
            var manifest = JsonNode.Parse(File.ReadAllText(manifestPath))!.AsObject();
            foreach (var (file, hash) in manifest["files"]!.AsObject())
            {
                var path = Path.Combine(directory, file);
                if (!File.Exists(path) || Sha256(path) != hash!.GetValue<string>()) return null;
            }
            var state = TryState(statePath);
            return state is not null && state.Step == manifest["step"]!.GetValue<int>() ? state : null;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or NullReferenceException or IOException)
        {
            return null;
        }
    }

    private static TrainerState? TryState(string path)
    {
        try { return TrainerState.FromJson(File.ReadAllText(path), path); }
        catch (Exception ex) when (ex is JsonException or InvalidDataException) { return null; }
    }

    private static void WriteManifest(string directory, int step)
    {
        var files = new JsonObject();
        foreach (var path in Directory.EnumerateFiles(directory).Order(StringComparer.Ordinal))
        {
            var name = Path.GetFileName(path);
            if (name != ManifestFile) files[name] = Sha256(path);
        }
        var manifest = new JsonObject { ["step"] = step, ["files"] = files };
        AtomicFile.WriteAllText(Path.Combine(directory, ManifestFile), manifest.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    private static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
