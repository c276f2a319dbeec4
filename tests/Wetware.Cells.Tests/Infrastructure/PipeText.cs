using System.Buffers;
using System.IO.Pipelines;
using System.Text;

namespace Wetware.Cells.Tests;

internal static class PipeText
{
    /// <summary>Reads until the pipe completes.</summary>
    public static async Task<byte[]> ReadToEndAsync(PipeReader reader)
    {
        var all = new MemoryStream();
        while (true)
        {
            ReadResult r = await reader.ReadAsync();
            foreach (ReadOnlyMemory<byte> segment in r.Buffer)
            {
                all.Write(segment.Span);
            }
            reader.AdvanceTo(r.Buffer.End);
            if (r.IsCompleted)
            {
                return all.ToArray();
            }
        }
    }

    /// <summary>Reads until the text read so far contains <paramref name="expected"/>.</summary>
    public static async Task<string> ReadUntilAsync(PipeReader reader, string expected)
    {
        var text = new StringBuilder();
        while (!text.ToString().Contains(expected, StringComparison.Ordinal))
        {
            ReadResult r = await reader.ReadAsync();
            text.Append(Encoding.UTF8.GetString(r.Buffer.ToArray()));
            reader.AdvanceTo(r.Buffer.End);
            if (r.IsCompleted)
            {
                break;
            }
        }
        return text.ToString();
    }

    public static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}
