namespace HybridSharp.Kernels;

/// <summary>
/// How the matrices of a model are stored for inference. Activations, norms, biases and recurrent states stay fp32 in
/// every format; only the large weight matrices (every linear layer and the LM head) change.
/// </summary>
public enum WeightFormat
{
    /// <summary>The trained fp32 weights, read in place.</summary>
    Float32,
    /// <summary>bfloat16 (round to nearest even): half the bytes, ≈ 3 significant digits.</summary>
    BFloat16,
    /// <summary>int8 in groups of 32 along each row, one fp32 scale per group (max |w| / 127): ≈ 0.28 of the bytes.</summary>
    Int8,
}

/// <summary>Names of <see cref="WeightFormat"/> on command lines and in APIs.</summary>
public static class WeightFormats
{
    /// <summary>The accepted names, in the order of the enum.</summary>
    public static IReadOnlyList<string> Names { get; } = ["fp32", "bf16", "int8"];

    /// <summary>Parses fp32 / float32, bf16 / bfloat16, int8 / q8 (case-insensitive); anything else is an error naming the choices.</summary>
    public static WeightFormat Parse(string value) => value.Trim().ToLowerInvariant() switch
    {
        "fp32" or "float32" or "f32" => WeightFormat.Float32,
        "bf16" or "bfloat16" => WeightFormat.BFloat16,
        "int8" or "q8" or "q8_0" => WeightFormat.Int8,
        _ => throw new ArgumentException($"unknown weight format '{value}' (choose {string.Join(", ", Names)})"),
    };

    public static string Name(this WeightFormat format) => Names[(int)format];
}
