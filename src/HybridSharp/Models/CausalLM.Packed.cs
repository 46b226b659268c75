using HybridSharp.Config;
using HybridSharp.Modules;
using static TorchSharp.torch;

namespace HybridSharp.Models;

// Packed sequences: several examples share one row and must not see each other. Attention and DMA layers get a
// block-diagonal causal mask and positions restart at 0 in each example; state-space layers (SSD, Mamba-1, their
// convs) run each example from a zero state (PackedExamples: gather into a right-padded batch, scatter back). A mixer
// whose registry entry says it cannot keep examples apart makes the model refuse packed rows.
public sealed partial class CausalLM
{
    /// <summary>True when every mixer can keep packed examples apart (<see cref="MixerKind.SupportsPacking"/>; all built-in mixers do).</summary>
    public bool SupportsPacking => MixerRegistry.SupportsPacking(Config);

    /// <summary>
    /// Final hidden states [B, T, d] of packed rows. <paramref name="documentIds"/> [B, T] (int64) labels which example each
    /// token belongs to; consecutive equal ids form one example. A token attends only to earlier tokens of its own example,
    /// and its rotary position counts from that example's first token.
    /// </summary>
    public Tensor ForwardHiddenPacked(Tensor inputIds, Tensor documentIds, MoeRoutingCollector? routing = null)
    {
        if (!SupportsPacking)
            throw new NotSupportedException("packed sequences need mixers that keep examples apart (MixerKind.SupportsPacking)");
        using var scope = NewDisposeScope();
        long b = inputIds.shape[0], t = inputIds.shape[1];
        var device = inputIds.device;
        var docs = documentIds.to(ScalarType.Int64, device);
        var idx = arange(t, dtype: ScalarType.Int64, device: device).unsqueeze(0).expand(b, t);
        // Start of each token's example: the running maximum of indices where the id changes.
        var starts = docs.narrow(1, 1, t - 1).ne(docs.narrow(1, 0, t - 1));
        var isStart = cat([ones(b, 1, dtype: ScalarType.Bool, device: device), starts], 1);
        var (startIndex, _) = where(isStart, idx, zeros_like(idx)).cummax(1);
        var positions = idx.sub(startIndex);

        var causal = ones(t, t, dtype: ScalarType.Bool, device: device).tril();
        var same = docs.unsqueeze(2).eq(docs.unsqueeze(1));                    // [B, T, T]
        using var mask = KeyMask.FromBool(same.logical_and(causal.unsqueeze(0)).unsqueeze(1).MoveToOuterDisposeScope());

        var h = model.embed_tokens.forward(inputIds);
        var inputs = Inputs(positions, h.dtype, lognBound: t - 1, mask, cache: null, attentionMask: null, documentIds: docs);
        foreach (var layer in model.layers) h = layer.Forward(h, inputs, routing);
        h = model.norm.forward(h);
        return h.MoveToOuterDisposeScope();
    }

    /// <summary>Logits [B, T, V] (fp32) of packed rows; see <see cref="ForwardHiddenPacked"/>.</summary>
    public Tensor ForwardPacked(Tensor inputIds, Tensor documentIds)
    {
        using var scope = NewDisposeScope();
        return Head(ForwardHiddenPacked(inputIds, documentIds)).MoveToOuterDisposeScope();
    }

    /// <summary>Mean next-token cross-entropy of packed rows (targets −100 = ignored), plus the MoE auxiliary loss in training.</summary>
    public Tensor LossPacked(Tensor inputIds, Tensor targets, Tensor documentIds)
    {
        using var scope = NewDisposeScope();
        double coef = Config.Moe?.RouterAuxLossCoef ?? 0;
        using var routing = training && coef > 0 && model.layers.Any(l => l.Moe is not null) ? new MoeRoutingCollector() : null;
        var logits = Head(ForwardHiddenPacked(inputIds, documentIds, routing));
        var loss = nn.functional.cross_entropy(logits.view(-1, logits.shape[^1]), targets.view(-1), ignore_index: -100);
        if (routing is { Count: > 0 }) loss = loss.add(routing.AuxLoss().mul(coef));
        return loss.MoveToOuterDisposeScope();
    }
}
