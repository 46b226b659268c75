using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using HybridSharp.Tests.Cli;
using Xunit;

namespace HybridSharp.Tests.Serve;

/// <summary>The real `hybrid serve` process: user mistakes, startup on a free port, auth, and a clean Ctrl-C.</summary>
[Collection("Torch")]
public sealed class ServeCliTests
{
    [Fact]
    public void UserMistakesAreOneLineErrors()
    {
        using var tmp = new TempDir();
        var (c1, _, e1) = HybridProcess.Run("serve", "--model", tmp["missing"]);
        HybridProcess.AssertOneLineError(c1, e1, "model directory not found");
        var (c0, _, e0) = HybridProcess.Run("init", tmp["m"], "--preset", "transformer-tiny");
        Assert.True(c0 == 0, e0);
        var (c2, _, e2) = HybridProcess.Run("serve", "--model", tmp["m"], "--dtype", "fp16");
        HybridProcess.AssertOneLineError(c2, e2, "--dtype");
        var (c3, _, e3) = HybridProcess.Run("serve", "--model", tmp["m"], "--max-batch", "0");
        HybridProcess.AssertOneLineError(c3, e3, "--max-batch");
        var (c4, _, e4) = HybridProcess.Run("serve", "--model", tmp["m"], "--host", "not-an-ip");
        HybridProcess.AssertOneLineError(c4, e4, "--host");
    }

    /// <summary>SIGINT (Ctrl-C) and SIGTERM (docker stop, Kubernetes, systemd) both drain and stop the server cleanly.</summary>
    [Theory]
    [InlineData("INT")]
    [InlineData("TERM")]
    public async Task ServesOnAFreePortRequiresTheKeyAndStopsOnASignal(string signal)
    {
        using var tmp = new TempDir();
        var (c0, _, e0) = HybridProcess.Run("init", tmp["m"], "--preset", "transformer-tiny");
        Assert.True(c0 == 0, e0);
        var dll = Environment.GetEnvironmentVariable("HYBRID_CLI_DLL") ?? Path.Combine(AppContext.BaseDirectory, "hybrid.dll");
        // A test host started from a background job inherits SIGINT as ignored, and a child inherits that in turn, so
        // a Ctrl-C would never reach it; `env --default-signal=INT` gives the server the disposition a terminal gives it.
        var psi = new ProcessStartInfo("env") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "--default-signal=INT", "dotnet", dll, "serve", "--model", tmp["m"], "--port", "0", "--max-tokens", "8" }) psi.ArgumentList.Add(a);
        psi.Environment["HYBRID_THREADS"] = "1";
        psi.Environment["HYBRID_API_KEY"] = "sesame";
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync(); // drained, so a full pipe can never block the server's exit
        try
        {
            string? line;
            Match? url = null;
            var started = DateTime.UtcNow;
            while ((line = await process.StandardError.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60))) is not null)
            {
                url = Regex.Match(line, @"at (http://127\.0\.0\.1:\d+/)v1");
                if (url.Success) break;
            }
            Assert.True(url is { Success: true }, "no 'serving … at' line");
            var stderrRest = process.StandardError.ReadToEndAsync();
            using var http = new HttpClient { BaseAddress = new Uri(url.Groups[1].Value) };
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("health")).StatusCode); // health needs no key
            var denied = await http.GetAsync("v1/models");
            Assert.Equal(HttpStatusCode.Unauthorized, denied.StatusCode);
            ServerFixture.AssertErrorShape(await denied.Content.ReadAsStringAsync());
            http.DefaultRequestHeaders.Authorization = new("Bearer", "sesame");
            var reply = await http.PostAsync("v1/chat/completions", ServerFixture.Json("""{"model":"m","messages":[{"role":"user","content":"Hi"}],"max_tokens":100}"""));
            Assert.Equal(HttpStatusCode.OK, reply.StatusCode);
            using var doc = JsonDocument.Parse(await reply.Content.ReadAsStringAsync());
            Assert.InRange(doc.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32(), 0, 8); // capped by --max-tokens

            using (var kill = Process.Start("kill", [$"-{signal}", process.Id.ToString()])) kill.WaitForExit();
            if (!process.WaitForExit(60_000))
            {
                process.Kill(true);
                Assert.Fail($"hybrid serve did not stop within 60 s of SIG{signal}; stderr: " + await stderrRest + " stdout: " + await stdout);
            }
            Assert.Equal(0, process.ExitCode);
            var rest = await stderrRest;
            Assert.Contains("stopped: 1 completed", rest);
            Assert.DoesNotContain("   at ", rest);
        }
        finally
        {
            if (!process.HasExited) process.Kill(true);
        }
    }
}
