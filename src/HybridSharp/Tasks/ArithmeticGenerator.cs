using System.Globalization;
using System.Text;

namespace HybridSharp.Tasks;

/// <summary>
/// Deterministic generator of multi-step arithmetic word problems ("Mia has 12 apples. She buys 5 more, then gives
/// away 3. How many apples does Mia have now?"). The same seed always yields the same problems, on any runtime.
/// </summary>
/// <remarks>
/// Every problem tracks a single running count. Operations are chosen so that all intermediate values are integers
/// in [1, <see cref="MaxValue"/>]: subtraction never reaches zero, division is always exact, and multiplication is
/// only used while the count is small.
/// </remarks>
public sealed class ArithmeticGenerator
{
    /// <summary>Smallest supported difficulty (number of operations).</summary>
    public const int MinDifficulty = 1;

    /// <summary>Largest supported difficulty (number of operations).</summary>
    public const int MaxDifficulty = 10;

    /// <summary>Upper bound on every intermediate value with the <see cref="ArithmeticSettings.Standard"/> ranges.</summary>
    public const int MaxValue = 9999;

    /// <summary>Questions of difficulty up to <see cref="ShortDifficulty"/> are at most this many characters long.</summary>
    public const int ShortQuestionMaxLength = 200;

    /// <summary>The largest difficulty whose questions are kept within <see cref="ShortQuestionMaxLength"/>.</summary>
    public const int ShortDifficulty = 3;

    private const int MaxAttempts = 64;

    private readonly SplitMix64 _rng;

    /// <summary>
    /// Creates a generator whose whole output sequence is fixed by <paramref name="seed"/> and
    /// <paramref name="settings"/> (default <see cref="ArithmeticSettings.Standard"/>).
    /// </summary>
    public ArithmeticGenerator(int seed, ArithmeticSettings? settings = null)
    {
        Settings = settings ?? ArithmeticSettings.Standard;
        Settings.Validate();
        _rng = new SplitMix64(SplitMix64.Mix(0xA417u, unchecked((ulong)(long)seed)));
    }

    /// <summary>The numbers and wording this generator draws from.</summary>
    public ArithmeticSettings Settings { get; }

    /// <summary>Generates the next problem with exactly <paramref name="difficulty"/> operations.</summary>
    public ArithmeticProblem Generate(int difficulty)
    {
        CheckDifficulty(difficulty, nameof(difficulty));
        return Create(_rng.NextUInt64(), difficulty, Settings);
    }

    /// <summary>
    /// Generates <paramref name="count"/> problems whose difficulties cycle through
    /// <paramref name="minDifficulty"/>..<paramref name="maxDifficulty"/> (so every difficulty is equally represented).
    /// </summary>
    public IReadOnlyList<ArithmeticProblem> Generate(int count, int minDifficulty, int maxDifficulty)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        CheckDifficulty(minDifficulty, nameof(minDifficulty));
        CheckDifficulty(maxDifficulty, nameof(maxDifficulty));
        if (maxDifficulty < minDifficulty)
            throw new ArgumentException("maxDifficulty must be at least minDifficulty.", nameof(maxDifficulty));
        int span = maxDifficulty - minDifficulty + 1;
        var problems = new ArithmeticProblem[count];
        for (int i = 0; i < count; i++) problems[i] = Generate(minDifficulty + i % span);
        return problems;
    }

    /// <summary>Rebuilds a problem from its per-problem <paramref name="problemSeed"/> (see <see cref="ArithmeticProblem.Seed"/>).</summary>
    public static ArithmeticProblem Create(ulong problemSeed, int difficulty, ArithmeticSettings? settings = null)
    {
        CheckDifficulty(difficulty, nameof(difficulty));
        var ranges = settings ?? ArithmeticSettings.Standard;
        var rng = new SplitMix64(problemSeed);
        // Redraw (deterministically, from the same stream) until short problems have short questions.
        for (int attempt = 1; ; attempt++)
        {
            var problem = Draw(rng, problemSeed, difficulty, ranges);
            if (difficulty > ShortDifficulty || problem.Question.Length <= ShortQuestionMaxLength || attempt >= MaxAttempts)
                return problem;
        }
    }

    private static ArithmeticProblem Draw(SplitMix64 rng, ulong problemSeed, int difficulty, ArithmeticSettings ranges)
    {
        var character = rng.Pick(Characters);
        var item = rng.Pick(Items);
        var story = new ArithmeticStory(character.Name, character.Subject, character.Possessive, character.Reflexive,
            item.Singular, item.Plural);

        int start = rng.NextInt(ranges.MinStart, ranges.MaxStart + 1);
        var steps = new List<ArithmeticStep>(difficulty);
        int current = start;
        ArithmeticStep? previous = null;
        for (int i = 0; i < difficulty; i++)
        {
            var step = NextStep(rng, story, current, previous, ranges);
            steps.Add(step);
            current = step.Result;
            previous = step;
        }

        string question = WriteQuestion(rng, story, start, steps, ranges.Phrasing);
        string id = string.Create(CultureInfo.InvariantCulture, $"arith-d{difficulty}-{problemSeed:x16}");
        return new ArithmeticProblem(id, problemSeed, difficulty, question, story, start, steps, current);
    }

    private static void CheckDifficulty(int difficulty, string name)
    {
        if (difficulty < MinDifficulty || difficulty > MaxDifficulty)
            throw new ArgumentOutOfRangeException(name, difficulty, $"Difficulty must be in {MinDifficulty}..{MaxDifficulty}.");
    }

    private static ArithmeticStep NextStep(SplitMix64 rng, ArithmeticStory story, int current, ArithmeticStep? previous, ArithmeticSettings ranges)
    {
        // Candidate operations with weights; each is only offered when its operand can keep values in range.
        var candidates = new List<(ArithmeticOperation Op, int Weight)>(4);
        if (current < ranges.MaxValue) candidates.Add((ArithmeticOperation.Add, 3));
        if (current >= 2) candidates.Add((ArithmeticOperation.Subtract, 3));
        if (current <= ranges.MaxMultiplicand && previous?.Operation != ArithmeticOperation.Divide)
            candidates.Add((ArithmeticOperation.Multiply, 2));
        var divisors = ranges.Divisors.Where(d => current % d == 0 && current / d >= 1).ToArray();
        if (divisors.Length > 0 && previous?.Operation != ArithmeticOperation.Multiply)
            candidates.Add((ArithmeticOperation.Divide, 4));

        int roll = rng.NextInt(0, candidates.Sum(c => c.Weight));
        var op = candidates[0].Op;
        foreach (var (candidate, weight) in candidates)
        {
            if (roll < weight) { op = candidate; break; }
            roll -= weight;
        }

        int operand;
        switch (op)
        {
            case ArithmeticOperation.Add:
                operand = rng.NextInt(1, Math.Min(ranges.MaxAddend, ranges.MaxValue - current) + 1);
                // Do not simply undo the previous subtraction.
                if (previous is { Operation: ArithmeticOperation.Subtract } && previous.Right == operand && current + operand < ranges.MaxValue)
                    operand++;
                break;
            case ArithmeticOperation.Subtract:
                operand = rng.NextInt(1, Math.Min(ranges.MaxAddend, current - 1) + 1);
                // Do not simply undo the previous addition.
                if (previous is { Operation: ArithmeticOperation.Add } && previous.Right == operand && operand < current - 1)
                    operand++;
                break;
            case ArithmeticOperation.Multiply:
                operand = rng.Pick(ranges.Multipliers);
                break;
            default:
                operand = rng.Pick(divisors);
                break;
        }

        bool plain = ranges.Phrasing == QuestionPhrasing.Plain;
        var templates = op switch
        {
            ArithmeticOperation.Add => plain ? PlainAddTemplates : AddTemplates,
            ArithmeticOperation.Subtract => plain ? PlainSubtractTemplates : SubtractTemplates,
            ArithmeticOperation.Multiply => plain ? PlainMultiplyTemplates : MultiplyTemplates,
            _ => plain ? PlainDivideTemplates : DivideTemplates,
        };
        var applicable = templates.Where(t => t.Applies(operand)).ToArray();
        // Plain wording says "doubles them" or "keeps a third of them" wherever such a word exists for the operand.
        if (plain && applicable.Any(t => !t.Generic)) applicable = applicable.Where(t => !t.Generic).ToArray();
        var wording = rng.Pick(applicable).Build(operand, story);
        return new ArithmeticStep(op, current, operand, op.Apply(current, operand), wording);
    }

    private static string WriteQuestion(SplitMix64 rng, ArithmeticStory story, int start, IReadOnlyList<ArithmeticStep> steps, QuestionPhrasing phrasing)
    {
        if (phrasing == QuestionPhrasing.Plain) return WritePlainQuestion(rng, story, start, steps);
        var text = new StringBuilder();
        text.Append(rng.NextInt(0, 3) switch
        {
            0 => $"{story.Name} has {story.Count(start)}.",
            1 => $"{story.Name} starts with {story.Count(start)}.",
            _ => $"{story.Name} has a box of {story.Count(start)}.",
        });

        int index = 0;
        while (index < steps.Count)
        {
            bool pair = index + 1 < steps.Count && rng.Chance(0.5);
            string connector = index == 0
                ? (rng.Chance(0.75) ? "" : "First, ")
                : rng.Pick(Connectors);
            string subject = connector.Length == 0 ? Capitalize(story.Subject) : story.Subject;
            text.Append(' ').Append(connector).Append(subject).Append(' ').Append(steps[index].Wording.Present);
            if (pair) text.Append(", then ").Append(steps[index + 1].Wording.Present);
            text.Append('.');
            index += pair ? 2 : 1;
        }

        text.Append(' ').Append(rng.NextInt(0, 3) switch
        {
            0 => $"How many {story.ItemPlural} does {story.Name} have now?",
            1 => $"How many {story.ItemPlural} does {story.Name} end up with?",
            _ => $"How many {story.ItemPlural} does {story.Subject} have at the end?",
        });
        return text.ToString();
    }

    private static string WritePlainQuestion(SplitMix64 rng, ArithmeticStory story, int start, IReadOnlyList<ArithmeticStep> steps)
    {
        var text = new StringBuilder($"{story.Name} has {story.Count(start)}.");
        for (int index = 0; index < steps.Count;)
        {
            bool pair = index + 1 < steps.Count && rng.Chance(0.5);
            text.Append(' ').Append(index == 0 ? Capitalize(story.Subject) : "Then " + story.Subject).Append(' ').Append(steps[index].Wording.Present);
            if (pair) text.Append(", then ").Append(steps[index + 1].Wording.Present);
            text.Append('.');
            index += pair ? 2 : 1;
        }
        return text.Append(" How many now?").ToString();
    }

    internal static string Capitalize(string text) =>
        text.Length == 0 ? text : string.Concat(char.ToUpperInvariant(text[0]).ToString(), text.AsSpan(1));

    private static readonly string[] Connectors = ["Then ", "Next, ", "After that, ", "Later, ", "Then "];

    private sealed record Character(string Name, string Subject, string Possessive, string Reflexive);

    private sealed record Item(string Singular, string Plural);

    /// <summary>A wording of one kind of step; <see cref="Generic"/> ones name the operand as a number ("splits them into 3 equal bags").</summary>
    private sealed record Template(Func<int, bool> Applies, Func<int, ArithmeticStory, StepWording> Build, bool Generic = false);

    private static Character She(string name) => new(name, "she", "her", "herself");

    private static Character He(string name) => new(name, "he", "his", "himself");

    private static readonly Character[] Characters =
    [
        She("Mia"), She("Ava"), She("Nora"), She("Zoe"), She("Lily"), She("Emma"),
        He("Leo"), He("Sam"), He("Omar"), He("Ben"), He("Max"), He("Ravi"),
    ];

    private static readonly Item[] Items =
    [
        new("apple", "apples"), new("marble", "marbles"), new("sticker", "stickers"), new("cookie", "cookies"),
        new("pencil", "pencils"), new("card", "cards"), new("shell", "shells"), new("bead", "beads"),
        new("stamp", "stamps"), new("book", "books"), new("crayon", "crayons"), new("toy car", "toy cars"),
    ];

    private static Template Any(Func<int, ArithmeticStory, StepWording> build) => new(_ => true, build, Generic: true);

    private static Template When(int operand, Func<int, ArithmeticStory, StepWording> build) => new(n => n == operand, build);

    private static readonly Template[] AddTemplates =
    [
        Any((n, s) => new($"buys {n} more", $"buy {n} more", $"sell {n}")),
        Any((n, s) => new($"finds {n} more", $"find {n} more", $"lose {n}")),
        Any((n, s) => new($"gets {n} more from {s.Possessive} friend", $"get {n} more from {s.Possessive} friend", $"give {n} to {s.Possessive} friend")),
        Any((n, s) => new($"receives {n} more as a gift", $"receive {n} more as a gift", $"give {n} away as a gift")),
        Any((n, s) => new($"picks up {n} more", $"pick up {n} more", $"drop {n}")),
    ];

    private static readonly Template[] SubtractTemplates =
    [
        Any((n, s) => new($"gives away {n}", $"give away {n}", $"get {n} more")),
        Any((n, s) => new($"sells {n}", $"sell {n}", $"buy {n} more")),
        Any((n, s) => new($"loses {n}", $"lose {n}", $"find {n} more")),
        Any((n, s) => new($"gives {n} to {s.Possessive} brother", $"give {n} to {s.Possessive} brother", $"get {n} from {s.Possessive} brother")),
        Any((n, s) => new($"trades away {n}", $"trade away {n}", $"trade for {n} more")),
    ];

    private static readonly Template[] MultiplyTemplates =
    [
        When(2, (n, s) => new("doubles them", "double them", "get 2 more")),
        When(2, (n, s) => new($"doubles {s.Possessive} {s.ItemPlural}", $"double {s.Possessive} {s.ItemPlural}", "get 2 more")),
        When(3, (n, s) => new("triples them", "triple them", "get 3 more")),
        Any((n, s) => new($"ends up with {n} times as many", $"end up with {n} times as many", $"get {n} more")),
        Any((n, s) => new($"makes the pile {n} times as big", $"make the pile {n} times as big", $"add {n} to the pile")),
    ];

    private static readonly Template[] PlainAddTemplates = [AddTemplates[0], AddTemplates[1]];

    private static readonly Template[] PlainSubtractTemplates = [SubtractTemplates[0], SubtractTemplates[2]];

    private static readonly Template[] PlainMultiplyTemplates = [MultiplyTemplates[0], MultiplyTemplates[2], MultiplyTemplates[3]];

    private static readonly Template[] DivideTemplates =
    [
        When(2, (n, s) => new("gives away half of them", "give away half of them", "give away 2 of them",
            "Giving away half leaves half.")),
        When(2, (n, s) => new("keeps only half of them", "keep only half of them", "keep 2 of them")),
        When(3, (n, s) => new("keeps a third of them", "keep a third of them", "keep 3 of them")),
        When(4, (n, s) => new("keeps a quarter of them", "keep a quarter of them", "keep 4 of them")),
        Any((n, s) => new($"splits them into {n} equal bags and keeps one",
            $"split them into {n} equal bags and keep one", $"give away {n} of them")),
        new(n => n >= 3, (n, s) => new($"shares them equally with {n - 1} friends and {s.Reflexive}",
            $"share them equally with {n - 1} friends and {s.Reflexive}", $"share them with {n} friends",
            $"That is {n - 1} friends plus {s.Reflexive}: {n - 1} + 1 = {n} shares.")),
    ];

    private static readonly Template[] PlainDivideTemplates = [DivideTemplates[1], DivideTemplates[2], DivideTemplates[3], DivideTemplates[4]];
}
