using HybridSharp.IO.Safetensors;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace HybridSharp.Tests.IO;

[Collection("Torch")]
public sealed class StateDictLoaderTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>A Linear, a bare parameter, a persistent and a non-persistent buffer.</summary>
    private sealed class TinyNet : nn.Module<Tensor, Tensor>
    {
#pragma warning disable IDE1006 // Field names are state_dict keys.
        private readonly Linear proj;
        private readonly Parameter gain;
        private readonly Tensor steps;
#pragma warning restore IDE1006

        public TinyNet(long seed) : base(nameof(TinyNet))
        {
            torch.manual_seed(seed);
            proj = nn.Linear(3, 4);
            gain = nn.Parameter(torch.randn(4));
            steps = torch.tensor(new long[] { seed });
            RegisterComponents();
            register_buffer("scratch", torch.zeros(2), persistent: false);
        }

        public override Tensor forward(Tensor input) => proj.forward(input) * gain;
    }

    /// <summary>An embedding and an output head that shares its weight.</summary>
    private sealed class TiedNet : nn.Module<Tensor, Tensor>
    {
#pragma warning disable IDE1006
        private readonly Embedding embed_tokens;
        private readonly Linear lm_head;
#pragma warning restore IDE1006

        public TiedNet(long seed) : base(nameof(TiedNet))
        {
            torch.manual_seed(seed);
            embed_tokens = nn.Embedding(5, 3);
            lm_head = nn.Linear(3, 5, hasBias: false);
            RegisterComponents();
            lm_head.weight = embed_tokens.weight!;
        }

        public Tensor EmbedWeight => embed_tokens.weight!;

        public Tensor HeadWeight => lm_head.weight!;

        public override Tensor forward(Tensor input) => lm_head.forward(embed_tokens.forward(input));
    }

    private static Dictionary<string, Tensor> Snapshot(nn.Module module) =>
        StateDictLoader.NamedStateTensors(module).ToDictionary(t => t.Name, t => t.Tensor.detach().clone());

    private static void AssertSameValues(nn.Module module, IReadOnlyDictionary<string, Tensor> expected)
    {
        var actual = StateDictLoader.NamedStateTensors(module);
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), actual.Select(a => a.Name).Order(StringComparer.Ordinal));
        foreach (var (name, tensor) in actual)
        {
            Assert.True(expected[name].Equals(tensor), $"{name} differs");
        }
    }

    [Fact]
    public void Names_AreStateDictNames_WithPersistentBuffersOnly()
    {
        var net = new TinyNet(1);

        var names = StateDictLoader.NamedStateTensors(net).Select(t => t.Name).Order(StringComparer.Ordinal);

        Assert.Equal(["gain", "proj.bias", "proj.weight", "steps"], names);
    }

    [Fact]
    public void Load_CopiesEveryValue_SoParametersBecomeIdentical()
    {
        var source = new TinyNet(1);
        var target = new TinyNet(2);
        using var scope = torch.NewDisposeScope();
        var exported = StateDictLoader.Export(source);
        Assert.False(target.named_parameters().All(p => p.parameter.Equals(exported[p.name])));

        var result = StateDictLoader.Load(target, exported);

        Assert.Equal(4, result.Loaded.Count);
        Assert.Empty(result.Missing);
        Assert.Empty(result.Unexpected);
        AssertSameValues(target, exported);
        Assert.True(target.named_parameters().All(p => p.parameter.requires_grad));
    }

    [Fact]
    public void Load_ThroughSafetensorsFile_RoundTrips()
    {
        var source = new TinyNet(3);
        var target = new TinyNet(4);
        using var scope = torch.NewDisposeScope();
        string path = _dir.File("model.safetensors");

        SafetensorsFile.Save(path, StateDictLoader.Export(source));
        StateDictLoader.Load(target, SafetensorsFile.Load(path));

        AssertSameValues(target, Snapshot(source));
    }

    [Fact]
    public void Load_ConvertsDtypeToTheParameterDtype()
    {
        var source = new TinyNet(5);
        var target = new TinyNet(6);
        using var scope = torch.NewDisposeScope();
        var asDouble = StateDictLoader.Export(source).ToDictionary(kv => kv.Key, kv => kv.Value.to(ScalarType.Float64));

        StateDictLoader.Load(target, asDouble);

        foreach (var (name, tensor) in StateDictLoader.NamedStateTensors(target))
        {
            Assert.Equal(name == "steps" ? ScalarType.Int64 : ScalarType.Float32, tensor.dtype);
        }
        AssertSameValues(target, Snapshot(source));
    }

    [Fact]
    public void Load_ReportsMissingUnexpectedAndMisshapedTogether_AndCopiesNothing()
    {
        var source = new TinyNet(7);
        var target = new TinyNet(8);
        using var scope = torch.NewDisposeScope();
        var before = Snapshot(target);
        var checkpoint = StateDictLoader.Export(source);
        checkpoint.Remove("gain");
        checkpoint["proj.weight"] = torch.zeros(3, 4);
        checkpoint["extra.weight"] = torch.zeros(1);

        var ex = Assert.Throws<CheckpointMismatchException>(() => StateDictLoader.Load(target, checkpoint));

        Assert.Equal(["gain"], ex.Missing);
        Assert.Equal(["extra.weight"], ex.Unexpected);
        var mismatch = Assert.Single(ex.ShapeMismatches);
        Assert.Equal("proj.weight", mismatch.Name);
        Assert.Equal([4L, 3L], mismatch.Expected);
        Assert.Equal([3L, 4L], mismatch.Found);
        string[] lines = ex.Message.Split('\n');
        Assert.Equal(4, lines.Length);
        Assert.Contains("1 missing, 1 unexpected, 1 with the wrong shape", lines[0]);
        Assert.Equal("  missing (1): gain", lines[1]);
        Assert.Equal("  unexpected (1): extra.weight", lines[2]);
        Assert.Equal("  wrong shape (1): proj.weight expected [4, 3] found [3, 4]", lines[3]);
        AssertSameValues(target, before);
    }

    [Fact]
    public void Load_TruncatesLongListsWithCount()
    {
        var target = new TinyNet(9);
        using var scope = torch.NewDisposeScope();
        var checkpoint = StateDictLoader.Export(target);
        for (int i = 0; i < 20; i++)
        {
            checkpoint[$"junk.{i:D2}"] = torch.zeros(1);
        }

        var ex = Assert.Throws<CheckpointMismatchException>(() => StateDictLoader.Load(target, checkpoint));

        Assert.Equal(20, ex.Unexpected.Count);
        Assert.Contains("unexpected (20): junk.00, junk.01", ex.Message);
        Assert.Contains("(+12 more)", ex.Message);
        Assert.DoesNotContain("junk.19", ex.Message);
    }

    [Fact]
    public void Load_IgnoreMissingPredicate_And_NonStrictMode()
    {
        var source = new TinyNet(10);
        var target = new TinyNet(11);
        using var scope = torch.NewDisposeScope();
        var checkpoint = StateDictLoader.Export(source);
        checkpoint.Remove("steps");

        var result = StateDictLoader.Load(target, checkpoint, ignoreMissing: name => name == "steps");
        Assert.Equal(["steps"], result.IgnoredMissing);
        Assert.Empty(result.Missing);

        checkpoint.Remove("gain");
        checkpoint["unused"] = torch.ones(1);
        Assert.Throws<CheckpointMismatchException>(() => StateDictLoader.Load(target, checkpoint));
        var lenient = StateDictLoader.Load(target, checkpoint, strict: false);
        Assert.Equal(["gain", "steps"], lenient.Missing);
        Assert.Equal(["unused"], lenient.Unexpected);
        Assert.True(target.named_parameters().Single(p => p.name == "proj.weight").parameter.Equals(checkpoint["proj.weight"]));

        checkpoint["proj.bias"] = torch.zeros(5);
        var shapeError = Assert.Throws<CheckpointMismatchException>(() => StateDictLoader.Load(target, checkpoint, strict: false));
        Assert.Empty(shapeError.Missing);
        Assert.Single(shapeError.ShapeMismatches);
    }

    [Fact]
    public void TiedWeights_ExportSkipsHead_AndLoadTiesThroughAlias()
    {
        var source = new TiedNet(12);
        var target = new TiedNet(13);
        using var scope = torch.NewDisposeScope();

        Assert.Equal(["embed_tokens.weight", "lm_head.weight"],
            StateDictLoader.NamedStateTensors(source).Select(t => t.Name).Order(StringComparer.Ordinal));
        var exported = StateDictLoader.Export(source, skip: ["lm_head.weight"]);
        Assert.Equal(["embed_tokens.weight"], exported.Keys.ToArray());

        var result = StateDictLoader.Load(target, exported);

        Assert.Equal(["lm_head.weight"], result.TiedFromAlias);
        Assert.True(target.EmbedWeight.Equals(source.EmbedWeight));
        Assert.True(target.HeadWeight.Equals(source.EmbedWeight));
    }

    [Fact]
    public void Export_ValuesAreDetachedAliases()
    {
        var net = new TinyNet(14);
        var exported = StateDictLoader.Export(net);

        Assert.False(exported["gain"].requires_grad);
        foreach (var tensor in exported.Values)
        {
            tensor.Dispose();
        }

        Assert.Equal(4, StateDictLoader.NamedStateTensors(net).Count(t => !t.Tensor.IsInvalid));
        using var output = net.forward(torch.ones(2, 3));
        Assert.Equal([2L, 4L], output.shape);
    }
}
