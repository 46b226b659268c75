using System.Text;

namespace HybridSharp.IO.Safetensors;

/// <summary>A tensor whose checkpoint shape differs from the module's.</summary>
/// <param name="Name">Tensor name.</param>
/// <param name="Expected">Shape in the module.</param>
/// <param name="Found">Shape in the checkpoint.</param>
public sealed record ShapeMismatch(string Name, IReadOnlyList<long> Expected, IReadOnlyList<long> Found)
{
    /// <inheritdoc />
    public override string ToString() =>
        $"{Name} expected {SafetensorsHeaderParser.FormatShape(Expected)} found {SafetensorsHeaderParser.FormatShape(Found)}";
}

/// <summary>
/// Thrown when a checkpoint does not fit a module. Lists every problem at once: missing names, unexpected names and
/// shape mismatches, one line per category (long lists truncated with a count).
/// </summary>
public sealed class CheckpointMismatchException : Exception
{
    /// <summary>Creates the exception from the collected problems.</summary>
    public CheckpointMismatchException(IReadOnlyList<string> missing, IReadOnlyList<string> unexpected, IReadOnlyList<ShapeMismatch> shapeMismatches)
        : base(BuildMessage(missing, unexpected, shapeMismatches))
    {
        Missing = missing;
        Unexpected = unexpected;
        ShapeMismatches = shapeMismatches;
    }

    /// <summary>Module tensors absent from the checkpoint.</summary>
    public IReadOnlyList<string> Missing { get; }

    /// <summary>Checkpoint tensors the module does not have.</summary>
    public IReadOnlyList<string> Unexpected { get; }

    /// <summary>Tensors present on both sides with different shapes.</summary>
    public IReadOnlyList<ShapeMismatch> ShapeMismatches { get; }

    private static string BuildMessage(IReadOnlyList<string> missing, IReadOnlyList<string> unexpected, IReadOnlyList<ShapeMismatch> shapes)
    {
        var message = new StringBuilder()
            .Append("Checkpoint does not match the module: ")
            .Append($"{missing.Count} missing, {unexpected.Count} unexpected, {shapes.Count} with the wrong shape.");
        if (missing.Count > 0)
        {
            message.Append($"\n  missing ({missing.Count}): {NameList.Format(missing)}");
        }
        if (unexpected.Count > 0)
        {
            message.Append($"\n  unexpected ({unexpected.Count}): {NameList.Format(unexpected)}");
        }
        if (shapes.Count > 0)
        {
            message.Append($"\n  wrong shape ({shapes.Count}): {NameList.Format(shapes.Select(s => s.ToString()).ToList())}");
        }
        return message.ToString();
    }
}
