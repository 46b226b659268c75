using TorchSharp;
using static TorchSharp.torch;

namespace HybridSharp.IO.Safetensors;

/// <summary>Outcome of <see cref="StateDictLoader.Load"/>.</summary>
/// <param name="Loaded">Module names whose values were copied from the checkpoint.</param>
/// <param name="Missing">Module names absent from the checkpoint and not excused (only non-empty when not strict).</param>
/// <param name="IgnoredMissing">Module names absent from the checkpoint but accepted by the ignore-missing predicate.</param>
/// <param name="TiedFromAlias">Module names absent from the checkpoint whose tensor is shared with a loaded name (tied weights).</param>
/// <param name="Unexpected">Checkpoint names the module does not have (only non-empty when not strict).</param>
public sealed record StateDictLoadResult(
    IReadOnlyList<string> Loaded,
    IReadOnlyList<string> Missing,
    IReadOnlyList<string> IgnoredMissing,
    IReadOnlyList<string> TiedFromAlias,
    IReadOnlyList<string> Unexpected);

/// <summary>
/// Copies a name → tensor dictionary (e.g. from <see cref="SafetensorsFile.Load(string)"/>) into a module's parameters
/// and persistent buffers by name, and exports a module to such a dictionary.
/// </summary>
/// <remarks>
/// Names are those of <c>state_dict()</c>: every parameter and persistent buffer under every registered name, so a
/// tied weight appears under each module that holds it (TorchSharp's <c>named_parameters()</c> lists it only once).
/// </remarks>
public static class StateDictLoader
{
    /// <summary>
    /// Validates the whole checkpoint against <paramref name="module"/> first, then copies every matching tensor under
    /// <c>no_grad</c>, converting to the parameter's dtype (and device). Nothing is copied if validation fails.
    /// </summary>
    /// <param name="module">Target module.</param>
    /// <param name="tensors">Checkpoint tensors by name.</param>
    /// <param name="strict">When true, missing and unexpected names are errors; shape mismatches are errors always.</param>
    /// <param name="ignoreMissing">Names for which absence is acceptable (e.g. <c>n => n == "lm_head.weight"</c> when tied).</param>
    /// <exception cref="CheckpointMismatchException">Lists all missing, unexpected and mis-shaped names at once.</exception>
    public static StateDictLoadResult Load(nn.Module module, IReadOnlyDictionary<string, Tensor> tensors, bool strict = true, Func<string, bool>? ignoreMissing = null)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(tensors);

        var targets = NamedStateTensors(module);
        var targetNames = new HashSet<string>(targets.Select(t => t.Name), StringComparer.Ordinal);

        var matched = new List<(string Name, Tensor Target, Tensor Source)>();
        var absent = new List<(string Name, Tensor Target)>();
        var shapeMismatches = new List<ShapeMismatch>();
        foreach (var (name, target) in targets)
        {
            if (!tensors.TryGetValue(name, out var source))
            {
                absent.Add((name, target));
                continue;
            }
            if (source is null || source.IsInvalid)
            {
                throw new ArgumentException($"Checkpoint tensor '{name}' is null or disposed.", nameof(tensors));
            }
            if (!source.shape.AsSpan().SequenceEqual(target.shape))
            {
                shapeMismatches.Add(new ShapeMismatch(name, target.shape, source.shape));
                continue;
            }
            matched.Add((name, target, source));
        }

        HashSet<(IntPtr, string)>? loadedIdentities = null;
        var missing = new List<string>();
        var ignored = new List<string>();
        var tied = new List<string>();
        foreach (var (name, target) in absent)
        {
            loadedIdentities ??= new HashSet<(IntPtr, string)>(matched.Select(m => Identity(m.Target)));
            if (loadedIdentities.Contains(Identity(target)))
            {
                tied.Add(name);
            }
            else if (ignoreMissing is not null && ignoreMissing(name))
            {
                ignored.Add(name);
            }
            else
            {
                missing.Add(name);
            }
        }
        var unexpected = tensors.Keys.Where(n => !targetNames.Contains(n)).Order(StringComparer.Ordinal).ToList();
        missing.Sort(StringComparer.Ordinal);
        shapeMismatches.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));

        bool keysFail = strict && (missing.Count > 0 || unexpected.Count > 0);
        if (keysFail || shapeMismatches.Count > 0)
        {
            throw strict
                ? new CheckpointMismatchException(missing, unexpected, shapeMismatches)
                : new CheckpointMismatchException([], [], shapeMismatches);
        }

        using (torch.no_grad())
        {
            foreach (var (_, target, source) in matched)
            {
                target.copy_(source);
            }
        }

        return new StateDictLoadResult(matched.Select(m => m.Name).ToList(), missing, ignored, tied, unexpected);
    }

    /// <summary>
    /// Exports the module's parameters and persistent buffers to a name → tensor dictionary suitable for
    /// <see cref="SafetensorsFile.Save"/>. Each value is a detached alias sharing storage with the module (no copy);
    /// disposing it does not affect the module.
    /// </summary>
    /// <param name="module">Source module.</param>
    /// <param name="skip">Names to leave out, e.g. <c>lm_head.weight</c> when it is tied to the embedding.</param>
    public static Dictionary<string, Tensor> Export(nn.Module module, IEnumerable<string>? skip = null)
    {
        ArgumentNullException.ThrowIfNull(module);
        var skipped = new HashSet<string>(skip ?? [], StringComparer.Ordinal);
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, tensor) in NamedStateTensors(module))
        {
            if (!skipped.Contains(name))
            {
                result.Add(name, tensor.detach());
            }
        }
        return result;
    }

    /// <summary>
    /// Every parameter and persistent buffer of <paramref name="module"/> under its full dotted name, including each
    /// name of a tensor registered in several places (tied weights). The tensors are the module's own; do not dispose them.
    /// </summary>
    public static IReadOnlyList<(string Name, Tensor Tensor)> NamedStateTensors(nn.Module module)
    {
        ArgumentNullException.ThrowIfNull(module);
        var result = new List<(string Name, Tensor Tensor)>();
        AddOwn(module, "", result);
        foreach (var (path, child) in module.named_modules())
        {
            AddOwn(child, path + ".", result);
        }
        return result;
    }

    /// <summary>
    /// Identifies the memory a tensor occupies, so that tied weights are recognised under every name. TorchSharp hands
    /// out a new managed wrapper (with a new handle) for the same native tensor in some places (e.g. the
    /// <c>Embedding.weight</c> getter), so reference or handle equality misses ties; the address of the first element
    /// plus shape and dtype does not. Falls back to the handle for tensors without a CPU address.
    /// </summary>
    private static unsafe (IntPtr Key, string Layout) Identity(Tensor tensor)
    {
        string layout = $"{tensor.dtype}{SafetensorsHeaderParser.FormatShape(tensor.shape)}";
        if (tensor.device_type != DeviceType.CPU || !tensor.is_contiguous() || tensor.numel() == 0)
        {
            return (tensor.Handle, "handle:" + layout);
        }
        using var noGrad = torch.no_grad();
        using var detached = tensor.detach();
        using var flat = detached.reshape(-1);
        using var first = flat.narrow(0, 0, 1);
        fixed (byte* address = first.bytes)
        {
            return ((IntPtr)address, layout);
        }
    }

    private static void AddOwn(nn.Module module, string prefix, List<(string Name, Tensor Tensor)> result)
    {
        foreach (var (name, parameter) in module.named_parameters(recurse: false))
        {
            result.Add((prefix + name, parameter));
        }
        // TorchSharp 0.107 never lists non-persistent buffers here (whatever include_nonpersistent says); ask for
        // persistent ones explicitly so a future fix keeps this correct.
        foreach (var (name, buffer) in module.named_buffers(recurse: false, include_nonpersistent: false))
        {
            result.Add((prefix + name, buffer));
        }
    }
}
