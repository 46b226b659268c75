using HybridSharp.Data.Corpus;
using HybridSharp.Models;
using static TorchSharp.torch;

namespace HybridSharp.Training;

/// <summary>The pre-training source: shuffled packed windows of a token dataset, validation windows in order.</summary>
internal sealed class TokenDatasetBatchSource(TokenDataset data, TrainerOptions options) : ITrainingBatchSource
{
    private readonly PackedBatchSampler _sampler = data.CreateTrainSampler(options.SeqLen, options.BatchSize, options.Seed);

    public TokenBatch NextBatch() => _sampler.NextBatch();

    public SamplerState State => _sampler.State;

    public void Restore(SamplerState state) => _sampler.Restore(state);

    public IEnumerable<TokenBatch> EvaluationBatches(int maxBatches)
    {
        var source = data.Validation.Count >= options.SeqLen + 1 ? data.Validation : data.Train;
        return PackedBatchSampler.Sequential(source, options.SeqLen, options.BatchSize, maxBatches);
    }

    public Tensor Loss(CausalLM model, TokenBatch batch)
    {
        using var scope = NewDisposeScope();
        var x = tensor(batch.Inputs, [batch.BatchSize, batch.SeqLen]);
        var y = tensor(batch.Targets, [batch.BatchSize, batch.SeqLen]);
        return model.Loss(x, y).MoveToOuterDisposeScope();
    }

    public long TokenCount(TokenBatch batch) => (long)batch.BatchSize * batch.SeqLen;
}
