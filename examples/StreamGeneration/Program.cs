using HybridSharp.Inference;
using HybridSharp.Checkpoints;

namespace HybridSharp.Examples.StreamGeneration;

/// <summary>Loads a model directory and streams a continuation of a prompt: <c>StreamGeneration MODEL_DIR PROMPT</c>.</summary>
public static class Program
{
    public static int Main(string[] args) => Run(args, Console.Out);

    public static int Run(string[] args, TextWriter output)
    {
        if (args.Length < 2) { output.WriteLine("usage: StreamGeneration MODEL_DIR PROMPT"); return 2; }
        var (model, tokenizer) = ModelDirectory.Load(args[0]);
        using var _ = model;
        var generator = new TextGenerator(model, tokenizer);
        var options = new GenerationOptions { MaxNewTokens = 40, Sampling = new SamplingOptions { Temperature = 0.8, TopP = 0.95, Seed = 7 } };
        output.Write(args[1]);
        var result = generator.Generate(args[1], options, piece => output.Write(piece)); // pieces arrive as they are decoded
        output.WriteLine();
        output.WriteLine($"[{result.GeneratedTokens} tokens, finish: {result.FinishReason}]");
        return 0;
    }
}
