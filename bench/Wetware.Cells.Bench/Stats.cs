namespace Wetware.Cells.Bench;

/// <summary>Per-operation times in microseconds: median and mean of every sample.</summary>
internal readonly record struct Stats(double Median, double Mean, int Count)
{
    public static Stats Of(List<double> samples)
    {
        double[] sorted = [.. samples.Order()];
        int n = sorted.Length;
        double median = n % 2 == 1 ? sorted[n / 2] : (sorted[(n / 2) - 1] + sorted[n / 2]) / 2;
        return new Stats(median, sorted.Average(), n);
    }

    public static double MedianOf(IEnumerable<double> values) => Of([.. values]).Median;
}
