using HybridSharp.Config;
using HybridSharp.Modules;
using TorchSharp;
using Xunit;
using static HybridSharp.Tests.Dma.DmaTestUtil;
using static TorchSharp.torch;

namespace HybridSharp.Tests.Dma;

/// <summary>keep_window top-k on hand-made examples.</summary>
[Collection("Torch")]
public sealed class DmaTopKTests
{
    private static HashSet<long> Kept(Tensor row, double min)
    {
        var v = row.to_type(ScalarType.Float64).data<double>().ToArray();
        return Enumerable.Range(0, v.Length).Where(j => v[j] > min).Select(j => (long)j).ToHashSet();
    }

    [Fact]
    public void KeepLargestKeepsTheLargestAndBreaksTiesTowardsLaterKeys()
    {
        using var m = tensor(new double[] { 5, 1, 3, 3, 2, 3, 0.5, 4, 4, 4, 4, 4 }).reshape(2, 6);
        using var kept = DynamicMaskAttention.KeepLargest(m, 3);
        double min = double.MinValue;
        Assert.Equal(new HashSet<long> { 0, 3, 5 }, Kept(kept[0], min)); // 5, then the two latest of the three 3s
        Assert.Equal(new HashSet<long> { 3, 4, 5 }, Kept(kept[1], min)); // all tied: the three latest
        Assert.Equal(5.0, kept[0, 0].item<double>());
        Assert.Equal(min, kept[0, 1].item<double>());
    }

    // One head, P = d = 2. q_proj = 0 makes every score 0, so the weights are softmax(M) over the kept keys;
    // v_proj = o_proj = I gives out_i = Σ_j p_ij x_j. dt_proj = [1, 0] and A = −1 give β_j = exp(−softplus(x_j0)):
    // smaller x_j0 ⇒ larger β. x_·0 = [0, 5, −5, 2, −3] ranks the keys 2 > 4 > 0 > 3 > 1.
    private static readonly double[] X0 = [0, 5, -5, 2, -3];
    private static readonly double[] X1 = [1, 2, 3, 4, 5];

    [Theory]
    [InlineData(2, false)]
    [InlineData(2, true)]
    [InlineData(5, false)]
    public void HandExampleKeepsTheExpectedKeys(int window, bool maskOnly)
    {
        using var _ = no_grad();
        long[][] keptByRow = window == 2
            ? [[0], [0, 1], [2, 0], [2, 0], [2, 4]]
            : [[0], [0, 1], [0, 1, 2], [0, 1, 2, 3], [0, 1, 2, 3, 4]];

        var cfg = TinyConfig(heads: 1, kvHeads: 1, headDim: 2, hidden: 2);
        using var dma = Build(cfg, new DmaConfig { KeepWindowSize = window }, ScalarType.Float64);
        SetParam(dma, "q_proj.weight", zeros(2, 2));
        SetParam(dma, "v_proj.weight", eye(2));
        SetParam(dma, "o_proj.weight", eye(2));
        SetParam(dma, "dt_proj.weight", tensor(new double[] { 1, 0 }));
        SetParam(dma, "A", tensor(new double[] { -1 }));
        using var x = stack([tensor(X0), tensor(X1)], 1).unsqueeze(0); // [1, 5, 2]

        if (maskOnly)
        {
            // The mask itself: finite entries of row i are exactly the kept keys.
            using var delta = nn.functional.softplus(tensor(X0)).view(1, 1, 5);
            using var causal = ones(5, 5, dtype: ScalarType.Bool).tril();
            using var m = DynamicMaskAttention.DynamicMask(delta, tensor(new double[] { -1 }), causal, 5, window < 5 ? window : null);
            for (int i = 0; i < 5; i++)
                Assert.Equal(keptByRow[i].ToHashSet(), Kept(m[0, 0, i], double.MinValue));
            return;
        }

        using var y = Run(dma, new RotaryEmbedding(2, 10000), x);
        for (int i = 0; i < 5; i++)
        {
            double z = 0, o0 = 0, o1 = 0;
            foreach (var j in keptByRow[i])
            {
                double w = Math.Exp(Math.Exp(-Math.Log(1 + Math.Exp(X0[j]))));
                z += w; o0 += w * X0[j]; o1 += w * X1[j];
            }
            Assert.Equal(o0 / z, y[0, i, 0].item<double>(), 12);
            Assert.Equal(o1 / z, y[0, i, 1].item<double>(), 12);
        }
    }

    [Fact]
    public void WindowChangesOutputOnlyWhereRowsExceedIt()
    {
        using var _ = no_grad();
        var cfg = TinyConfig();
        using var narrow = Build(cfg, new DmaConfig { KeepWindowSize = 4 }, ScalarType.Float64);
        using var wide = Build(cfg, new DmaConfig { KeepWindowSize = 64 }, ScalarType.Float64);
        var rope = new RotaryEmbedding(cfg.HeadDim, cfg.RopeTheta);
        using var x = randn(1, 9, cfg.HiddenSize, dtype: ScalarType.Float64);
        using var a = Run(narrow, rope, x);
        using var b = Run(wide, rope, x);
        Assert.True(MaxDiff(a.narrow(1, 0, 4), b.narrow(1, 0, 4)) <= 1e-12); // rows 0..3 see ≤ 4 keys
        for (int i = 4; i < 9; i++) Assert.True(MaxDiff(a[0, i], b[0, i]) > 1e-6, $"row {i} unchanged");
    }
}
