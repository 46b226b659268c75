namespace HybridSharp.Distill;

/// <summary>What <see cref="DistillExporter"/> writes.</summary>
public sealed record ExportOptions
{
    /// <summary>System prompt placed in SFT exports: null = none; otherwise this text (see <see cref="UseGenerationPrompt"/>).</summary>
    public string? SftSystemPrompt { get; init; }
    /// <summary>Use each row's generation (DAP) system prompt as the SFT system prompt.</summary>
    public bool UseGenerationPrompt { get; init; }
    /// <summary>Dataset name in LLaMA-Factory's dataset_info.json.</summary>
    public string DatasetName { get; init; } = "distilled";
    public bool Parquet { get; init; } = true;
}
