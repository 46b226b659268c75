using System.CommandLine;
using HybridSharp.Config;
using HybridSharp.IO.Safetensors;
using Spectre.Console;
using TorchSharp;

namespace HybridSharp.Cli;

/// <summary>Shared CLI plumbing: parse errors and user mistakes become one clear line and a non-zero exit code.</summary>
internal static class Cli
{
    public const int ExitUserError = 2;
    public const int ExitFailure = 1;
    private static volatile int _interruptedExitCode = 130;

    /// <summary>
    /// The exit code of a job stopped by a signal, by convention 128 + the signal: 130 after SIGINT (Ctrl-C), 143 after
    /// SIGTERM (<c>docker stop</c>, Slurm preemption, Kubernetes, systemd).
    /// </summary>
    public static int ExitInterrupted => _interruptedExitCode;

    /// <summary>The flag of <see cref="HybridSharp.Checkpoints.ModelDirectory.AllowNonFiniteWeights"/>, on every command.</summary>
    public const string AllowNonFiniteFlag = "--allow-nonfinite";

    public static int Run(RootCommand root, string[] args)
    {
        // A mistyped command gets a suggestion rather than System.CommandLine's "Required command was not provided".
        if (args.Length > 0 && !args[0].StartsWith('-') && root.Subcommands.All(c => c.Name != args[0] && !c.Aliases.Contains(args[0])))
        {
            var best = root.Subcommands.Select(c => (c.Name, Score: FuzzySharp.Fuzz.Ratio(args[0], c.Name))).MaxBy(x => x.Score);
            Error($"unknown command '{args[0]}'" + (best.Score >= 60 ? $" — did you mean '{best.Name}'?" : "") + " (see 'hybrid --help')");
            return ExitUserError;
        }
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            var cmd = parse.CommandResult.Command;
            var name = cmd == root ? "hybrid" : "hybrid " + cmd.Name;
            Error($"{parse.Errors[0].Message} (see '{name} --help')");
            return ExitUserError;
        }
        HybridSharp.Checkpoints.ModelDirectory.AllowNonFiniteWeights = parse.GetValue<bool>(AllowNonFiniteFlag);
        return parse.Invoke();
    }

    /// <summary>Runs a command body; maps user mistakes to a one-line error. <paramref name="torch"/>: configure libtorch first.</summary>
    public static int Guard(Func<int> body, bool torch = true)
    {
        try
        {
            if (torch) ConfigureTorch();
            return body();
        }
        catch (Exception ex) when (IsUserError(ex))
        {
            Error(ex is ArgumentException { ParamName: { } param } ? ex.Message.Replace($" (Parameter '{param}')", "") : ex.Message);
            return ExitUserError;
        }
        catch (Exception ex)
        {
            var first = ex.Message.Split('\n')[0];
            int frame = first.IndexOf(" (most recent call first)", StringComparison.Ordinal);
            if (frame < 0) frame = first.IndexOf(" Exception raised from", StringComparison.Ordinal);
            Error($"{ex.GetType().Name}: {(frame > 0 ? first[..frame] : first)}");
            if (Environment.GetEnvironmentVariable("HYBRID_DEBUG") == "1") Console.Error.WriteLine(ex);
            else Console.Error.WriteLine("  (set HYBRID_DEBUG=1 to see the stack trace)");
            return ExitFailure;
        }
    }

    private static bool IsUserError(Exception ex) => ex is ConfigException or ArgumentException or FileNotFoundException
        or DirectoryNotFoundException or InvalidDataException or SafetensorsFormatException or CheckpointMismatchException
        or UnauthorizedAccessException or FormatException or HybridSharp.Jinja.TemplateException;

    /// <summary>Prints "error: …" as one line, with library option names shown as this program's flags (<see cref="OptionFlags"/>).</summary>
    public static void Error(string message)
    {
        var line = OptionFlags.Rewrite(message).Replace('\n', ' ').Trim();
        Console.Error.WriteLine($"error: {line}");
    }

    private static bool _torchConfigured;

    /// <summary>
    /// Heap-only native allocator (<see cref="HybridSharp.Runtime.NativeAllocator"/>) and intra-op threads = cores (or
    /// HYBRID_THREADS), set once per process before any tensor work.
    /// </summary>
    public static void ConfigureTorch()
    {
        if (_torchConfigured) return;
        _torchConfigured = true;
        HybridSharp.Runtime.NativeAllocator.Configure();
        int threads = int.TryParse(Environment.GetEnvironmentVariable("HYBRID_THREADS"), out var t) && t > 0 ? t : Environment.ProcessorCount;
        torch.set_num_threads(threads);
        try { torch.set_num_interop_threads(threads); } catch (Exception) { /* may only be set once per process */ }
    }

    /// <summary>Installs a Ctrl-C handler that requests a clean stop instead of killing the process.</summary>
    /// <summary>
    /// Turns the first SIGINT (Ctrl-C) or SIGTERM into a cancellation, so the job saves what it has (a checkpoint, the
    /// finished rows) and exits with <see cref="ExitInterrupted"/>; a second signal terminates at once.
    /// </summary>
    public static StopSignal CancelOnStopSignal(string what) => new(signal =>
    {
        _interruptedExitCode = signal == System.Runtime.InteropServices.PosixSignal.SIGTERM ? 143 : 130;
        AnsiConsole.MarkupLine($"[yellow]{(signal == System.Runtime.InteropServices.PosixSignal.SIGTERM ? "Terminated" : "Interrupted")}: {Markup.Escape(what)}…[/]");
    });

    public static Option<T> Opt<T>(string name, string description, T defaultValue, params string[] aliases) =>
        new(name, aliases) { Description = description, DefaultValueFactory = _ => defaultValue };

    public static Option<T> OptNoDefault<T>(string name, string description, params string[] aliases) =>
        new(name, aliases) { Description = description };

    /// <summary>--dtype of the inference commands: how the weight matrices are held (fp32, bf16 or int8; activations stay fp32).</summary>
    public static Option<string> WeightFormatOpt() =>
        Opt("--dtype", "weights for inference: fp32, bf16 or int8 (int8 in groups of 32; activations stay fp32; see docs/inference-kernels.md)", "fp32");

    /// <summary>The --dtype value as a weight format; an unknown one is an error naming the flag and the choices.</summary>
    public static HybridSharp.Kernels.WeightFormat ParseWeightFormat(string dtype)
    {
        try { return HybridSharp.Kernels.WeightFormats.Parse(dtype); }
        catch (ArgumentException e) { throw new ArgumentException($"--dtype: {e.Message}"); }
    }

    /// <summary>Loads a model directory and packs its weights as <paramref name="dtype"/> says (one error line for an unknown format).</summary>
    public static (HybridSharp.Models.CausalLM Model, HybridSharp.Data.ITokenizer Tokenizer) LoadForInference(string directory, string dtype)
    {
        var format = ParseWeightFormat(dtype);
        var (model, tokenizer) = HybridSharp.Checkpoints.ModelDirectory.Load(directory);
        try { model.PackWeights(format); }
        catch { model.Dispose(); throw; }
        return (model, tokenizer);
    }
}
