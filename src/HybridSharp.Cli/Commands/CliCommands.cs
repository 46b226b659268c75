using System.CommandLine;

namespace HybridSharp.Cli.Commands;

/// <summary>The <c>hybrid</c> command tree.</summary>
public static class CliCommands
{
    public static RootCommand Build()
    {
        var root = new RootCommand("hybrid — build, train, evaluate and run hybrid attention / state-space language models on CPU.");
        root.Options.Add(new Option<bool>(Cli.AllowNonFiniteFlag)
        {
            Description = "load model weights that hold NaN or ±∞ (to inspect a diverged run); refused by default", Recursive = true,
        });
        root.Subcommands.Add(QuickstartCommand.Create());
        root.Subcommands.Add(InitCommand.Create());
        root.Subcommands.Add(DataCommand.Create());
        root.Subcommands.Add(TrainCommand.Create());
        root.Subcommands.Add(GenerateCommand.Create());
        root.Subcommands.Add(ServeCommand.Create());
        root.Subcommands.Add(ScoreCommand.Create());
        root.Subcommands.Add(EvalCommand.Create());
        root.Subcommands.Add(InfoCommand.Create());
        root.Subcommands.Add(TokenizeCommand.Create());
        root.Subcommands.Add(ImportCommand.Create());
        root.Subcommands.Add(ExportCommand.Create());
        root.Subcommands.Add(MqarCommand.Create());
        root.Subcommands.Add(ReportCommand.Create());
        root.Subcommands.Add(DistillCommand.Create());
        root.Subcommands.Add(SftCommand.Create());
        root.Subcommands.Add(EvalReasoningCommand.Create());
        root.Subcommands.Add(ReasoningDataCommand.Create());
        root.Subcommands.Add(LiteCotMiniCommand.Create());
        return root;
    }
}
