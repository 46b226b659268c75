using HybridSharp.Distill;

namespace HybridSharp.TeacherSim;

/// <summary>A chat-completion request as the scripted server received it.</summary>
/// <param name="Model">The requested model.</param>
/// <param name="Messages">The messages (string content or concatenated text parts).</param>
/// <param name="MaxTokens"><c>max_completion_tokens</c> or <c>max_tokens</c>, if sent.</param>
/// <param name="Stream">Whether SSE was requested.</param>
/// <param name="Body">The raw JSON body.</param>
/// <param name="Attempt">How many times this exact body has arrived, including this time (1 = first).</param>
public sealed record TeacherRequest(string Model, IReadOnlyList<TeacherMessage> Messages, int? MaxTokens, bool Stream, string Body, int Attempt)
{
    public string? System => Messages.FirstOrDefault(m => m.Role is "system" or "developer")?.Content;
    public string User => Messages.LastOrDefault(m => m.Role == "user")?.Content ?? "";
}

/// <summary>Decides the reply to each request; plug one into <see cref="ScriptedTeacherServer"/>.</summary>
public interface ITeacherResponder
{
    ValueTask<TeacherReply> RespondAsync(TeacherRequest request, CancellationToken cancellationToken);
}

/// <summary>A responder from a delegate.</summary>
public sealed class DelegateResponder(Func<TeacherRequest, TeacherReply> respond) : ITeacherResponder
{
    public ValueTask<TeacherReply> RespondAsync(TeacherRequest request, CancellationToken cancellationToken) => ValueTask.FromResult(respond(request));
}
