using HybridSharp.Config;
using HybridSharp.Data;
using HybridSharp.Models;
using HybridSharp.Recipes;
using HybridSharp.Tasks;
using Xunit;

namespace HybridSharp.Tests.Recipes;

[Collection("Torch")]
public sealed class QuickstartRecipeTests
{
    private static readonly QuickstartOptions Small = new() { Problems = 600, EvalProblems = 48 };

    [Fact]
    public void SimpleProblemsKeepEveryCountBelowFifty()
    {
        foreach (var p in new ArithmeticGenerator(3, ArithmeticSettings.Simple).Generate(3000, 1, 3))
        {
            Assert.InRange(p.Start, 2, 15);
            foreach (var s in p.Steps)
            {
                Assert.InRange(s.Result, 1, 49);
                Assert.Equal(s.Operation.Apply(s.Left, s.Right), s.Result);
                if (s.Operation is ArithmeticOperation.Add or ArithmeticOperation.Subtract) Assert.InRange(s.Right, 1, 10); // 10 only where 9 would undo the step before
            }
        }
    }

    [Fact]
    public void PlainWordingNamesEachFactorWithAWord()
    {
        var problems = new ArithmeticGenerator(4, ArithmeticSettings.Simple).Generate(2000, 1, 3);
        foreach (var p in problems)
        {
            Assert.StartsWith($"{p.Story.Name} has {p.Start} ", p.Question);
            Assert.EndsWith(". How many now?", p.Question);
            Assert.DoesNotContain("times as", p.Question);
            Assert.DoesNotContain("equal bags", p.Question);
        }
        var words = problems.SelectMany(p => p.Steps).GroupBy(s => s.Operation)
            .ToDictionary(g => g.Key, g => g.Select(s => s.Wording.Present.Split(' ')[0]).ToHashSet());
        Assert.Equal(["buys", "finds"], words[ArithmeticOperation.Add].Order());
        Assert.Equal(["gives", "loses"], words[ArithmeticOperation.Subtract].Order());
        Assert.Equal(["doubles", "triples"], words[ArithmeticOperation.Multiply].Order());
        Assert.Equal(["keeps"], words[ArithmeticOperation.Divide].Order());
        // The varied wording of the reasoning datasets is another matter.
        Assert.Contains(new ArithmeticGenerator(4).Generate(300, 1, 3), p => p.Question.Contains("times as") || p.Question.Contains("equal bags"));
    }

    [Fact]
    public void StandardRangesAreTheDefaultAndUnchanged()
    {
        var a = new ArithmeticGenerator(11).Generate(50, 1, 4);
        var b = new ArithmeticGenerator(11, ArithmeticSettings.Standard).Generate(50, 1, 4);
        Assert.Equal(a.Select(p => p.Question), b.Select(p => p.Question));
        Assert.Contains(a, p => p.Steps.Any(s => s.Result > 99)); // the standard ranges do reach past two digits
    }

    [Fact]
    public void BadRangesAreRefusedWithOneLine()
    {
        var e = Assert.Throws<ArgumentException>(() => new ArithmeticGenerator(1, ArithmeticSettings.Simple with { MaxMultiplicand = 30 }));
        Assert.Contains("exceeds the max value", e.Message);
    }

    [Fact]
    public void DataIsDeterministicAndNeverTrainsOnAHeldOutQuestion()
    {
        var tok = new ByteTokenizer();
        var (train1, val1, problems) = QuickstartData.Build(Small, tok);
        var (train2, _, _) = QuickstartData.Build(Small, tok);
        Assert.Equal(600, train1.Count);
        Assert.NotEmpty(val1);
        Assert.Equal(train1.Select(e => string.Join(',', e.Ids)), train2.Select(e => string.Join(',', e.Ids)));
        // Training on the held-out set's own seed draws its problems first: every one of them must be skipped.
        var sameSeed = Small with { Seed = QuickstartData.HeldOutSeed };
        var heldOut = QuickstartData.HeldOut(sameSeed).Select(p => p.Question).ToHashSet();
        var (_, _, drawn) = QuickstartData.Build(sameSeed, tok);
        Assert.Equal(600, drawn.Count);
        Assert.DoesNotContain(drawn, p => heldOut.Contains(p.Question));
        Assert.Contains(problems, p => p.Difficulty == 3);
    }

    [Fact]
    public void LossCoversTheSolutionAndEosOnly()
    {
        var tok = new ByteTokenizer();
        var problem = new ArithmeticGenerator(5, ArithmeticSettings.Simple).Generate(2);
        var example = QuickstartData.Encode(problem, tok, solutionLossOnly: true);
        var trained = example.Ids.Where((_, i) => example.InLoss[i]).ToArray();
        Assert.Equal(tok.EosId, trained[^1]);
        Assert.Equal(ArithmeticFormat.Completion(problem, SolutionStyle.Concise), tok.Decode(trained[..^1]));
        Assert.Equal(tok.BosId, example.Ids[0]);
        Assert.Equal(ArithmeticFormat.Prompt(problem), tok.Decode(example.Ids[1..(example.Length - trained.Length)]));

        var all = QuickstartData.Encode(problem, tok, solutionLossOnly: false);
        Assert.Equal(all.Length - 1, all.LossTokens);
    }

    [Fact]
    public void HeldOutSetIsFixedAndSpansTheLevels()
    {
        var a = QuickstartData.HeldOut(Small);
        Assert.Equal(48, a.Count);
        Assert.Equal(a.Select(p => p.Question), QuickstartData.HeldOut(Small).Select(p => p.Question));
        Assert.Equal([1, 2, 3], a.Select(p => p.Difficulty).Distinct().Order());
    }

    [Fact]
    public void InvalidOptionsAreRefused()
    {
        Assert.Throws<ArgumentException>(() => new QuickstartRecipe(Small with { Steps = 0 }));
        Assert.Throws<ArgumentException>(() => new QuickstartRecipe(Small with { MaxDifficulty = 11 }));
        Assert.Throws<ArgumentException>(() => new QuickstartRecipe(Small with { Problems = 3 }));
    }

    [Fact]
    public void EqualSizeTransformerIsAllAttentionWithinTwoPercentOfTheHybrid()
    {
        var hybrid = Presets.Get(new QuickstartOptions().Preset);
        var baseline = QuickstartRecipe.EqualSizeTransformer(hybrid);
        Assert.All(baseline.LayerTypes!, t => Assert.Equal(MixerTypes.Attention, t));
        Assert.Equal(hybrid.HiddenSize, baseline.HiddenSize);
        Assert.Equal(hybrid.NumHiddenLayers, baseline.NumHiddenLayers);
        Assert.Contains(hybrid.LayerTypes!, t => t == MixerTypes.Ssd);
        using var h = new CausalLM(hybrid, seed: 0);
        using var t = new CausalLM(baseline, seed: 0);
        Assert.InRange(t.ParameterCount(), h.ParameterCount() * 0.98, h.ParameterCount() * 1.02);
    }

    [Fact]
    public void EqualSizeTransformerOfAnMoeHybridIsAPlainTransformer()
    {
        var moe = Presets.Get("wonderful-matrices-tiny");
        var baseline = QuickstartRecipe.EqualSizeTransformer(moe);
        Assert.All(baseline.LayerTypes!, t => Assert.Equal(MixerTypes.Attention, t));
        Assert.Null(baseline.MlpTypes);
        Assert.Null(baseline.Moe);
        Assert.Null(baseline.Dma);
        Assert.Null(baseline.Ssd);
        baseline.Validate();
        using var h = new CausalLM(moe, seed: 0);
        using var t = new CausalLM(baseline, seed: 0);
        Assert.InRange(t.ParameterCount(), h.ParameterCount() * 0.98, h.ParameterCount() * 1.02);
    }

    [Fact]
    public void ABaselineStoppedByItsTimeResumesWithTheStepCountItStartedWith()
    {
        using var tmp = new TempDir();
        var recipe = new QuickstartRecipe(Small with { Problems = 200, EvalProblems = 0 });
        var data = recipe.BuildData();
        var config = Presets.Get("transformer-tiny");
        var (m1, r1, steps1) = recipe.TrainForWallTime(config, data, tmp["b"], TimeSpan.FromSeconds(0.5));
        m1.Dispose();
        Assert.True(r1.FinalStep < steps1, $"half a second should stop before step {steps1} (stopped at {r1.FinalStep})");
        var (m2, r2, steps2) = recipe.TrainForWallTime(config, data, tmp["b"], TimeSpan.FromSeconds(0.5));
        m2.Dispose();
        Assert.Equal(steps1, steps2);
        Assert.True(r2.FinalStep > r1.FinalStep, $"resumed run ended at {r2.FinalStep}, first at {r1.FinalStep}");
    }
}
