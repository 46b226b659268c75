using System.Text;
using HybridSharp.Chat;

namespace HybridSharp.Server;

/// <summary>
/// One choice's reply as it is generated: the text so far, log-probabilities not yet written, and the pipeline from
/// generated text to what a client sees — reasoning split off (<see cref="ReasoningSplitter"/>), then tool calls parsed
/// out (<see cref="ToolCallParser"/>).
/// </summary>
internal sealed class ReplyAssembler(ReasoningSplitter? splitter, ToolCallParser? toolCalls, bool parallelToolCalls = true)
{
    public readonly StringBuilder Text = new();
    public readonly List<TokenLogprob> Logprobs = []; // not yet written (streaming) or all of them (whole)
    public readonly ReasoningSplitter? Splitter = splitter;
    public readonly ToolCallParser? ToolCalls = toolCalls;
    public FinishEvent? Finish;
    public int TextOffset;

    /// <summary>Generated text → (reasoning, content that can be shown now).</summary>
    public (string Reasoning, string Content) Push(string text)
    {
        var (reasoning, content) = Splitter is null ? ("", text) : Splitter.Push(text);
        return (reasoning, ToolCalls is null ? content : ToolCalls.Push(content));
    }

    /// <summary>At the end: what was held back, and the parsed tool calls.</summary>
    public (string Reasoning, string Content, IReadOnlyList<ToolCall> Calls) End()
    {
        var (reasoning, content) = Splitter is null ? ("", "") : Splitter.Flush();
        if (ToolCalls is null) return (reasoning, content, []);
        content = ToolCalls.Push(content);
        var (rest, calls) = ToolCalls.Finish();
        // parallel_tool_calls: false keeps the first call only.
        return (reasoning, content + rest, parallelToolCalls || calls.Count <= 1 ? calls : [calls[0]]);
    }
}
