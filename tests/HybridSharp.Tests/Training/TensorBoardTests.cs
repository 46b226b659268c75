using System.Buffers.Binary;
using System.Text;
using HybridSharp.Data.Corpus;
using HybridSharp.Training;
using Xunit;

namespace HybridSharp.Tests.Training;

/// <summary>
/// Training writes TensorBoard event files beside metrics.jsonl; read back here with a small reader of the format
/// (TFRecord frames holding <c>Event</c> protobufs with <c>Summary.Value{tag, simple_value}</c>), they hold the same
/// losses and learning rates at the same steps.
/// </summary>
[Collection("Torch")]
public sealed class TensorBoardTests
{
    [Fact]
    public void EventFilesHoldTheLoggedScalars()
    {
        using var tmp = new TempDir();
        TrainerTests.BuildArithmeticData(tmp["data"], 200);
        using var data = TokenDataset.Open(tmp["data"]);
        using var model = TrainerTests.TinyModel();
        var options = new TrainerOptions
        {
            Steps = 6, BatchSize = 4, SeqLen = 32, LearningRate = 1e-2, MinLearningRate = 1e-3, WarmupSteps = 2,
            EvalEvery = 3, EvalBatches = 2, CheckpointEvery = 0, LogEvery = 1, Seed = 11,
        };
        new Trainer(model, data, options, tmp["run"]).Run(resume: false);

        var logged = MetricsLog.Read(Path.Combine(tmp["run"], Trainer.MetricsFileName));
        var files = Directory.GetFiles(Path.Combine(tmp["run"], MetricsLog.TensorBoardDirName), "events.out.tfevents.*", SearchOption.AllDirectories);
        var scalars = files.SelectMany(ReadScalars).ToList();
        foreach (var m in logged.Where(m => m.Loss is not null))
        {
            Assert.Equal((float)m.Loss!.Value, Assert.Single(scalars, s => s.Tag == "train/loss" && s.Step == m.Step).Value);
            Assert.Equal((float)m.LearningRate!.Value, Assert.Single(scalars, s => s.Tag == "train/lr" && s.Step == m.Step).Value);
        }
        Assert.Equal(logged.Count(m => m.EvalLoss is not null), scalars.Count(s => s.Tag == "eval/loss"));
        Assert.Contains(scalars, s => s.Tag == "train/tokens_per_s");
        Assert.DoesNotContain(scalars, s => s.Tag == "train/moe_load_balance"); // a dense model has no routing to balance
    }

    [Fact]
    public void MoeModelsLogTheirLoadBalanceLoss()
    {
        using var tmp = new TempDir();
        TrainerTests.BuildArithmeticData(tmp["data"], 200);
        using var data = TokenDataset.Open(tmp["data"]);
        using var model = new HybridSharp.Models.CausalLM(HybridSharp.Config.Presets.Get("doge-moe-tiny"), seed: 3);
        var options = new TrainerOptions { Steps = 3, BatchSize = 2, SeqLen = 32, WarmupSteps = 1, EvalEvery = 0, CheckpointEvery = 0, LogEvery = 1, Seed = 3 };
        new Trainer(model, data, options, tmp["run"]).Run(resume: false);

        var logged = MetricsLog.Read(Path.Combine(tmp["run"], Trainer.MetricsFileName));
        var scalars = Directory.GetFiles(Path.Combine(tmp["run"], MetricsLog.TensorBoardDirName), "events.out.tfevents.*", SearchOption.AllDirectories)
            .SelectMany(ReadScalars).Where(s => s.Tag == "train/moe_load_balance").ToList();
        Assert.Equal(3, scalars.Count);
        foreach (var m in logged)
        {
            Assert.True(m.MoeLoadBalance is > 0.5 and < 256, $"load balance {m.MoeLoadBalance} at step {m.Step}");
            Assert.Equal((float)m.MoeLoadBalance!.Value, Assert.Single(scalars, s => s.Step == m.Step).Value);
        }
    }

    /// <summary>Scalars of one event file: TFRecord frames (length, crc, Event bytes, crc) → (tag, step, value).</summary>
    internal static IEnumerable<(string Tag, long Step, float Value)> ReadScalars(string path)
    {
        var bytes = File.ReadAllBytes(path);
        for (int at = 0; at + 12 <= bytes.Length;)
        {
            long length = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(at));
            var evt = bytes.AsSpan(at + 12, (int)length).ToArray();
            at += 12 + (int)length + 4;
            long step = 0;
            var values = new List<(string, float)>();
            foreach (var (field, wire, value, data) in Fields(evt))
            {
                if (field == 2 && wire == 0) step = (long)value;
                if (field == 5 && wire == 2) // Summary
                    foreach (var (vf, vw, _, vdata) in Fields(data!))
                        if (vf == 1 && vw == 2) // Summary.Value
                        {
                            string? tag = null;
                            float? simple = null;
                            foreach (var (ff, fw, fv, fdata) in Fields(vdata!))
                            {
                                if (ff == 1 && fw == 2) tag = Encoding.UTF8.GetString(fdata!);
                                if (ff == 2 && fw == 5) simple = BitConverter.Int32BitsToSingle((int)fv);
                            }
                            if (tag is not null && simple is { } s) values.Add((tag, s));
                        }
            }
            foreach (var (tag, v) in values) yield return (tag, step, v);
        }
    }

    /// <summary>Protobuf fields: (number, wire type, varint / fixed value, length-delimited bytes).</summary>
    private static List<(int Field, int Wire, ulong Value, byte[]? Data)> Fields(byte[] message)
    {
        var list = new List<(int, int, ulong, byte[]?)>();
        int i = 0;
        ulong Varint()
        {
            ulong v = 0;
            for (int shift = 0; ; shift += 7)
            {
                byte b = message[i++];
                v |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80) return v;
            }
        }
        while (i < message.Length)
        {
            var key = Varint();
            int field = (int)(key >> 3), wire = (int)(key & 7);
            switch (wire)
            {
                case 0: list.Add((field, wire, Varint(), null)); break;
                case 1: list.Add((field, wire, BinaryPrimitives.ReadUInt64LittleEndian(message.AsSpan(i)), null)); i += 8; break;
                case 2: { int n = (int)Varint(); list.Add((field, wire, 0, message.AsSpan(i, n).ToArray())); i += n; break; }
                case 5: list.Add((field, wire, BinaryPrimitives.ReadUInt32LittleEndian(message.AsSpan(i)), null)); i += 4; break;
                default: throw new InvalidDataException($"unexpected wire type {wire}");
            }
        }
        return list;
    }
}
