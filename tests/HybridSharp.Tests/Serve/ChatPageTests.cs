using System.Diagnostics;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Xunit;

namespace HybridSharp.Tests.Serve;

/// <summary>
/// The chat page at <c>/</c> in a real browser: headless Chromium (Debian's <c>chromium</c>, installed by the test
/// setup) opens it with a question in the URL; the page streams the reply from /v1/chat/completions into the DOM, which
/// the test reads over the DevTools protocol once the page says it is done: exactly the reply the library generates.
/// </summary>
[Collection("Torch")]
public sealed partial class ChatPageTests(ServerFixture fx) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task ThePageStreamsAReplyIntoTheDom()
    {
        var page = await fx.Http.GetAsync("");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.StartsWith("text/html", page.Content.Headers.ContentType!.ToString());

        var chromium = new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser" }.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("chromium is not installed; tests/run.sh installs it (Debian's chromium package)");
        using var profile = new TempDir();
        var url = new Uri(fx.Server.BaseAddress, $"?q={Uri.EscapeDataString(ServerFixture.ChatPrompt)}&temperature=0&max_tokens={ServerFixture.ChatTokens}");
        var psi = new ProcessStartInfo(chromium) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                     $"--user-data-dir={profile.Path}", "--remote-debugging-port=0", url.ToString() })
            psi.ArgumentList.Add(a);
        using var browser = Process.Start(psi)!;
        try
        {
            // "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/…" tells the port.
            int port = 0;
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (port == 0 && DateTime.UtcNow < deadline && await browser.StandardError.ReadLineAsync() is { } line)
                if (DevToolsPort().Match(line) is { Success: true } m) port = int.Parse(m.Groups[1].Value);
            Assert.True(port > 0, "chromium did not open its DevTools port");
            _ = browser.StandardError.ReadToEndAsync();

            using var http = new HttpClient();
            string? socketUrl = null;
            while (socketUrl is null && DateTime.UtcNow < deadline)
            {
                var targets = JsonNode.Parse(await http.GetStringAsync($"http://127.0.0.1:{port}/json/list"))!.AsArray();
                socketUrl = targets.FirstOrDefault(t => (string?)t!["type"] == "page" && ((string?)t["url"])?.StartsWith(fx.Server.BaseAddress.ToString()) == true)?["webSocketDebuggerUrl"]?.GetValue<string>();
                if (socketUrl is null) await Task.Delay(100);
            }
            Assert.NotNull(socketUrl);
            using var socket = new ClientWebSocket();
            await socket.ConnectAsync(new Uri(socketUrl!), CancellationToken.None);
            int id = 0;
            async Task<string?> Evaluate(string expression)
            {
                int mine = ++id;
                var request = new JsonObject { ["id"] = mine, ["method"] = "Runtime.evaluate", ["params"] = new JsonObject { ["expression"] = expression, ["returnByValue"] = true } };
                await socket.SendAsync(Encoding.UTF8.GetBytes(request.ToJsonString()), WebSocketMessageType.Text, true, CancellationToken.None);
                var buffer = new byte[1 << 16];
                while (true)
                {
                    using var message = new MemoryStream();
                    WebSocketReceiveResult r;
                    do { r = await socket.ReceiveAsync(buffer, CancellationToken.None); message.Write(buffer, 0, r.Count); } while (!r.EndOfMessage);
                    var reply = JsonNode.Parse(message.ToArray())!;
                    if ((int?)reply["id"] == mine) return reply["result"]?["result"]?["value"]?.ToString();
                }
            }
            string? state = null;
            while (state != "done" && DateTime.UtcNow < deadline)
            {
                state = await Evaluate("document.body.dataset.state");
                if (state != "done") await Task.Delay(100);
            }
            Assert.Equal("done", state);
            Assert.Equal(ServerFixture.ChatPrompt, await Evaluate("document.querySelector('.msg.user').textContent"));
            Assert.Equal(fx.ExpectedChat.Text, await Evaluate("document.querySelector('.msg.assistant .content').textContent"));
            Assert.Equal("", await Evaluate("Array.from(document.querySelectorAll('.error')).map(e => e.textContent).join(' ')"));
        }
        finally
        {
            if (!browser.HasExited) browser.Kill(true);
        }
    }

    [GeneratedRegex(@"DevTools listening on ws://127\.0\.0\.1:(\d+)/")]
    private static partial Regex DevToolsPort();
}
