using HybridSharp.Cli;
using HybridSharp.Cli.Commands;

return Cli.Run(CliCommands.Build(), args);
