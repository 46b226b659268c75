using HybridSharp.Chat;
using HybridSharp.Data;
using HybridSharp.Models;
using HybridSharp.Sft;
using Xunit;
using static TorchSharp.torch;

namespace HybridSharp.Tests.Sft;

[Collection("Torch")]
public class SftLossMaskTests
{
    [Fact]
    public void AssistantLossCoversExactlyTheAssistantContentAndEndMarker()
    {
        var enc = SftTestModels.Encoder();
        var conv = SftTestModels.Conversation("What is 2+3?", "2+3=5 \\boxed{5}", system: "Be brief.");
        var e = enc.Encode(conv)!;
        var tok = new ByteTokenizer();
        Assert.Equal(tok.BosId, e.Ids[0]);
        Assert.Equal(SftTestModels.ChatMl.Render(conv.Messages, false), tok.Decode(e.Ids));
        var trained = tok.Decode(e.Ids.Where((_, i) => e.InLoss[i]));
        Assert.Equal("2+3=5 \\boxed{5}<|im_end|>", trained);

        var all = SftTestModels.Encoder(SftLoss.All).Encode(conv)!;
        Assert.Equal(e.Ids, all.Ids);
        Assert.Equal(all.Length - 1, all.LossTokens);
    }

    [Fact]
    public void SystemPromptOverrideReplacesTheDataSystemMessage()
    {
        var enc = new SftEncoder(new ByteTokenizer(), SftTestModels.ChatMl, systemPrompt: "NEW");
        var e = enc.Encode(SftTestModels.Conversation("q", "a", system: "OLD"))!;
        var text = new ByteTokenizer().Decode(e.Ids.Skip(1));
        Assert.StartsWith("<|im_start|>system\nNEW<|im_end|>", text);
        Assert.DoesNotContain("OLD", text);
    }

    [Fact]
    public void TruncationKeepsThePrefixAndDropsExamplesWithoutAssistantTokens()
    {
        var conv = SftTestModels.Conversation(new string('u', 40), "answer");
        Assert.Null(SftTestModels.Encoder(maxLength: 30).Encode(conv));
        // BOS + "<|im_start|>user\n" + 40 × u + "<|im_end|>\n<|im_start|>assistant\n" is 60 tokens; 4 more are assistant tokens.
        var cut = SftTestModels.Encoder(maxLength: 64).Encode(conv)!;
        Assert.Equal(64, cut.Length);
        Assert.Equal(4, cut.LossTokens);
        Assert.True(cut.LossTokens > 0);
    }

    [Fact]
    public void OnlyAssistantPositionsContributeToLossAndGradient()
    {
        using var model = new CausalLM(SftTestModels.Attention(), seed: 5);
        var enc = SftTestModels.Encoder();
        var e = enc.Encode(SftTestModels.Conversation("Add 4 and 9.", "4+9=13 \\boxed{13}"))!;
        var source = new SftBatchSource([e], [], batchSize: 1, seed: 1, padId: new ByteTokenizer().PadId);
        var batch = source.NextBatch();
        using var scope = NewDisposeScope();

        // The source's loss equals the mean NLL over the assistant targets, computed independently from full logits.
        double sourceLoss = source.Loss(model, batch).item<float>();
        var x = tensor(e.Ids[..^1].Select(i => (long)i).ToArray(), [1, e.Length - 1]);
        var logp = model.Forward(x).log_softmax(-1)[0];
        double sum = 0;
        int n = 0;
        for (int t = 0; t < e.Length - 1; t++)
        {
            if (!e.InLoss[t + 1]) continue;
            sum -= logp[t, e.Ids[t + 1]].item<float>();
            n++;
        }
        Assert.Equal(sum / n, sourceLoss, 4);

        // The gradient with respect to the logits at non-assistant positions is exactly zero, so whatever token follows
        // there (a user or system token) cannot change the loss or the update.
        var logits = model.Forward(x).detach().requires_grad_(true);
        var y = tensor(batch.Targets, [1, batch.SeqLen]);
        var loss = nn.functional.cross_entropy(logits.view(-1, logits.shape[^1]), y.view(-1), ignore_index: -100);
        loss.backward();
        var grad = logits.grad!.abs().sum([-1])[0];
        for (int t = 0; t < e.Length - 1; t++)
        {
            double g = grad[t].item<float>();
            if (e.InLoss[t + 1]) Assert.True(g > 0, $"position {t} is an assistant target but has no gradient");
            else Assert.Equal(0.0, g);
        }
        var allTargets = SftTestModels.Encoder(SftLoss.All).Encode(SftTestModels.Conversation("Add 4 and 9.", "4+9=13 \\boxed{13}"))!;
        var allSource = new SftBatchSource([allTargets], [], 1, 1, new ByteTokenizer().PadId);
        Assert.NotEqual(sourceLoss, allSource.Loss(model, allSource.NextBatch()).item<float>(), 3);
    }
}
