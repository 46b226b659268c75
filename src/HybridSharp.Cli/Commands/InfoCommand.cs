using System.CommandLine;
using HybridSharp.Config;
using HybridSharp.Models;
using Spectre.Console;
using HybridSharp.Checkpoints;

namespace HybridSharp.Cli.Commands;

internal static class InfoCommand
{
    public static Command Create()
    {
        var model = Cli.OptNoDefault<string?>("--model", "model directory", "-m");
        var preset = Cli.OptNoDefault<string?>("--preset", $"preset name ({string.Join(", ", Presets.Names)})", "-p");
        var context = Cli.Opt("--context", "context length for FLOPs per token", 2048);
        var cmd = new Command("info", "Parameters, layer pattern and FLOPs per token of a model directory or preset.") { model, preset, context };
        cmd.SetAction(pr => Cli.Guard(() =>
        {
            var dir = pr.GetValue(model);
            var name = pr.GetValue(preset);
            if ((dir is null) == (name is null)) throw new ArgumentException("give exactly one of --model or --preset");
            if (pr.GetValue(context) <= 0) throw new ArgumentException("--context must be positive");
            var cfg = dir is not null ? ModelConfig.Load(Path.Combine(dir, ModelDirectory.ConfigFile)) : Presets.Get(name!);
            var info = ModelInfo.For(cfg, pr.GetValue(context));
            AnsiConsole.MarkupLine($"[bold]{Markup.Escape(cfg.Preset ?? cfg.ModelType)}[/]: d {cfg.HiddenSize}, {cfg.NumHiddenLayers} layers, heads {cfg.NumAttentionHeads}/{cfg.NumKvHeads} × {cfg.HeadDim}, FFN {cfg.IntermediateSize}, vocab {cfg.VocabSize}, {(cfg.TieWordEmbeddings ? "tied" : "untied")} head, RoPE θ {cfg.RopeTheta:G}");
            Console.WriteLine($"layer pattern: {LayerPattern.Describe(info.Layers.Select(l => l.Mixer))}" +
                (cfg.Ssd is { } ssm ? $"; SSD: expand {ssm.Expand}, {ssm.NumHeads(cfg.HiddenSize)} heads × {ssm.HeadDim}, state {ssm.StateSize}, groups {ssm.NGroups}, conv {ssm.ConvKernel}, {(ssm.Gated ? "gated" : "no gate")}, {(ssm.Rope ? "RoPE on C/B (Unified RoPE)" : "no RoPE")}, chunk {ssm.ChunkSize}" : "") +
                (info.Layers.Any(l => l.Mixer == MixerTypes.Mamba1) && cfg.Mamba1 is { } m1
                    ? $"; Mamba-1: d_in {m1.InnerSize(cfg.HiddenSize)}, state {m1.StateSize}, dt rank {m1.Rank(cfg.HiddenSize)}, conv {m1.ConvKernel}, {(m1.Rope ? "RoPE on B/C" : "no RoPE")}, chunk {m1.ChunkSize}" : "") +
                (cfg.ExpresserLayers is { Count: > 0 } ex ? $"; Expresser tail on layer {string.Join(", ", ex)}" : ""));
            var table = new Table().AddColumn("layer").AddColumn("mixer").AddColumn("ffn").AddColumn(new TableColumn("params").RightAligned()).AddColumn(new TableColumn($"fwd FLOPs/token @ {info.Context}").RightAligned());
            foreach (var l in info.Layers)
                table.AddRow(l.Index.ToString(), l.Mixer, l.Ffn, l.Parameters.ToString("N0"), Human(l.ForwardFlopsPerToken));
            AnsiConsole.Write(table);
            Console.WriteLine($"parameters: {info.TotalParameters:N0} total, {info.NonEmbeddingParameters:N0} non-embedding (embedding {info.EmbeddingParameters:N0}{(info.HeadParameters > 0 ? $", head {info.HeadParameters:N0}" : ", head tied")})");
            Console.WriteLine($"forward FLOPs/token at context {info.Context}: {Human(info.ForwardFlopsPerToken)}; training FLOPs/token (6N + 12·L·H·P·T): {Human(info.TrainingFlopsPerToken)}");
            Console.WriteLine($"decode cache per sequence at context {info.Context}: {info.CacheBytesPerSequence / 1048576.0:F2} MiB (fp32)");
            return 0;
        }));
        return cmd;
    }

    public static string Human(double flops) => flops switch
    {
        >= 1e12 => $"{flops / 1e12:F2} T",
        >= 1e9 => $"{flops / 1e9:F2} G",
        >= 1e6 => $"{flops / 1e6:F2} M",
        >= 1e3 => $"{flops / 1e3:F2} k",
        _ => $"{flops:F0}",
    };
}
