using HybridSharp.Data.Corpus;
using HybridSharp.Models;
using static TorchSharp.torch;

namespace HybridSharp.Training;

/// <summary>
/// Where the <see cref="Trainer"/> gets its batches and how it turns a batch into a loss. The default source reads
/// packed windows from a <see cref="TokenDataset"/>; supervised fine-tuning plugs in a source of chat examples with
/// loss masks (targets −100 where no loss is taken). The position must be resumable through a <see cref="SamplerState"/>.
/// </summary>
public interface ITrainingBatchSource
{
    /// <summary>The next training batch; advances the position.</summary>
    TokenBatch NextBatch();

    /// <summary>The resumable position (saved with every checkpoint).</summary>
    SamplerState State { get; }

    /// <summary>Moves to a saved position.</summary>
    void Restore(SamplerState state);

    /// <summary>Validation batches, at most <paramref name="maxBatches"/>, in a fixed order.</summary>
    IEnumerable<TokenBatch> EvaluationBatches(int maxBatches);

    /// <summary>Mean loss of <paramref name="batch"/> under <paramref name="model"/> (a scalar tensor with grad in training).</summary>
    Tensor Loss(CausalLM model, TokenBatch batch);

    /// <summary>Tokens the batch holds for throughput accounting (padding excluded).</summary>
    long TokenCount(TokenBatch batch);
}
