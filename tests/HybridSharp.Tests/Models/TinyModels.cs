using HybridSharp.Config;

namespace HybridSharp.Tests.Models;

/// <summary>Tiny configurations that exercise edge cases (GQA, residual vectors, untied heads).</summary>
public static class TinyModels
{
    public static ModelConfig Transformer(bool gqa = true, bool tie = true, bool residualVectors = false, int layers = 2) => new()
    {
        VocabSize = 37,
        HiddenSize = 32,
        IntermediateSize = 48,
        NumHiddenLayers = layers,
        NumAttentionHeads = 4,
        NumKeyValueHeads = gqa ? 2 : 4,
        MaxPositionEmbeddings = 256,
        TieWordEmbeddings = tie,
        UseResidualVectors = residualVectors,
    };
}
