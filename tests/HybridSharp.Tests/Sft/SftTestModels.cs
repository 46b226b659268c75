using HybridSharp.Chat;
using HybridSharp.Config;
using HybridSharp.Data;
using HybridSharp.Sft;
using HybridSharp.Tests.HfInterop;
using HybridSharp.Tests.Models;

namespace HybridSharp.Tests.Sft;

/// <summary>Tiny byte-tokenizer models and chat examples for the SFT tests.</summary>
internal static class SftTestModels
{
    public static ModelConfig Attention()
    {
        var cfg = TinyModels.Transformer();
        cfg.VocabSize = HfTestUtil.Vocab;
        return cfg;
    }

    /// <summary>SSD (conv, gate, chunk 4) + attention: exercises SSD state with padded batches.</summary>
    public static ModelConfig Hybrid()
    {
        var cfg = Presets.Get("transxssm-tiny");
        cfg.Preset = null;
        cfg.VocabSize = HfTestUtil.Vocab;
        cfg.NumHiddenLayers = 2;
        cfg.LayerTypes = [MixerTypes.Ssd, MixerTypes.Attention];
        cfg.MlpTypes = null;
        cfg.HiddenSize = 32; cfg.IntermediateSize = 48; cfg.NumAttentionHeads = 2; cfg.NumKeyValueHeads = 1; cfg.HeadDimOverride = 16;
        cfg.Ssd = new SsdConfig { Expand = 2, HeadDim = 16, StateSize = 16, NGroups = 2, ConvKernel = 4, Gated = true, UseD = true, ChunkSize = 4, Rope = true };
        cfg.Validate();
        return cfg;
    }

    public static ModelConfig Doge() => HfTestUtil.Doge(moe: false);

    public static Conversation Conversation(string user, string assistant, string? system = null) =>
        new(system is null
            ? [ChatMessage.FromUser(user), ChatMessage.FromAssistant(assistant)]
            : [ChatMessage.FromSystem(system), ChatMessage.FromUser(user), ChatMessage.FromAssistant(assistant)]);

    /// <summary>The byte tokenizer's built-in ChatML template.</summary>
    public static ChatTemplate ChatMl => ChatTemplate.For(new ByteTokenizer());

    public static SftEncoder Encoder(SftLoss loss = SftLoss.Assistant, int maxLength = 512) =>
        new(new ByteTokenizer(), ChatMl, loss, maxLength);
}
