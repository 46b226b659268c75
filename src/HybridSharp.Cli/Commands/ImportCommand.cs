using System.CommandLine;
using HybridSharp.Checkpoints.HfInterop;
using Spectre.Console;

namespace HybridSharp.Cli.Commands;

internal static class ImportCommand
{
    public static Command Create()
    {
        var source = new Argument<string>("source-dir") { Description = "Hugging Face model directory: config.json, model.safetensors (or shards + index), tokenizer files" };
        var target = new Argument<string>("target-dir") { Description = "HybridSharp model directory to create" };
        var force = Cli.Opt("--force", "overwrite an existing model directory", false);
        var cmd = new Command("import",
            $"Convert a Hugging Face checkpoint ({string.Join(", ", HfImporter.SupportedModelTypes)}) into a HybridSharp model directory.")
            { source, target, force };
        cmd.SetAction(pr => Cli.Guard(() =>
        {
            var r = HfImporter.Import(pr.GetValue(source)!, pr.GetValue(target)!, new HfImportOptions { Overwrite = pr.GetValue(force) });
            var layout = r.DmaLayout is null ? "" : $", DMA layout {r.DmaLayout}";
            var names = r.LegacyNames ? ", legacy names" : "";
            var shards = r.Sharded ? ", sharded" : "";
            AnsiConsole.MarkupLine($"Imported [green]{Markup.Escape(pr.GetValue(target)!)}[/]: {Markup.Escape(r.SourceModelType)} as {Markup.Escape(r.Architecture)}" +
                $"{Markup.Escape(layout + names + shards)}, tokenizer {Markup.Escape(r.TokenizerKind)}, {r.Parameters:N0} parameters.");
            foreach (var note in r.Notes) AnsiConsole.MarkupLine($"[yellow]note:[/] {Markup.Escape(note)}");
            return 0;
        }));
        return cmd;
    }
}
