using System.CommandLine;
using HybridSharp.Checkpoints.HfInterop;
using Spectre.Console;

namespace HybridSharp.Cli.Commands;

internal static class ExportCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("model-dir") { Description = "HybridSharp model directory" };
        var target = new Argument<string>("target-dir") { Description = "directory to write (Hugging Face transformers layout)" };
        var format = Cli.Opt("--format", $"output format ({string.Join(", ", HfExporter.Formats)})", "hf", "-f");
        var dtype = Cli.Opt("--dtype", "weight dtype: float32 or bfloat16", "float32");
        var force = Cli.Opt("--force", "overwrite an existing model directory", false);
        var cmd = new Command("export",
            "Write a model for Hugging Face transformers: Doge stacks as DogeForCausalLM, plain transformers as LlamaForCausalLM, Mamba-2 stacks as Mamba2ForCausalLM.")
            { model, target, format, dtype, force };
        cmd.SetAction(pr => Cli.Guard(() =>
        {
            var r = HfExporter.Export(pr.GetValue(model)!, pr.GetValue(target)!, pr.GetValue(format)!,
                new HfExportOptions { Dtype = pr.GetValue(dtype)!, Overwrite = pr.GetValue(force) });
            AnsiConsole.MarkupLine($"Exported [green]{Markup.Escape(pr.GetValue(target)!)}[/]: {Markup.Escape(r.Architecture)} (model_type {Markup.Escape(r.ModelType)}), " +
                $"{r.TensorCount} tensors, {Markup.Escape(r.Dtype)}.");
            foreach (var note in r.Notes) AnsiConsole.MarkupLine($"[yellow]note:[/] {Markup.Escape(note)}");
            return 0;
        }));
        return cmd;
    }
}
