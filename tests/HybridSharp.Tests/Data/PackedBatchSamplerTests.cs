using HybridSharp.Data.Corpus;
using Xunit;

namespace HybridSharp.Tests.Data;

public sealed class PackedBatchSamplerTests : IDisposable
{
    private const int TokenCount = 1000, SeqLen = 16, BatchSize = 4;
    private const long Blocks = (TokenCount - 1) / SeqLen; // 62: an epoch ends in the middle of batch 16

    private readonly CorpusTestDirectory _tmp = new();
    private readonly TokenShard _shard;

    public PackedBatchSamplerTests()
    {
        // Token i has id i, so a target must always be its input + 1.
        TokenShardWriter.WriteAll(_tmp.File("seq.bin"), 70_000, Enumerable.Range(0, TokenCount).ToArray());
        _shard = TokenShard.Open(_tmp.File("seq.bin"));
    }

    public void Dispose()
    {
        _shard.Dispose();
        _tmp.Dispose();
    }

    private PackedBatchSampler Sampler(long seed = 42, int batchSize = BatchSize) => new(_shard, SeqLen, batchSize, seed);

    private static List<long[]> Take(PackedBatchSampler sampler, int batches) =>
        Enumerable.Range(0, batches).Select(_ => sampler.NextBatch().Inputs).ToList();

    [Theory]
    [InlineData(16, 16, 0)]
    [InlineData(17, 16, 1)]
    [InlineData(32, 16, 1)]
    [InlineData(33, 16, 2)]
    [InlineData(1000, 16, 62)]
    public void BlockCountKeepsWholeWindows(long tokens, int seqLen, long blocks) =>
        Assert.Equal(blocks, PackedBatchSampler.BlockCountFor(tokens, seqLen));

    [Fact]
    public void SameSeedGivesSameBatches()
    {
        Assert.Equal(Blocks, Sampler().BlockCount);
        Assert.Equal(Take(Sampler(), 40), Take(Sampler(), 40));
        Assert.NotEqual(Take(Sampler(1), 10), Take(Sampler(2), 10));
    }

    [Fact]
    public void TargetsAreInputsShiftedByOne()
    {
        var sampler = Sampler();
        for (int b = 0; b < 20; b++)
        {
            var batch = sampler.NextBatch();
            Assert.Equal(BatchSize, batch.BatchSize);
            Assert.Equal(SeqLen, batch.SeqLen);
            Assert.Equal(BatchSize * SeqLen, batch.Inputs.Length);
            Assert.Equal(batch.Inputs.Select(t => t + 1), batch.Targets);
            for (int row = 0; row < BatchSize; row++)
            {
                long start = batch.WindowStarts[row];
                Assert.Equal(0, start % SeqLen);
                Assert.True(start + SeqLen + 1 <= TokenCount);
                Assert.Equal(start, batch.Inputs[row * SeqLen]);
            }
        }
    }

    [Fact]
    public void EachEpochVisitsEveryBlockOnceInNewOrder()
    {
        var sampler = Sampler(batchSize: 1);
        long[] Epoch() => Enumerable.Range(0, (int)Blocks).Select(_ => sampler.NextBatch().WindowStarts[0]).ToArray();

        var first = Epoch();
        Assert.Equal(new SamplerState(42, 0, Blocks), sampler.State);
        var second = Epoch();
        var all = Enumerable.Range(0, (int)Blocks).Select(i => (long)i * SeqLen);
        Assert.Equal(all, first.Order());
        Assert.Equal(all, second.Order());
        Assert.NotEqual(first, second);
        Assert.NotEqual(all, first);
    }

    [Theory]
    [InlineData(3)]  // mid-epoch; the continuation crosses into epoch 1 and 2
    [InlineData(15)] // just before the batch that straddles the epoch boundary
    [InlineData(16)] // just after it
    [InlineData(31)] // exactly at the end of epoch 1 (Index == BlockCount)
    public void RestoredSamplerContinuesIdentically(int batchesBeforeSave)
    {
        var original = Sampler(seed: 99);
        Take(original, batchesBeforeSave);
        var saved = SamplerState.FromJson(original.State.ToJson());
        Assert.Equal(original.State, saved);
        var expected = Take(original, 40);

        var resumed = Sampler(seed: 5); // seed comes from the saved state
        resumed.Restore(saved);
        Assert.Equal(expected, Take(resumed, 40));
        Assert.Equal(original.State, resumed.State);
    }

    [Fact]
    public void StateTracksEpochAndIndex()
    {
        var sampler = Sampler(seed: 7);
        Assert.Equal(new SamplerState(7, 0, 0), sampler.State);
        Take(sampler, 15);
        Assert.Equal(new SamplerState(7, 0, 60), sampler.State);
        Take(sampler, 1);
        Assert.Equal(new SamplerState(7, 1, 2), sampler.State);
    }

    [Fact]
    public void BufferOverloadMatchesAllocatingOverload()
    {
        var a = Sampler();
        var b = Sampler();
        var inputs = new long[BatchSize * SeqLen];
        var targets = new long[BatchSize * SeqLen];
        for (int i = 0; i < 20; i++)
        {
            var batch = a.NextBatch();
            b.NextBatch(inputs, targets);
            Assert.Equal(batch.Inputs, inputs);
            Assert.Equal(batch.Targets, targets);
        }
        Assert.Throws<ArgumentException>(() => b.NextBatch(new long[3], new long[3]));
    }

    [Fact]
    public void RestoreRejectsImpossiblePositions()
    {
        var sampler = Sampler();
        Assert.Throws<ArgumentOutOfRangeException>(() => sampler.Restore(new SamplerState(1, 0, Blocks + 1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => sampler.Restore(new SamplerState(1, -1, 0)));
    }

    [Fact]
    public void ShardTooShortForOneWindowIsRejected()
    {
        TokenShardWriter.WriteAll(_tmp.File("short.bin"), 261, [1, 2, 3]);
        using var shard = TokenShard.Open(_tmp.File("short.bin"));
        var ex = Assert.Throws<ArgumentException>(() => new PackedBatchSampler(shard, 3, 1, 0));
        Assert.Contains("short.bin", ex.Message);
    }

    [Fact]
    public void SequentialBatchesWalkTheShardInOrder()
    {
        var batches = PackedBatchSampler.Sequential(_shard, SeqLen, 25).ToList();
        Assert.Equal([25, 25, 12], batches.Select(b => b.BatchSize));
        Assert.Equal(Enumerable.Range(0, (int)Blocks).Select(i => (long)i * SeqLen), batches.SelectMany(b => b.WindowStarts));
        Assert.All(batches, b => Assert.Equal(b.Inputs.Select(t => t + 1), b.Targets));
        Assert.Equal(12 * SeqLen, batches[2].Inputs.Length);
        Assert.Single(PackedBatchSampler.Sequential(_shard, SeqLen, 25, maxBatches: 1));
    }

    [Fact]
    public void DatasetEvalBatchesUseValidationShard()
    {
        var docs = Enumerable.Range(0, 40).Select(i => new string((char)('a' + i % 26), 30)).ToArray();
        var dir = _tmp.File("ds");
        new CorpusBuilder(new HybridSharp.Data.ByteTokenizer(), new CorpusBuilderOptions { ValidationFraction = 0.3, Seed = 11 })
            .AddDocuments(docs).Build(dir);

        using var ds = TokenDataset.Open(dir);
        var eval = ds.EvalBatches(seqLen: 8, batchSize: 2, maxBatches: 3).ToList();
        Assert.Equal(3, eval.Count);
        var expected = ds.Validation.ReadTokens(0, 8 * 2 + 1);
        Assert.Equal(expected[..8].Select(t => (long)t), eval[0].Inputs[..8]);
        Assert.Equal(expected[1..9].Select(t => (long)t), eval[0].Targets[..8]);
        Assert.Equal(expected[8..16].Select(t => (long)t), eval[0].Inputs[8..16]);

        var sampler = ds.CreateTrainSampler(seqLen: 8, batchSize: 2, seed: 1);
        Assert.Equal(PackedBatchSampler.BlockCountFor(ds.Train.Count, 8), sampler.BlockCount);
    }
}
