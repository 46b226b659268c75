using HybridSharp.Server;
using Microsoft.Extensions.AI;

namespace HybridSharp.Examples.ChatClient;

/// <summary>
/// Chats with a model directory through Microsoft.Extensions.AI's <see cref="IChatClient"/>, in-process:
/// <c>ChatClient MODEL_DIR QUESTION</c>.
/// </summary>
public static class Program
{
    public static Task<int> Main(string[] args) => RunAsync(args, Console.Out);

    public static async Task<int> RunAsync(string[] args, TextWriter output)
    {
        if (args.Length < 2) { output.WriteLine("usage: ChatClient MODEL_DIR QUESTION"); return 2; }
        var (client, model) = await HybridChatClient.LoadAsync(args[0]);
        using (model)
        using (client)
        {
            List<ChatMessage> history = [new(ChatRole.System, "Answer briefly."), new(ChatRole.User, args[1])];
            var options = new ChatOptions { MaxOutputTokens = 40, Temperature = 0.7f, Seed = 3 };
            var reply = new System.Text.StringBuilder();
            await foreach (var update in client.GetStreamingResponseAsync(history, options))
            {
                output.Write(update.Text);
                reply.Append(update.Text);
            }
            output.WriteLine();
            history.Add(new ChatMessage(ChatRole.Assistant, reply.ToString())); // the conversation continues from here
        }
        return 0;
    }
}
