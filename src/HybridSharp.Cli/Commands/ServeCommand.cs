using HybridSharp.Kernels;
using System.CommandLine;
using HybridSharp.Chat;
using HybridSharp.Server;
using TorchSharp;
using HybridSharp.Checkpoints;

namespace HybridSharp.Cli.Commands;

/// <summary><c>hybrid serve</c>: an OpenAI-compatible HTTP server for a model directory.</summary>
internal static class ServeCommand
{
    public const string ApiKeyVariable = "HYBRID_API_KEY";

    public static Command Create()
    {
        var d = new ServerOptions();
        var model = Cli.OptNoDefault<string>("--model", "model directory", "-m");
        model.Required = true;
        var host = Cli.Opt("--host", "address to bind (loopback by default; 0.0.0.0 for all interfaces)", d.Host);
        var port = Cli.Opt("--port", "TCP port (0 = any free port)", d.Port, "-p");
        var name = Cli.OptNoDefault<string?>("--name", "model id clients send as 'model' (default: the directory's name)");
        var maxBatch = Cli.Opt("--max-batch", "sequences decoded together in one batched step", d.MaxBatch);
        var queue = Cli.Opt("--queue", "requests that may wait for a free batch row; beyond it: 429", d.QueueCapacity);
        var maxTokens = Cli.Opt("--max-tokens", "new tokens per request at most (larger requests are capped)", d.MaxTokens);
        var context = Cli.OptNoDefault<int?>("--context", "tokens per sequence, prompt + completion (default: the model's max_position_embeddings)");
        var dtype = Cli.WeightFormatOpt();
        var apiKey = Cli.OptNoDefault<string?>("--api-key", $"require 'Authorization: Bearer KEY' on /v1 (or set {ApiKeyVariable})");
        var maxBody = Cli.Opt("--max-body-kb", "largest request body in KiB", (int)(d.MaxRequestBodyBytes / 1024));
        var drain = Cli.Opt("--drain-seconds", "on Ctrl-C, time running requests get to finish before they are cancelled", (int)d.DrainTimeout.TotalSeconds);
        var chatTemplate = Cli.OptNoDefault<string?>("--chat-template", "a Jinja chat template file to use instead of the model's");
        var cors = new Option<string[]>("--cors-origin")
        {
            Description = "let browser pages from this origin call the API, e.g. http://localhost:3000, or * for any (repeatable)",
            DefaultValueFactory = _ => [],
        };
        var cmd = new Command("serve", "Serve a model directory over an OpenAI-compatible HTTP API (/v1/chat/completions, /v1/completions, /v1/models).")
            { model, host, port, name, maxBatch, queue, maxTokens, context, dtype, apiKey, maxBody, drain, chatTemplate, cors };
        cmd.SetAction(pr => Cli.Guard(() =>
        {
            var dir = pr.GetValue(model)!;
            var options = new ServerOptions
            {
                Host = pr.GetValue(host)!,
                Port = pr.GetValue(port),
                ModelId = pr.GetValue(name) ?? Path.GetFileName(Path.GetFullPath(dir).TrimEnd(Path.DirectorySeparatorChar)),
                MaxBatch = pr.GetValue(maxBatch),
                QueueCapacity = pr.GetValue(queue),
                MaxTokens = pr.GetValue(maxTokens),
                ContextLength = pr.GetValue(context),
                Weights = Cli.ParseWeightFormat(pr.GetValue(dtype)!),
                ApiKey = pr.GetValue(apiKey) ?? NonEmpty(Environment.GetEnvironmentVariable(ApiKeyVariable)),
                MaxRequestBodyBytes = pr.GetValue(maxBody) * 1024L,
                DrainTimeout = TimeSpan.FromSeconds(Math.Max(0, pr.GetValue(drain))),
                CorsOrigins = pr.GetValue(cors) ?? [],
                Defaults = GenerationConfig.Read(dir),
            };
            options.Validate();
            var (m, tokenizer) = ModelDirectory.Load(dir);
            using var _ = m;
            var template = ChatTemplate.For(tokenizer, dir, pr.GetValue(chatTemplate));
            HybridServer server;
            try { server = HybridServer.StartAsync(m, tokenizer, template, options, handleConsoleSignals: true).GetAwaiter().GetResult(); }
            catch (IOException ex) { throw new ArgumentException($"cannot listen on {options.Host}:{options.Port}: {ex.Message}"); }
            Console.Error.WriteLine($"serving '{options.ModelId}' ({m.Config.NumHiddenLayers} layers, {options.Weights.Name()} weights, chat template: {template.Source}) " +
                $"at {server.BaseAddress}v1 — max batch {options.MaxBatch}, context {server.Engine.Capacity}{(options.ApiKey is null ? "" : ", API key required")}; Ctrl-C stops");
            server.WaitForShutdownAsync().GetAwaiter().GetResult();
            Console.Error.WriteLine($"stopped: {server.Engine.Completed} completed, {server.Engine.Cancelled} cancelled, {server.Engine.Failed} ended by an error or the shutdown");
            server.DisposeAsync().AsTask().GetAwaiter().GetResult();
            return 0;
        }));
        return cmd;
    }

    private static string? NonEmpty(string? s) => string.IsNullOrEmpty(s) ? null : s;
}
