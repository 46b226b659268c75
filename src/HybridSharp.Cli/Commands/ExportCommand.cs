using System.CommandLine;
using HybridSharp.Checkpoints.Gguf;
using HybridSharp.Checkpoints.HfInterop;
using Spectre.Console;

namespace HybridSharp.Cli.Commands;

internal static class ExportCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("model-dir") { Description = "HybridSharp model directory" };
        var target = new Argument<string>("target") { Description = "directory to write (hf: Hugging Face transformers layout) or file (gguf: e.g. model.gguf)" };
        var format = Cli.Opt("--format", $"output format: {string.Join(", ", HfExporter.Formats)} or gguf", "hf", "-f");
        var dtype = Cli.Opt("--dtype", $"weight type: float32 or bfloat16 (hf); {string.Join(", ", GgufExporter.Types)} (gguf; default f32)", "float32");
        var force = Cli.Opt("--force", "overwrite an existing model directory", false);
        var cmd = new Command("export",
            "Write a model for Hugging Face transformers (Doge stacks as DogeForCausalLM, plain transformers as LlamaForCausalLM, Mamba-2 stacks as Mamba2ForCausalLM) or, with --format gguf, plain transformers and Mamba-2 stacks as one GGUF file for llama.cpp, LLamaSharp and Ollama.")
            { model, target, format, dtype, force };
        cmd.SetAction(pr => Cli.Guard(() =>
        {
            if (pr.GetValue(format) == "gguf")
            {
                var type = pr.GetValue(dtype) is "float32" ? "f32" : pr.GetValue(dtype)!;
                var g = GgufExporter.Export(pr.GetValue(model)!, pr.GetValue(target)!, type, pr.GetValue(force));
                AnsiConsole.MarkupLine($"Exported [green]{Markup.Escape(g.Path)}[/]: GGUF, architecture {g.Architecture}, {g.TensorCount} tensors, {g.Type}, {g.Bytes:N0} bytes.");
                return 0;
            }
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
