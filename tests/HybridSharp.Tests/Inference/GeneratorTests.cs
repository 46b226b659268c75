using HybridSharp.Data;
using HybridSharp.Inference;
using HybridSharp.Models;
using HybridSharp.Tests.Models;
using Xunit;

namespace HybridSharp.Tests.Inference;

[Collection("Torch")]
public sealed class GeneratorTests
{
    private static (CausalLM, ByteTokenizer) Model()
    {
        var cfg = TinyModels.Transformer();
        cfg.VocabSize = 261;
        return (new CausalLM(cfg, seed: 3), new ByteTokenizer());
    }

    [Fact]
    public void BatchedPromptsOfDifferentLengthsMatchSingleGeneration()
    {
        var (model, tok) = Model();
        using var _ = model;
        var gen = new TextGenerator(model, tok);
        var options = new GenerationOptions { MaxNewTokens = 12, Sampling = SamplingOptions.Greedy, StopTokens = [] };
        var prompts = new[] { "a much longer prompt here", "hi" };
        var batched = gen.Generate(prompts, options);
        for (int i = 0; i < prompts.Length; i++)
        {
            var single = gen.Generate(prompts[i], options);
            Assert.Equal(single.TokenIds, batched[i].TokenIds);
            Assert.Equal(FinishReason.Length, batched[i].FinishReason);
            Assert.Equal(12, batched[i].GeneratedTokens);
        }
    }

    /// <summary>
    /// The one decode loop (prefill alone, batched steps, rows leaving mid-batch) gives every mixer's rows exactly what
    /// they get alone: prompts of different lengths, a row that stops early on a stop string, greedy and seeded sampling.
    /// </summary>
    [Theory]
    [InlineData("transxssm-tiny", 0.0)]
    [InlineData("doge-tiny", 0.0)]
    [InlineData("otce-tiny", 0.9)]
    [InlineData("transxssm-tiny", 0.8)]
    public void EveryMixerDecodesABatchAsItsRowsAlone(string preset, double temperature)
    {
        var cfg = HybridSharp.Config.Presets.Get(preset);
        using var model = new CausalLM(cfg, seed: 11);
        var tok = new ByteTokenizer();
        var gen = new TextGenerator(model, tok);
        var sampling = temperature == 0 ? SamplingOptions.Greedy : new SamplingOptions { Temperature = temperature, Seed = 5 };
        var prompts = new[] { "the longest prompt of the three", "short", "a middle one" };
        var free = new GenerationOptions { MaxNewTokens = 10, Sampling = sampling, StopTokens = [] };
        var alone0 = gen.Generate(prompts[0], free);
        // Row 0 stops at the first character it would write; the others run to the budget after it left.
        var stop = alone0.Text.Length > 0 ? alone0.Text[..1] : "\u0001";
        var options = free with { StopStrings = [stop] };
        var batched = gen.Generate(prompts, options);
        for (int i = 0; i < prompts.Length; i++)
        {
            var single = gen.Generate(prompts[i], options with { Sampling = sampling with { Seed = sampling.Seed + i } });
            Assert.Equal(single.TokenIds, batched[i].TokenIds);
            Assert.Equal(single.Text, batched[i].Text);
            Assert.Equal(single.FinishReason, batched[i].FinishReason);
        }
        Assert.Equal(FinishReason.Stop, batched[0].FinishReason);
    }

    [Fact]
    public void StopTokenEndsGenerationAndStreamingMatchesResult()
    {
        var (model, tok) = Model();
        using var _ = model;
        var gen = new TextGenerator(model, tok);
        var free = gen.Generate("xyz", new GenerationOptions { MaxNewTokens = 8, Sampling = SamplingOptions.Greedy, StopTokens = [] });
        int stopAt = free.TokenIds[3];
        var streamed = new System.Text.StringBuilder();
        var r = gen.Generate("xyz", new GenerationOptions { MaxNewTokens = 8, Sampling = SamplingOptions.Greedy, StopTokens = [stopAt] }, s => streamed.Append(s));
        Assert.Equal(FinishReason.Stop, r.FinishReason);
        Assert.Equal(free.TokenIds.TakeWhile(t => t != stopAt), r.TokenIds);
        Assert.Equal(r.Text, streamed.ToString());
    }

    [Fact]
    public void StopStringThatIsASpecialTokenStopsGeneration()
    {
        // The decoder drops special tokens from the text, so "<|im_end|>" must stop as a token id. Rig the head so
        // the first greedy token is <|im_end|>: every row zero except that token's, aligned with the prompt's last
        // hidden state.
        var cfg = TinyModels.Transformer();
        cfg.VocabSize = 261;
        cfg.TieWordEmbeddings = false;
        using var model = new CausalLM(cfg, seed: 3);
        var tok = new ByteTokenizer();
        var ids = new[] { tok.BosId }.Concat(tok.Encode("xyz")).ToArray();
        using (TorchSharp.torch.no_grad())
        {
            using var input = TorchSharp.torch.tensor(ids.Select(i => (long)i).ToArray()).unsqueeze(0);
            using var hidden = model.ForwardHidden(input);
            using var last = hidden[0, -1];
            var w = model.LmHeadWeight;
            w.zero_();
            w[tok.ImEndId].copy_(last.mul(10.0 / last.dot(last).item<float>()));
        }
        var gen = new TextGenerator(model, tok);
        var r = gen.Generate("xyz", new GenerationOptions { MaxNewTokens = 8, Sampling = SamplingOptions.Greedy, StopStrings = ["<|im_end|>"] });
        Assert.Equal(FinishReason.Stop, r.FinishReason);
        Assert.Equal("", r.Text);
        Assert.True(r.GeneratedTokens <= 1);

        // Also on top of explicit stop tokens (what ReasoningEvaluator passes with a chat template's stop strings).
        var withIds = gen.Generate("xyz", new GenerationOptions
        {
            MaxNewTokens = 8, Sampling = SamplingOptions.Greedy, StopTokens = [7], StopStrings = ["\n\nUser:", "<|im_end|>"],
        });
        Assert.Equal(FinishReason.Stop, withIds.FinishReason);
        Assert.True(withIds.GeneratedTokens <= 1);
        // Without the special stop string the rigged model runs to its budget: the stop above came from the mapping.
        var free = gen.Generate("xyz", new GenerationOptions { MaxNewTokens = 8, Sampling = SamplingOptions.Greedy, StopTokens = [7] });
        Assert.Equal(FinishReason.Length, free.FinishReason);
    }
}
