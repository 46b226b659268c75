using System.Text.Json.Nodes;
using HybridSharp.Chat;

namespace HybridSharp.Inference;

/// <summary>
/// A multi-turn chat with a model: each message is added to the history, the whole conversation is rendered with the
/// chat template (generation prompt on) and the reply, generated until the template's end of turn, joins the history.
/// Runs on the model's thread.
/// </summary>
public sealed class ChatSession(TextGenerator generator, ChatTemplate template, GenerationOptions options, string? systemPrompt = null,
    JsonObject? templateKwargs = null)
{
    private readonly List<ChatMessage> _history = [];

    /// <summary>The user and assistant turns so far (the system message is not part of it).</summary>
    public IReadOnlyList<ChatMessage> History => _history;

    /// <summary>Forgets the conversation.</summary>
    public void Reset() => _history.Clear();

    /// <summary>The prompt the next user message would be sent as.</summary>
    public string PromptFor(string userMessage)
    {
        var messages = new List<ChatMessage>(_history.Count + 2);
        if (systemPrompt is not null) messages.Add(ChatMessage.FromSystem(systemPrompt));
        messages.AddRange(_history);
        messages.Add(ChatMessage.FromUser(userMessage));
        return template.Render(messages, addGenerationPrompt: true, kwargs: templateKwargs);
    }

    /// <summary>Sends a user message and returns the reply; <paramref name="onText"/> receives it as it is generated.</summary>
    /// <exception cref="Jinja.TemplateException">The template refused the conversation.</exception>
    public GenerationResult Send(string userMessage, Action<string>? onText = null)
    {
        var prompt = PromptFor(userMessage);
        var generation = options with
        {
            AddBos = false, // the template writes BOS where it wants one
            StopStrings = template.StopStrings.Concat(options.StopStrings).Distinct().ToList(),
        };
        var result = generator.Generate(prompt, generation, onText);
        _history.Add(ChatMessage.FromUser(userMessage));
        _history.Add(ChatMessage.FromAssistant(result.Text));
        return result;
    }
}
