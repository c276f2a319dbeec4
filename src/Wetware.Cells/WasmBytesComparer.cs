namespace Wetware.Cells;

/// <summary>
/// Finds a module's compiled form by its bytes without hashing all of them: the hash takes the length and
/// three 64-byte samples, and equality is a full comparison (memcmp speed), so a start with known bytes costs
/// neither a SHA-256 of the module nor a key string. Two modules that share length and samples only cost an
/// extra comparison; they can never be confused.
/// </summary>
internal sealed class WasmBytesComparer : IEqualityComparer<byte[]>, IAlternateEqualityComparer<ReadOnlySpan<byte>, byte[]>
{
    private const int SampleBytes = 64;

    public static WasmBytesComparer Instance { get; } = new();

    public bool Equals(byte[]? x, byte[]? y) => ReferenceEquals(x, y) || (x is not null && y is not null && x.AsSpan().SequenceEqual(y));

    public int GetHashCode(byte[] obj) => Hash(obj);

    public bool Equals(ReadOnlySpan<byte> alternate, byte[] other) => alternate.SequenceEqual(other);

    public int GetHashCode(ReadOnlySpan<byte> alternate) => Hash(alternate);

    public byte[] Create(ReadOnlySpan<byte> alternate) => alternate.ToArray();

    private static int Hash(ReadOnlySpan<byte> bytes)
    {
        var hash = default(HashCode);
        hash.Add(bytes.Length);
        int sample = Math.Min(SampleBytes, bytes.Length);
        hash.AddBytes(bytes[..sample]);
        hash.AddBytes(bytes.Slice((bytes.Length - sample) / 2, sample));
        hash.AddBytes(bytes[^sample..]);
        return hash.ToHashCode();
    }
}
