namespace HybridSharp.Training;

/// <summary>Renders the loss curve (train loss and, when present, eval loss) of a metrics log to a PNG with ScottPlot.</summary>
public static class LossPlot
{
    public static void Write(IReadOnlyList<TrainingMetric> metrics, string pngPath, string title = "Training loss")
    {
        var plot = new ScottPlot.Plot();
        var train = metrics.Where(m => m.Loss is not null).ToList();
        if (train.Count > 0)
        {
            var s = plot.Add.Scatter(train.Select(m => (double)m.Step).ToArray(), train.Select(m => m.Loss!.Value).ToArray());
            s.LegendText = "train loss";
            s.MarkerSize = 0;
        }
        var eval = metrics.Where(m => m.EvalLoss is not null).ToList();
        if (eval.Count > 0)
        {
            var s = plot.Add.Scatter(eval.Select(m => (double)m.Step).ToArray(), eval.Select(m => m.EvalLoss!.Value).ToArray());
            s.LegendText = "eval loss";
        }
        plot.Title(title);
        plot.XLabel("step");
        plot.YLabel("cross-entropy (nats/token)");
        plot.ShowLegend();
        var tmp = pngPath + ".tmp.png";
        plot.SavePng(tmp, 900, 500);
        File.Move(tmp, pngPath, overwrite: true);
    }
}
