using HybridSharp.Eval.Mqar;
using Xunit;

namespace HybridSharp.Tests.Mqar;

public sealed class MqarGeneratorTests
{
    private static readonly MqarSpec Spec = new(VocabSize: 512, SeqLen: 64, NumKvPairs: 8, RandomNonQueries: false);

    [Fact]
    public void LabelsSitOnlyAtTheKQueryPositionsAfterTheContext()
    {
        var data = MqarGenerator.Generate(Spec, 200, seed: 11);
        int context = Spec.ContextLength;
        for (int e = 0; e < data.Count; e++)
        {
            var row = data.InputRow(e);
            var lab = data.LabelRow(e).ToArray();
            var labelled = Enumerable.Range(0, Spec.SeqLen).Where(p => lab[p] != MqarData.IgnoreIndex).ToList();
            Assert.Equal(Spec.NumKvPairs, labelled.Count);
            foreach (var p in labelled)
            {
                Assert.True(p >= context && (p - context) % 2 == 0, $"label at {p}");
                Assert.InRange(row[p], 1, Spec.VocabSize / 2 - 1);            // the query is a key
            }
            // Without random filler every other position after the context is 0.
            for (int p = context; p < Spec.SeqLen; p++)
                if (lab[p] == MqarData.IgnoreIndex) Assert.Equal(0, row[p]);
        }
    }

    [Fact]
    public void KeysAndValuesComeFromTheirHalvesAndEveryQueryIsAnsweredByTheContext()
    {
        var data = MqarGenerator.Generate(Spec with { RandomNonQueries = true }, 200, seed: 5);
        int k = Spec.NumKvPairs, half = Spec.VocabSize / 2;
        for (int e = 0; e < data.Count; e++)
        {
            var row = data.InputRow(e);
            var lab = data.LabelRow(e);
            var keys = new List<int>();
            var values = new List<int>();
            for (int j = 0; j < k; j++)
            {
                Assert.InRange(row[2 * j], 1, half - 1);
                Assert.InRange(row[2 * j + 1], half, Spec.VocabSize - 1);
                keys.Add(row[2 * j]);
                values.Add(row[2 * j + 1]);
            }
            Assert.Equal(k, keys.Distinct().Count());
            Assert.Equal(k, values.Distinct().Count());
            var queried = new HashSet<int>();
            for (int p = 2 * k; p < Spec.SeqLen; p++)
            {
                if (lab[p] == MqarData.IgnoreIndex) continue;
                int j = keys.IndexOf(row[p]);
                Assert.True(j >= 0, $"query {row[p]} at {p} is not a context key");
                Assert.True(2 * j < p);
                Assert.Equal(values[j], lab[p]);                               // predict the bound value
                Assert.Equal(row[2 * j + 1], lab[p]);
                queried.Add(row[p]);
            }
            Assert.Equal(k, queried.Count);                                    // every key is queried once
        }
        // Random filler: zeros are replaced, so the filler takes many ids.
        var filler = Enumerable.Range(0, data.Count).SelectMany(e =>
        {
            var row = data.InputRow(e).ToArray();
            var lab = data.LabelRow(e).ToArray();
            return Enumerable.Range(2 * k, Spec.SeqLen - 2 * k).Where(p => lab[p] == MqarData.IgnoreIndex).Select(p => row[p]);
        }).ToList();
        Assert.True(filler.Distinct().Count() > 100);
    }

    [Fact]
    public void SameSeedSameDataDifferentSeedDifferentData()
    {
        var a = MqarGenerator.Generate(Spec, 50, seed: 42);
        var b = MqarGenerator.Generate(Spec, 50, seed: 42);
        var c = MqarGenerator.Generate(Spec, 50, seed: 43);
        Assert.Equal(a.Inputs, b.Inputs);
        Assert.Equal(a.Labels, b.Labels);
        Assert.NotEqual(a.Inputs, c.Inputs);
        Assert.NotEqual(a.Labels, c.Labels);
    }

    [Fact]
    public void TrainAndTestSeedsAreDisjointAndDiffer()
    {
        foreach (long seed in new long[] { 0, 1, 12345 })
            foreach (var (t, k) in new[] { (64, 4), (128, 8), (256, 16), (512, 64) })
            {
                ulong train = MqarGenerator.TrainSeed(seed, t, k), test = MqarGenerator.TestSeed(seed, t, k);
                Assert.True(train < 1UL << 31);
                Assert.InRange(test, 1UL << 31, (1UL << 32) - 1);
                Assert.NotEqual(MqarGenerator.TrainSeed(seed, t, k), MqarGenerator.TrainSeed(seed + 1, t, k));
            }
        var (train1, test1) = MqarRunner.GenerateTask(new MqarProtocol { VocabSize = 512, TrainExamples = 20, TestExamples = 20 }, 64, 8);
        Assert.NotEqual(train1.Seed, test1.Seed);
        Assert.NotEqual(train1.Inputs, test1.Inputs);
    }

    [Fact]
    public void QueryGapsFollowThePowerLaw()
    {
        // a = 0.01: weights ∝ i^−0.99, so the first slot is chosen far more often than the last.
        var spec = new MqarSpec(512, 128, 4, RandomNonQueries: false);
        var data = MqarGenerator.Generate(spec, 2000, seed: 3);
        var counts = new int[spec.QuerySpace];
        for (int e = 0; e < data.Count; e++)
        {
            var lab = data.LabelRow(e);
            for (int g = 0; g < spec.QuerySpace; g++)
                if (lab[spec.ContextLength + 2 * g] != MqarData.IgnoreIndex) counts[g]++;
        }
        Assert.Equal(2000 * 4, counts.Sum());
        Assert.True(counts[0] > 4 * counts[^1], $"first {counts[0]}, last {counts[^1]}");
        Assert.True(counts.Take(10).Sum() > counts.Skip(counts.Length - 10).Sum() * 3);
    }

    [Fact]
    public void RejectsImpossibleSpecs()
    {
        Assert.Throws<ArgumentException>(() => MqarGenerator.Generate(new MqarSpec(512, 64, 17), 1, 0));   // 4K > T
        Assert.Throws<ArgumentException>(() => MqarGenerator.Generate(new MqarSpec(64, 64, 4), 1, 0));     // V ≤ T
        Assert.Throws<ArgumentException>(() => MqarGenerator.Generate(new MqarSpec(512, 63, 4), 1, 0));    // odd T
    }
}
