using System.CommandLine;
using HybridSharp.Distill;

namespace HybridSharp.Cli.Commands.Distill;

/// <summary><c>hybrid distill export</c>, <c>stats</c> and <c>prompts</c>: work on a run's folder or the built-in prompts.</summary>
internal static class DistillFilesCommands
{
    private static (DistillStore Store, List<DistillRow> Rows) OpenRows(string dir)
    {
        if (!File.Exists(Path.Combine(dir, DistillRun.DatabaseFile)))
            throw new FileNotFoundException($"'{dir}' holds no {DistillRun.DatabaseFile}; run 'hybrid distill run --out {dir}' first");
        return DistillRun.OpenRows(dir);
    }

    public static Command Export()
    {
        var dir = new Argument<string>("dir") { Description = $"output folder of 'hybrid distill run' (holds {DistillRun.DatabaseFile})" };
        var to = Cli.OptNoDefault<string?>("--to", "write the exports here instead of <dir>");
        var export = new ExportFlags();
        var cmd = new Command("export", "Rewrite the exports (sft.jsonl, sft.parquet, sharegpt.jsonl + dataset_info.json, full.jsonl, rejected.jsonl) from the last run's rows.") { dir, to };
        foreach (var o in export.All) cmd.Options.Add(o);
        cmd.SetAction(pr => Cli.Guard(torch: false, body: () =>
        {
            var (store, rows) = OpenRows(pr.GetValue(dir)!);
            using (store)
            {
                var result = DistillExporter.Export(rows, pr.GetValue(to) ?? pr.GetValue(dir)!, export.Build(pr));
                foreach (var w in result.Warnings) Console.WriteLine($"note: {w}");
                Console.WriteLine($"Exported {result.Rows:N0} accepted rows: {string.Join(", ", result.Files.Select(Path.GetFileName))}");
            }
            return 0;
        }));
        return cmd;
    }

    public static Command Merge()
    {
        var output = new Argument<string>("out") { Description = "folder for the merged exports and report" };
        var dirs = new Argument<string[]>("dirs") { Description = $"output folders of 'hybrid distill run --shard' (each holds {DistillRun.DatabaseFile})", Arity = ArgumentArity.OneOrMore };
        var export = new ExportFlags();
        var report = new ReportOptions();
        var cmd = new Command("merge", "Merge the rows of sharded runs (one folder per shard) into one set of exports and one report.") { output, dirs };
        foreach (var o in export.All.Concat(report.All)) cmd.Options.Add(o);
        cmd.SetAction(pr => Cli.Guard(torch: false, body: () =>
        {
            var rows = DistillRun.MergeRows(pr.GetValue(dirs)!);
            var outputs = DistillRun.WriteOutputs(rows, pr.GetValue(output)!, export.Build(pr), report.CreateTokenizer(pr),
                pr.GetValue(report.Tokenizer)!, pr.GetValue(report.PriceIn), pr.GetValue(report.PriceOut));
            foreach (var w in outputs.Export.Warnings) Console.WriteLine($"note: {w}");
            Console.WriteLine($"Merged {rows.Count:N0} rows from {pr.GetValue(dirs)!.Length} folders: {outputs.Export.Rows:N0} accepted rows in " +
                string.Join(", ", outputs.Export.Files.Select(Path.GetFileName)) + $"; report in {pr.GetValue(output)}");
            return 0;
        }));
        return cmd;
    }

    public static Command Stats()
    {
        var dir = new Argument<string>("dir") { Description = $"output folder of 'hybrid distill run' (holds {DistillRun.DatabaseFile})" };
        var report = new ReportOptions();
        var cmd = new Command("stats", "Statistics of the last run: counts, rejection reasons, token lengths per difficulty, compression, cost; writes report.md and PNG histograms.") { dir };
        foreach (var o in report.All) cmd.Options.Add(o);
        cmd.SetAction(pr => Cli.Guard(torch: false, body: () =>
        {
            var (store, rows) = OpenRows(pr.GetValue(dir)!);
            using (store)
            {
                var stats = DistillStatistics.Compute(rows, report.CreateTokenizer(pr), pr.GetValue(report.Tokenizer)!, pr.GetValue(report.PriceIn), pr.GetValue(report.PriceOut));
                var files = DistillReport.Write(stats, pr.GetValue(dir)!);
                Console.WriteLine(File.ReadAllText(files[0]));
            }
            return 0;
        }));
        return cmd;
    }

    public static Command Prompts()
    {
        var dir = new Argument<string>("dir") { Description = "folder to write the built-in templates into" };
        var cmd = new Command("prompts", $"Write the built-in prompt templates ({PromptSet.BuiltInVersion}) to a folder; edit them and pass --prompt-dir.") { dir };
        cmd.SetAction(pr => Cli.Guard(torch: false, body: () =>
        {
            PromptSet.BuiltIn().WriteTo(pr.GetValue(dir)!);
            Console.WriteLine($"Wrote {string.Join(", ", PromptSet.FileNames)} to {pr.GetValue(dir)}");
            return 0;
        }));
        return cmd;
    }
}
