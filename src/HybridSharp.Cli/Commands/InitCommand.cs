using System.CommandLine;
using HybridSharp.Data.Tokenizers;
using HybridSharp.Config;
using HybridSharp.Data;
using HybridSharp.Models;
using Spectre.Console;
using HybridSharp.Checkpoints;

namespace HybridSharp.Cli.Commands;

internal static class InitCommand
{
    public static Command Create()
    {
        var dir = new Argument<string>("dir") { Description = "model directory to create" };
        var preset = Cli.Opt("--preset", $"preset name ({string.Join(", ", Presets.Names)})", "transformer-tiny", "-p");
        var config = Cli.OptNoDefault<string?>("--config", "start from this config.json instead of a preset");
        var seed = Cli.Opt("--seed", "initialisation seed", 1234L);
        var force = Cli.Opt("--force", "overwrite an existing model directory", false);
        var tokenizerKind = Cli.OptNoDefault<string?>("--tokenizer", "tokenizer kind: byte (default), hf (needs --tokenizer-dir) or tiktoken:<encoding>; sets vocab_size and special ids");
        var tokenizerDir = Cli.OptNoDefault<string?>("--tokenizer-dir", "folder holding tokenizer.json for --tokenizer hf");
        var cmd = new Command("init", "Create a model directory (config.json, initial weights, tokenizer, generation config).") { dir, preset, config, seed, force, tokenizerKind, tokenizerDir };
        cmd.SetAction(pr => Cli.Guard(() =>
        {
            var path = pr.GetValue(dir)!;
            if (ModelDirectory.IsModelDirectory(path) && !pr.GetValue(force))
                throw new ArgumentException($"{path} already holds a model (config.json); pass --force to overwrite");
            var cfgPath = pr.GetValue(config);
            var cfg = cfgPath is not null ? ModelConfig.Load(cfgPath) : Presets.Get(pr.GetValue(preset)!);
            var kind = pr.GetValue(tokenizerKind);
            if (kind is not null)
            {
                var chosen = TokenizerFactory.Create(kind, pr.GetValue(tokenizerDir));
                cfg.TokenizerKind = kind;
                cfg.VocabSize = chosen.VocabSize;
                cfg.BosTokenId = chosen.BosId;
                cfg.EosTokenId = [chosen.EosId];
                cfg.PadTokenId = chosen.PadId;
                cfg.Resolve();
            }
            var tokenizer = TokenizerFactory.Create(cfg.TokenizerKind, pr.GetValue(tokenizerDir));
            if (cfg.VocabSize < tokenizer.VocabSize)
                throw new ConfigException($"vocab_size {cfg.VocabSize} is smaller than the {cfg.TokenizerKind} tokenizer's {tokenizer.VocabSize}");
            using var model = new CausalLM(cfg, pr.GetValue(seed));
            ModelDirectory.Save(model, tokenizer, path);
            AnsiConsole.MarkupLine($"Created [green]{Markup.Escape(path)}[/]: {cfg.Preset ?? "custom"}, {model.ParameterCount():N0} parameters.");
            return 0;
        }));
        return cmd;
    }
}
