namespace HybridSharp.IO.Safetensors;

/// <summary>
/// Thrown when a safetensors file (or a sharded checkpoint index) violates the byte format.
/// The message is one line: the file path followed by the problem.
/// </summary>
public sealed class SafetensorsFormatException : Exception
{
    /// <summary>Creates the exception for <paramref name="filePath"/> with a one-line <paramref name="problem"/> description.</summary>
    public SafetensorsFormatException(string filePath, string problem)
        : base(FormatMessage(filePath, problem))
    {
        FilePath = filePath;
        Problem = problem;
    }

    /// <summary>Creates the exception with the underlying cause (e.g. a JSON parse error).</summary>
    public SafetensorsFormatException(string filePath, string problem, Exception innerException)
        : base(FormatMessage(filePath, problem), innerException)
    {
        FilePath = filePath;
        Problem = problem;
    }

    /// <summary>The file that failed validation.</summary>
    public string FilePath { get; }

    /// <summary>The problem, without the file path.</summary>
    public string Problem { get; }

    private static string FormatMessage(string filePath, string problem) =>
        $"Invalid safetensors file '{filePath}': {problem}";
}
