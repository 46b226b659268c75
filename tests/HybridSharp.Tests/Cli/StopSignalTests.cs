using System.Diagnostics;
using HybridSharp.Training;
using Xunit;

namespace HybridSharp.Tests.Cli;

/// <summary>
/// SIGTERM — what docker stop, Slurm preemption, Kubernetes and systemd send — stops a training or fine-tuning run the way
/// Ctrl-C does: a checkpoint, exit code 143, and a resume that continues bit-exactly.
/// </summary>
public sealed class StopSignalTests
{
    [Fact]
    public async Task SigtermCheckpointsAndTheResumedRunEqualsAnUninterruptedOne()
    {
        using var tmp = new TempDir();
        // Two identical models (the same preset and init seed): one stopped by SIGTERM and resumed, one straight through.
        Assert.Equal(0, HybridProcess.Run("init", tmp["full"], "--preset", "transformer-tiny").Code);
        Assert.Equal(0, HybridProcess.Run("init", tmp["cut"], "--preset", "transformer-tiny").Code);
        Assert.Equal(0, HybridProcess.Run("data", tmp["d"], "--arithmetic", "600", "--max-difficulty", "2").Code);
        // A schedule far longer than the test runs, so the signal always lands mid-run; --stop-after ends the runs.
        string[] train = ["train", "--data", tmp["d"], "--steps", "100000", "--batch-size", "4", "--seq-len", "64",
            "--checkpoint-every", "100000", "--eval-every", "0", "--seed", "3"];

        await TerminateWhileRunning([.. train, "--model", tmp["cut"]], Path.Combine(tmp["cut"], Trainer.MetricsFileName));
        var stopped = Trainer.ReadCheckpointState(tmp["cut"]);
        Assert.NotNull(stopped);
        Assert.True(stopped.Step >= 10, $"stopped at step {stopped.Step}");

        var (resumed, _, resumedErr) = HybridProcess.Run([.. train, "--model", tmp["cut"], "--resume", "--stop-after", "25"]);
        Assert.True(resumed == 0, resumedErr);
        var (full, _, fullErr) = HybridProcess.Run([.. train, "--model", tmp["full"], "--stop-after", (stopped.Step + 25).ToString()]);
        Assert.True(full == 0, fullErr);
        var uninterrupted = MetricsLog.Read(Path.Combine(tmp["full"], Trainer.MetricsFileName)).Select(m => (m.Step, m.Loss)).ToList();
        var stoppedAndResumed = MetricsLog.Read(Path.Combine(tmp["cut"], Trainer.MetricsFileName)).Select(m => (m.Step, m.Loss)).ToList();
        Assert.True(uninterrupted.Count >= 3, $"{uninterrupted.Count} metrics lines");
        Assert.Equal(uninterrupted, stoppedAndResumed);   // bit-exact: every logged step's loss, before and after the stop
    }

    [Fact]
    public async Task SigtermStopsFineTuningWithACheckpointThatResumes()
    {
        using var tmp = new TempDir();
        Assert.Equal(0, HybridProcess.Run("init", tmp["m"], "--preset", "transformer-tiny").Code);
        File.WriteAllLines(tmp["chat.jsonl"], Enumerable.Range(0, 40).Select(i =>
            $$"""{"messages": [{"role": "user", "content": "{{i}}+1?"}, {"role": "assistant", "content": "{{i + 1}}"}]}"""));
        string[] sft = ["sft", "-m", tmp["m"], "-d", tmp["chat.jsonl"], "-o", tmp["out"], "--steps", "100000", "-b", "4",
            "--max-length", "48", "--eval-size", "0", "--eval-every", "0", "--checkpoint-every", "100000"];
        await TerminateWhileRunning(sft, Path.Combine(tmp["out"], Trainer.MetricsFileName));
        var stopped = Trainer.ReadCheckpointState(tmp["out"]);
        Assert.NotNull(stopped);
        var (code, output, err) = HybridProcess.Run([.. sft, "--resume", "--stop-after", "5"]);
        Assert.True(code == 0, output + err);
        Assert.Contains($"resumed from step {stopped.Step}", output);
        Assert.Equal(stopped.Step + 5, Trainer.ReadCheckpointState(tmp["out"])!.Step);
    }

    /// <summary>
    /// Starts <c>hybrid</c> with <paramref name="args"/>, sends SIGTERM once <paramref name="readyFile"/> exists (the run
    /// is under way: its first metrics line is written), and expects exit 143 with the stop message.
    /// </summary>
    private static async Task TerminateWhileRunning(string[] args, string readyFile)
    {
        var dll = Environment.GetEnvironmentVariable("HYBRID_CLI_DLL") ?? Path.Combine(AppContext.BaseDirectory, "hybrid.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in (string[])[dll, .. args]) psi.ArgumentList.Add(arg);
        psi.Environment["HYBRID_THREADS"] = "1";
        psi.Environment["NO_COLOR"] = "1";
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            var clock = Stopwatch.StartNew();
            while (!File.Exists(readyFile) && !process.HasExited && clock.Elapsed < TimeSpan.FromSeconds(120)) await Task.Delay(20);
            if (process.HasExited) Assert.Fail($"{args[0]} ended before the signal: exit {process.ExitCode}; {await stderr} {await stdout}");
            Assert.True(File.Exists(readyFile), $"{args[0]} wrote no metrics within 120 s");
            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString()])) kill.WaitForExit();
            Assert.True(process.WaitForExit(120_000), $"{args[0]} did not stop after SIGTERM");
            Assert.True(process.ExitCode == 143, $"exit {process.ExitCode}; {await stderr} {await stdout}");
            Assert.Contains("Terminated", await stdout);
        }
        finally
        {
            if (!process.HasExited) process.Kill(true);
        }
    }
}
