using System.Diagnostics;
using HybridSharp.Training;
using Xunit;

namespace HybridSharp.Tests.Cli;

/// <summary>
/// SIGTERM — what docker stop, Slurm preemption, Kubernetes and systemd send — stops a training run the way Ctrl-C does:
/// a checkpoint, exit code 143, and a resume that continues bit-exactly.
/// </summary>
public sealed class StopSignalTests
{
    [Fact]
    public async Task SigtermCheckpointsAndTheResumedRunEqualsAnUninterruptedOne()
    {
        using var tmp = new TempDir();
        // Two identical models (the same preset and init seed), trained in place: one straight through, one stopped.
        Assert.Equal(0, HybridProcess.Run("init", tmp["full"], "--preset", "transformer-tiny").Code);
        Assert.Equal(0, HybridProcess.Run("init", tmp["cut"], "--preset", "transformer-tiny").Code);
        Assert.Equal(0, HybridProcess.Run("data", tmp["d"], "--arithmetic", "600", "--max-difficulty", "2").Code);
        string[] train = ["train", "--data", tmp["d"], "--steps", "160", "--batch-size", "4", "--seq-len", "64",
            "--checkpoint-every", "1000", "--eval-every", "0", "--seed", "3"];

        var (full, _, fullErr) = HybridProcess.Run([.. train, "--model", tmp["full"]]);
        Assert.True(full == 0, fullErr);

        var dll = Environment.GetEnvironmentVariable("HYBRID_CLI_DLL") ?? Path.Combine(AppContext.BaseDirectory, "hybrid.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in (string[])[dll, .. train, "--model", tmp["cut"]]) psi.ArgumentList.Add(arg);
        psi.Environment["HYBRID_THREADS"] = "1";
        psi.Environment["NO_COLOR"] = "1";
        using var process = Process.Start(psi)!;
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            // Wait for the first progress line (the run is under way), then send SIGTERM.
            string? line;
            while ((line = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(120))) is not null)
                if (line.Contains("step ")) break;
            Assert.NotNull(line);
            var stdoutRest = process.StandardOutput.ReadToEndAsync();
            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString()])) kill.WaitForExit();
            Assert.True(process.WaitForExit(120_000), "train did not stop after SIGTERM");
            Assert.True(process.ExitCode == 143, $"exit {process.ExitCode}; {await stderr} {await stdoutRest}");
            Assert.Contains("Terminated", await stdoutRest);
        }
        finally
        {
            if (!process.HasExited) process.Kill(true);
        }
        var stopped = Trainer.ReadCheckpointState(tmp["cut"]);
        Assert.NotNull(stopped);
        Assert.InRange(stopped.Step, 1, 159);

        var (resumed, _, resumedErr) = HybridProcess.Run([.. train, "--model", tmp["cut"], "--resume"]);
        Assert.True(resumed == 0, resumedErr);
        var uninterrupted = MetricsLog.Read(Path.Combine(tmp["full"], Trainer.MetricsFileName)).Select(m => (m.Step, m.Loss)).ToList();
        var stoppedAndResumed = MetricsLog.Read(Path.Combine(tmp["cut"], Trainer.MetricsFileName)).Select(m => (m.Step, m.Loss)).ToList();
        Assert.Equal(uninterrupted, stoppedAndResumed);   // bit-exact: every step's loss, before and after the stop
    }
}
