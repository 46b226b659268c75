using System.CommandLine;
using HybridSharp.Chat;
using HybridSharp.Inference;
using HybridSharp.Checkpoints;

namespace HybridSharp.Cli.Commands;

internal static class GenerateCommand
{
    public static Command Create()
    {
        var model = Cli.OptNoDefault<string>("--model", "model directory", "-m");
        model.Required = true;
        var prompt = Cli.OptNoDefault<string?>("--prompt", "prompt text, continued as is (omit for an interactive chat)");
        var maxTokens = Cli.Opt("--max-tokens", "new tokens at most", 200, "-n");
        var s = new SamplingOptions();
        var temperature = Cli.Opt("--temperature", "0 = greedy", s.Temperature, "-t");
        var topK = Cli.Opt("--top-k", "keep the k most likely tokens (0 = off)", s.TopK);
        var topP = Cli.Opt("--top-p", "nucleus sampling mass (1 = off)", s.TopP);
        var minP = Cli.Opt("--min-p", "drop tokens below min-p × the top probability (0 = off)", s.MinP);
        var rep = Cli.Opt("--repetition-penalty", "penalise tokens already in the context (1 = off)", s.RepetitionPenalty);
        var freq = Cli.Opt("--frequency-penalty", "subtract per occurrence in the generated text", s.FrequencyPenalty);
        var pres = Cli.Opt("--presence-penalty", "subtract once if present in the generated text", s.PresencePenalty);
        var seed = Cli.Opt("--seed", "sampling seed", s.Seed);
        var stop = new Option<string[]>("--stop") { Description = "stop string (repeatable)", DefaultValueFactory = _ => [] };
        var raw = Cli.Opt("--raw", "interactive session without the chat template: each line is continued as plain text", false);
        var system = Cli.OptNoDefault<string?>("--system", "interactive chat: system message");
        var dtype = Cli.WeightFormatOpt();
        var chatOptions = new ChatOptions();
        var cmd = new Command("generate", "Generate text from a model directory (streaming): continue a prompt, or chat interactively through the model's chat template.")
            { model, prompt, maxTokens, temperature, topK, topP, minP, rep, freq, pres, seed, stop, raw, system, dtype };
        foreach (var o in chatOptions.All) cmd.Options.Add(o);
        cmd.SetAction(pr => Cli.Guard(() =>
        {
            var options = new GenerationOptions
            {
                MaxNewTokens = pr.GetValue(maxTokens),
                StopStrings = (pr.GetValue(stop) ?? []).Select(Unescape).ToList(),
                Sampling = new SamplingOptions
                {
                    Temperature = pr.GetValue(temperature), TopK = pr.GetValue(topK), TopP = pr.GetValue(topP), MinP = pr.GetValue(minP),
                    RepetitionPenalty = pr.GetValue(rep), FrequencyPenalty = pr.GetValue(freq), PresencePenalty = pr.GetValue(pres), Seed = pr.GetValue(seed),
                },
            };
            options.Sampling.Validate();
            if (options.MaxNewTokens <= 0) throw new ArgumentException("--max-tokens must be positive");
            var (m, tokenizer) = Cli.LoadForInference(pr.GetValue(model)!, pr.GetValue(dtype)!);
            using var _ = m;
            var generator = new TextGenerator(m, tokenizer);
            var text = pr.GetValue(prompt);
            if (text is not null)
            {
                text = Unescape(text);
                Console.Write(text);
                var r = generator.Generate(text, options, piece => Console.Write(piece));
                Console.WriteLine();
                Console.Error.WriteLine($"[{r.GeneratedTokens} tokens, finish: {r.FinishReason}]");
                return 0;
            }
            if (pr.GetValue(raw))
            {
                Console.Error.WriteLine("Interactive: type a prompt and press Enter (empty line or Ctrl-D to quit).");
                while (true)
                {
                    Console.Write("> ");
                    var line = Console.ReadLine();
                    if (string.IsNullOrEmpty(line)) return 0;
                    generator.Generate(Unescape(line), options, piece => Console.Write(piece));
                    Console.WriteLine();
                }
            }
            var chat = chatOptions.Template(pr, tokenizer, pr.GetValue(model));
            var session = new ChatSession(generator, chat, options, pr.GetValue(system), chatOptions.TemplateKwargs(pr));
            Console.Error.WriteLine($"Chat (template: {chat.Source}): type a message and press Enter; /reset forgets the conversation; empty line or Ctrl-D quits.");
            while (true)
            {
                Console.Write("> ");
                var line = Console.ReadLine();
                if (string.IsNullOrEmpty(line)) return 0;
                if (line.Trim() == "/reset")
                {
                    session.Reset();
                    continue;
                }
                var r = session.Send(Unescape(line), piece => Console.Write(piece));
                Console.WriteLine();
                if (r.FinishReason == FinishReason.Length) Console.Error.WriteLine($"[cut at --max-tokens {options.MaxNewTokens}]");
            }
        }));
        return cmd;
    }

    /// <summary>Lets users type "\n" in prompts and stop strings on a shell command line.</summary>
    public static string Unescape(string s) => s.Replace("\\n", "\n").Replace("\\t", "\t");
}
