using System.Net;
using HybridSharp.Data;
using HybridSharp.Chat;
using HybridSharp.Models;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using TorchSharp;

namespace HybridSharp.Server;

/// <summary>
/// An OpenAI-compatible HTTP server for one model (ASP.NET Core minimal API on Kestrel). Owns a
/// <see cref="GenerationEngine"/>; stopping drains running requests (up to <see cref="ServerOptions.DrainTimeout"/>),
/// then closes the listener.
/// </summary>
public sealed class HybridServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private HybridServer(WebApplication app, GenerationEngine engine, Uri baseAddress)
    {
        _app = app;
        Engine = engine;
        BaseAddress = baseAddress;
    }

    /// <summary>http://host:port/ actually bound (the real port when <see cref="ServerOptions.Port"/> is 0).</summary>
    public Uri BaseAddress { get; }
    public GenerationEngine Engine { get; }

    /// <summary>
    /// Packs the model's weights in the requested format (<see cref="ServerOptions.Weights"/>), starts the model thread and the listener. The model must not be used
    /// by any other thread afterwards; it is not disposed by the server.
    /// </summary>
    public static async Task<HybridServer> StartAsync(CausalLM model, ITokenizer tokenizer, ChatTemplate template, ServerOptions options,
        bool handleConsoleSignals = false)
    {
        options.Validate();
        var bind = ResolveHost(options.Host);
        model.eval();
        if (options.Weights != model.WeightFormat) model.PackWeights(options.Weights);
        long capacity = Math.Min(options.ContextLength ?? model.Config.MaxPositionEmbeddings, model.Config.MaxPositionEmbeddings);
        var engine = new GenerationEngine(model, tokenizer, options.MaxBatch, capacity, options.QueueCapacity);
        try
        {
            await engine.Ready;
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            if (!handleConsoleSignals) builder.Services.AddSingleton<IHostLifetime, QuietLifetime>();
            builder.Services.Configure<HostOptions>(h => h.ShutdownTimeout = options.DrainTimeout + TimeSpan.FromSeconds(5));
            builder.WebHost.ConfigureKestrel(k =>
            {
                k.Limits.MaxRequestBodySize = options.MaxRequestBodyBytes;
                k.AddServerHeader = false;
                if (bind is null) k.ListenLocalhost(options.Port);
                else k.Listen(bind, options.Port);
            });
            if (options.CorsOrigins.Count > 0)
                builder.Services.AddCors(c => c.AddDefaultPolicy(p =>
                {
                    if (options.CorsOrigins.Contains("*")) p.AllowAnyOrigin();
                    else p.WithOrigins([.. options.CorsOrigins]);
                    p.AllowAnyHeader().WithMethods("GET", "POST").SetPreflightMaxAge(TimeSpan.FromHours(1));
                }));
            var app = builder.Build();
            var metrics = new ServerMetrics(() => engine.Waiting, () => engine.Active);
            engine.Stepped += n => metrics.BatchSize.Observe(n);
            app.Use(async (ctx, next) =>
            {
                try { await next(ctx); }
                finally { metrics.Requests.WithLabels(OpenAiEndpoints.RouteLabel(ctx.Request.Path), ctx.Response.StatusCode.ToString(System.Globalization.CultureInfo.InvariantCulture)).Inc(); }
            });
            app.Use(ErrorsAsOpenAi);
            // CORS runs before the key check: browsers send preflights without credentials.
            if (options.CorsOrigins.Count > 0) app.UseCors();
            if (options.ApiKey is { } key) app.Use((ctx, next) => RequireKey(ctx, next, key));
            new OpenAiEndpoints(engine, tokenizer, template, options, metrics).Map(app);
            app.Lifetime.ApplicationStopping.Register(() => engine.ShutdownAsync(options.DrainTimeout).GetAwaiter().GetResult());
            await app.StartAsync();
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            return new HybridServer(app, engine, new Uri(address.EndsWith('/') ? address : address + "/"));
        }
        catch
        {
            engine.Dispose();
            throw;
        }
    }

    /// <summary>Completes when the host stops (Ctrl-C / SIGTERM with console signals, or <see cref="StopAsync"/>).</summary>
    public Task WaitForShutdownAsync(CancellationToken cancellation = default) => _app.WaitForShutdownAsync(cancellation);

    /// <summary>Stops accepting work, drains running requests (the host's stopping hook), then stops the listener.</summary>
    public Task StopAsync() => _app.StopAsync();

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        await _app.DisposeAsync();
        Engine.Dispose();
    }

    private static IPAddress? ResolveHost(string host)
    {
        if (host == "localhost") return null;
        if (IPAddress.TryParse(host, out var ip)) return ip;
        throw new ArgumentException($"`ServerOptions.Host` must be an IP address or 'localhost', got '{host}'");
    }

    /// <summary>Every failure leaves as an OpenAI error object; a response already streaming just ends.</summary>
    private static async Task ErrorsAsOpenAi(HttpContext ctx, RequestDelegate next)
    {
        try
        {
            await next(ctx);
        }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested)
        {
            // client went away: nothing to answer
        }
        catch (Exception ex) when (!ctx.Response.HasStarted)
        {
            var (status, message, type, param, code) = ex switch
            {
                ApiException a => (a.Status, a.Message, a.Type, a.Param, a.Code),
                BadHttpRequestException b => (b.StatusCode, b.Message, ApiException.InvalidRequest, (string?)null, (string?)null),
                ArgumentException a => (400, a.Message, ApiException.InvalidRequest, null, null),
                _ => (500, $"internal error: {ex.Message.Split('\n')[0]}", ApiException.Server, null, null),
            };
            ctx.Response.StatusCode = status;
            ctx.Response.ContentType = "application/json";
            await ctx.Response.Body.WriteAsync(JsonBytes.Error(message, type, param, code));
        }
        catch (Exception) when (ctx.Response.HasStarted)
        {
            ctx.Abort();
        }
    }

    private static Task RequireKey(HttpContext ctx, RequestDelegate next, string key)
    {
        if (!ctx.Request.Path.StartsWithSegments("/v1")) return next(ctx);
        var header = ctx.Request.Headers.Authorization.ToString();
        // The scheme is case-insensitive (RFC 9110 §11.1).
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && CryptographicEquals(header[7..].Trim(), key)) return next(ctx);
        ctx.Response.Headers.WWWAuthenticate = "Bearer";
        throw new ApiException(401, "invalid or missing API key (send 'Authorization: Bearer <key>')", ApiException.Authentication, null, "invalid_api_key");
    }

    private static bool CryptographicEquals(string a, string b) =>
        System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(System.Text.Encoding.UTF8.GetBytes(a), System.Text.Encoding.UTF8.GetBytes(b));

    /// <summary>A host lifetime that ignores console signals (embedded servers, tests).</summary>
    private sealed class QuietLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
