using System.CommandLine;
using HybridSharp.Eval.Mqar;
using Spectre.Console;

namespace HybridSharp.Cli.Commands;

/// <summary>
/// <c>hybrid report</c>: one markdown page with the project's results — MQAR results folders (table and chart) and
/// training run folders (final metrics and loss plot) — linked relative to the page.
/// </summary>
internal static class ReportCommand
{
    public static Command Create()
    {
        var output = Cli.Opt("--out", "the markdown page to write", "report.md", "-o");
        var mqar = new Option<string[]>("--mqar")
        {
            Description = "MQAR results folder(s) (default: results/mqar when it exists)",
            AllowMultipleArgumentsPerToken = true,
        };
        var runs = new Option<string[]>("--run")
        {
            Description = "training run / model folder(s) with metrics.jsonl and loss.png",
            AllowMultipleArgumentsPerToken = true,
        };
        var benchmarks = Cli.Opt("--benchmarks", "benchmarks page to link (skipped when missing)", "BENCHMARKS.md");
        var cmd = new Command("report", "Collect MQAR results and training runs into one markdown page (report.md) with the plots linked.")
            { output, mqar, runs, benchmarks };
        cmd.SetAction(pr => Cli.Guard(() =>
        {
            var mqarDirs = pr.GetValue(mqar) is { Length: > 0 } m ? m.ToList() : [];
            var defaultMqar = Path.Combine("results", "mqar");
            if (mqarDirs.Count == 0 && Directory.Exists(defaultMqar)) mqarDirs.Add(defaultMqar);
            var runDirs = pr.GetValue(runs)?.ToList() ?? [];
            var path = pr.GetValue(output)!;
            ResultsReport.Write(path, mqarDirs, runDirs, pr.GetValue(benchmarks));
            AnsiConsole.MarkupLine($"Wrote [green]{Markup.Escape(path)}[/] ({mqarDirs.Count} MQAR folder(s), {runDirs.Count} run(s)).");
            return 0;
        }));
        return cmd;
    }
}
