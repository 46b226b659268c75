namespace HybridSharp.Data.Corpus;

/// <summary>
/// A batch of training windows as flat row-major <c>[BatchSize, SeqLen]</c> int64 arrays (the index type TorchSharp's
/// embedding and cross-entropy expect). <c>Targets[r, t] == Inputs[r, t + 1]</c> within each window's token stream.
/// </summary>
/// <param name="Inputs">Input ids, <c>BatchSize * SeqLen</c> values.</param>
/// <param name="Targets">Next-token targets, <c>BatchSize * SeqLen</c> values.</param>
/// <param name="BatchSize">Rows in this batch (the last evaluation batch may be smaller than requested).</param>
/// <param name="SeqLen">Tokens per row.</param>
public sealed record TokenBatch(long[] Inputs, long[] Targets, int BatchSize, int SeqLen)
{
    /// <summary>Token start position of each row in the shard it was read from.</summary>
    public long[] WindowStarts { get; init; } = [];
}
