using Xunit;

namespace HybridSharp.Tests.Examples;

/// <summary>The three programs in <c>examples/</c> run end to end: train a tiny model from a text file, stream a generation from it, chat with it through an IChatClient.</summary>
[Collection("Torch")]
public sealed class ExamplesTests
{
    [Fact]
    public async Task TrainThenGenerateThenChat()
    {
        using var tmp = new TempDir();
        File.WriteAllText(tmp["text.txt"], string.Concat(Enumerable.Range(0, 200).Select(i => $"The tide comes in at {i % 12 + 1} and goes out again.\n")));

        var train = new StringWriter();
        Assert.Equal(0, HybridSharp.Examples.TrainTinyModel.Program.Run([tmp["text.txt"], tmp["run"], "30"], train));
        Assert.Contains("trained 30 steps", train.ToString());
        Assert.True(File.Exists(Path.Combine(tmp["run"], "model", "config.json")));

        var stream = new StringWriter();
        Assert.Equal(0, HybridSharp.Examples.StreamGeneration.Program.Run([Path.Combine(tmp["run"], "model"), "The tide"], stream));
        Assert.StartsWith("The tide", stream.ToString());
        Assert.Contains("tokens, finish:", stream.ToString());

        var chat = new StringWriter();
        Assert.Equal(0, await HybridSharp.Examples.ChatClient.Program.RunAsync([Path.Combine(tmp["run"], "model"), "When does the tide come in?"], chat));
        Assert.False(string.IsNullOrEmpty(chat.ToString()));
    }
}
