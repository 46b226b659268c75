namespace HybridSharp.Sft;

/// <summary>
/// One tokenized conversation: <see cref="Ids"/> (BOS first when the encoder adds it) and, per token, whether predicting
/// that token is part of the loss. Inputs are <c>Ids[0..n−2]</c>, targets <c>Ids[1..n−1]</c>, masked by <c>InLoss[1..]</c>.
/// </summary>
public sealed record SftExample(int[] Ids, bool[] InLoss)
{
    public int Length => Ids.Length;

    /// <summary>Targets that count towards the loss.</summary>
    public int LossTokens => InLoss.Skip(1).Count(b => b);
}
