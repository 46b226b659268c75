namespace HybridSharp.Sft;

/// <summary>Which tokens of a conversation carry the SFT loss.</summary>
public enum SftLoss
{
    /// <summary>Assistant content and its end-of-turn marker only (the default).</summary>
    Assistant,
    /// <summary>Every token: system, user and assistant turns and role headers (TRL ≤ 0.16 / LiteCoT parity).</summary>
    All,
}
