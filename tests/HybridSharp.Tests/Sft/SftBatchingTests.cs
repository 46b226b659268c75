using HybridSharp.Config;
using HybridSharp.Models;
using HybridSharp.Sft;
using Xunit;
using static TorchSharp.torch;

namespace HybridSharp.Tests.Sft;

[Collection("Torch")]
public class SftBatchingTests
{
    private static List<SftExample> Examples(params (string User, string Assistant)[] pairs) =>
        pairs.Select(p => SftTestModels.Encoder().Encode(SftTestModels.Conversation(p.User, p.Assistant))!).ToList();

    private static Tensor Logits(CausalLM model, SftExample e)
    {
        var x = tensor(e.Ids[..^1].Select(i => (long)i).ToArray(), [1, e.Length - 1]);
        return model.Forward(x)[0];
    }

    public static TheoryData<string> Stacks => ["attention", "hybrid", "doge"];

    private static ModelConfig Config(string stack) => stack switch
    {
        "attention" => SftTestModels.Attention(),
        "hybrid" => SftTestModels.Hybrid(),
        _ => SftTestModels.Doge(),
    };

    [Theory]
    [MemberData(nameof(Stacks))]
    public void RightPaddingChangesNeitherLogitsNorLoss(string stack)
    {
        using var model = new CausalLM(Config(stack), seed: 3);
        model.eval();
        var examples = Examples(("Hi", "Hello! \\boxed{1}"), ("What is twelve plus nineteen, exactly?", "12+19=31, so \\boxed{31}"));
        var source = new SftBatchSource(examples, [], batchSize: 2, seed: 1, padId: 258);
        var batch = source.NextBatch();
        Assert.Equal(2, batch.BatchSize);
        int shortLen = examples.Min(e => e.Length) - 1;
        Assert.True(shortLen < batch.SeqLen, "the short example must be padded");
        using var scope = NewDisposeScope();
        using var _ = no_grad();

        // Logits of the padded short row equal its logits alone (row 0: batches are sorted by length).
        var padded = model.Forward(tensor(batch.Inputs, [2, batch.SeqLen]))[0].narrow(0, 0, shortLen);
        var alone = Logits(model, examples.OrderBy(e => e.Length).First());
        Assert.True(padded.allclose(alone, rtol: 1e-4, atol: 1e-5), $"{stack}: padding changed the logits (max diff {padded.sub(alone).abs().max().item<float>()})");

        // The batch loss is the token-weighted mean of the per-example losses.
        double batchLoss = source.Loss(model, batch).item<float>();
        double weighted = 0;
        int tokens = 0;
        foreach (var e in examples)
        {
            var one = new SftBatchSource([e], [], 1, 1, 258);
            weighted += one.Loss(model, one.NextBatch()).item<float>() * e.LossTokens;
            tokens += e.LossTokens;
        }
        Assert.Equal(weighted / tokens, batchLoss, 4);
    }

    [Theory]
    [InlineData("attention")]
    [InlineData("doge")]
    public void PackedExamplesDoNotSeeEachOther(string stack)
    {
        using var model = new CausalLM(Config(stack), seed: 4);
        model.eval();
        var examples = Examples(("First question here", "first answer \\boxed{7}"), ("Second one?", "second \\boxed{8}"), ("Third.", "third \\boxed{9}"));
        int rowLen = examples.Sum(e => e.Length - 1);
        var source = new SftBatchSource(examples, [], batchSize: 1, seed: 1, padId: 258, packing: true, seqLen: rowLen + 5);
        Assert.Equal(1, source.BatchesPerEpoch);
        var batch = source.NextBatch();
        var docs = source.DocumentIds(batch)!;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var packed = model.ForwardPacked(tensor(batch.Inputs, [1, batch.SeqLen]), tensor(docs, [1, batch.SeqLen]))[0];
        int offset = 0;
        foreach (var e in examples)
        {
            var alone = Logits(model, e);
            var inPack = packed.narrow(0, offset, e.Length - 1);
            Assert.True(inPack.allclose(alone, rtol: 1e-4, atol: 1e-5), $"{stack}: example at offset {offset} sees its neighbours (max diff {inPack.sub(alone).abs().max().item<float>()})");
            offset += e.Length - 1;
        }

        // The packed loss equals the token-weighted mean of the examples' own losses.
        double weighted = 0;
        int tokens = 0;
        foreach (var e in examples)
        {
            var one = new SftBatchSource([e], [], 1, 1, 258);
            weighted += one.Loss(model, one.NextBatch()).item<float>() * e.LossTokens;
            tokens += e.LossTokens;
        }
        Assert.Equal(weighted / tokens, source.Loss(model, batch).item<float>(), 4);
    }

    [Fact]
    public void PackedRowsOfAnSsdStackScoreEachExampleAlone()
    {
        using var model = new CausalLM(SftTestModels.Hybrid(), seed: 1);
        Assert.True(model.SupportsPacking);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var first = tensor(new long[] { 5, 9, 2, 7 }).unsqueeze(0);
        var second = tensor(new long[] { 3, 3, 8 }).unsqueeze(0);
        var packed = model.ForwardPacked(cat([first, second], 1), tensor(new long[] { 0, 0, 0, 0, 1, 1, 1 }).unsqueeze(0));
        Assert.True((packed.narrow(1, 0, 4) - model.Forward(first)).abs().max().item<float>() <= 1e-5);
        Assert.True((packed.narrow(1, 4, 3) - model.Forward(second)).abs().max().item<float>() <= 1e-5);
    }

    [Fact]
    public void LengthGroupingAndExactResume()
    {
        var rnd = new Random(7);
        var examples = Enumerable.Range(0, 23).Select(i => SftTestModels.Encoder().Encode(
            SftTestModels.Conversation(new string('q', rnd.Next(1, 40)), new string('a', rnd.Next(1, 40))))!).ToList();
        var a = new SftBatchSource(examples, [], batchSize: 4, seed: 9, padId: 0);
        Assert.Equal(6, a.BatchesPerEpoch);
        var batches = new List<HybridSharp.Data.Corpus.TokenBatch>();
        for (int i = 0; i < 9; i++) batches.Add(a.NextBatch()); // crosses into epoch 1
        var seen = batches.Select(x => x.Inputs).ToList();
        var b = new SftBatchSource(examples, [], batchSize: 4, seed: 9, padId: 0);
        for (int i = 0; i < 4; i++) b.NextBatch();
        var saved = b.State;
        var c = new SftBatchSource(examples, [], batchSize: 4, seed: 9, padId: 0);
        c.Restore(saved);
        for (int i = 4; i < 9; i++) Assert.Equal(seen[i], c.NextBatch().Inputs);

        // Epoch 0 visits every example exactly once (pad id 0 never occurs in text, so a row's real length is its
        // count of non-zero inputs); grouped batches keep padding small.
        var rowLengths = batches.Take(6).SelectMany(x => Enumerable.Range(0, x.BatchSize)
            .Select(r => x.Inputs.Skip(r * x.SeqLen).Take(x.SeqLen).Count(id => id != 0))).OrderBy(n => n);
        Assert.Equal(examples.Select(e => e.Length - 1).OrderBy(n => n), rowLengths);
        Assert.True(a.PaddingFraction is >= 0 and < 0.2, $"padding {a.PaddingFraction}");
    }
}
