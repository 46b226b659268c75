using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using HybridSharp.Chat;
using HybridSharp.Data;

namespace HybridSharp.Cli;

/// <summary>The chat options every command that renders conversations takes: <c>--chat-template FILE</c> and <c>--template-kwargs JSON</c>.</summary>
internal sealed class ChatOptions
{
    public readonly Option<string?> TemplateFile = Cli.OptNoDefault<string?>("--chat-template",
        "a Jinja chat template file to use instead of the model's (needed when the tokenizer has none and no ChatML tokens)");
    public readonly Option<string?> Kwargs = Cli.OptNoDefault<string?>("--template-kwargs",
        "JSON object of extra chat-template variables, e.g. '{\"enable_thinking\": false}'");

    public IEnumerable<Option> All => [TemplateFile, Kwargs];

    /// <summary>The template for <paramref name="tokenizer"/>: the file, else the model's own (see <see cref="ChatTemplate.For"/>).</summary>
    public ChatTemplate Template(ParseResult pr, ITokenizer tokenizer, string? modelDirectory) =>
        ChatTemplate.For(tokenizer, modelDirectory, pr.GetValue(TemplateFile));

    /// <summary>The parsed <c>--template-kwargs</c>; null when not given.</summary>
    public JsonObject? TemplateKwargs(ParseResult pr) => ParseObject(pr.GetValue(Kwargs), "--template-kwargs");

    public static JsonObject? ParseObject(string? text, string option)
    {
        if (text is null) return null;
        try
        {
            return JsonNode.Parse(text) as JsonObject ?? throw new ArgumentException($"{option} must be a JSON object");
        }
        catch (JsonException ex)
        {
            throw new ArgumentException($"{option} is not valid JSON ({ex.Message.Split('\n')[0]})");
        }
    }
}
