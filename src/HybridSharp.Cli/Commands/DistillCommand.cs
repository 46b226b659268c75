using System.CommandLine;
using HybridSharp.Cli.Commands.Distill;

namespace HybridSharp.Cli.Commands;

/// <summary>
/// <c>hybrid distill</c>: difficulty-aware CoT distillation against an OpenAI-compatible teacher.
/// Subcommands: <c>run</c> (generate, validate, export, report; resumable), <c>export</c>, <c>stats</c>,
/// <c>prompts</c> (copy the built-in templates for editing), <c>teacher-sim</c> (local scripted teacher) and
/// <c>bench</c> (throughput against the local teacher).
/// </summary>
internal static class DistillCommand
{
    public static Command Create()
    {
        var cmd = new Command("distill", "Difficulty-aware chain-of-thought distillation (LiteCoT-style) against an OpenAI-compatible teacher.");
        cmd.Subcommands.Add(DistillRunCommand.Create());
        cmd.Subcommands.Add(DistillFilesCommands.Export());
        cmd.Subcommands.Add(DistillFilesCommands.Stats());
        cmd.Subcommands.Add(DistillFilesCommands.Merge());
        cmd.Subcommands.Add(DistillFilesCommands.Prompts());
        cmd.Subcommands.Add(TeacherSimCommands.TeacherSim());
        cmd.Subcommands.Add(TeacherSimCommands.Bench());
        return cmd;
    }
}
