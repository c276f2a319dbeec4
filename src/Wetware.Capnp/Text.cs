using System.Text;

namespace Wetware.Capnp;

/// <summary>A zero-copy view of a Text value: UTF-8 bytes without the NUL terminator.</summary>
public readonly struct Text : IEquatable<Text>
{
    private readonly byte[]? _buf;
    private readonly int _offset;
    private readonly int _length;

    internal Text(byte[] buf, int offset, int length)
    {
        _buf = buf;
        _offset = offset;
        _length = length;
    }

    /// <summary>True when the pointer was null (as opposed to empty text).</summary>
    public bool IsNull => _buf is null;

    /// <summary>Length in UTF-8 bytes.</summary>
    public int Length => _length;

    /// <summary>The UTF-8 bytes.</summary>
    public ReadOnlySpan<byte> Utf8 => _buf is null ? default : new ReadOnlySpan<byte>(_buf, _offset, _length);

    /// <summary>Decodes the text (invalid UTF-8 becomes U+FFFD).</summary>
    public override string ToString() => _length == 0 ? string.Empty : Encoding.UTF8.GetString(_buf!, _offset, _length);

    public bool Equals(Text other) => Utf8.SequenceEqual(other.Utf8);

    public bool Equals(string? other) => other is not null && Encoding.UTF8.GetByteCount(other) == _length && ToString() == other;

    public override bool Equals(object? obj) => obj is Text t && Equals(t);

    public override int GetHashCode()
    {
        var h = new HashCode();
        h.AddBytes(Utf8);
        return h.ToHashCode();
    }

    public static implicit operator string(Text text) => text.ToString();

    public static bool operator ==(Text left, Text right) => left.Equals(right);

    public static bool operator !=(Text left, Text right) => !left.Equals(right);
}

/// <summary>A zero-copy view of a Data value.</summary>
public readonly struct Data : IEquatable<Data>
{
    private readonly byte[]? _buf;
    private readonly int _offset;
    private readonly int _length;

    internal Data(byte[] buf, int offset, int length)
    {
        _buf = buf;
        _offset = offset;
        _length = length;
    }

    /// <summary>True when the pointer was null (as opposed to empty data).</summary>
    public bool IsNull => _buf is null;

    public int Length => _length;

    public ReadOnlySpan<byte> Span => _buf is null ? default : new ReadOnlySpan<byte>(_buf, _offset, _length);

    public ReadOnlyMemory<byte> Memory => _buf is null ? default : new ReadOnlyMemory<byte>(_buf, _offset, _length);

    public byte this[int index] => Span[index];

    public byte[] ToArray() => Span.ToArray();

    public override string ToString() => Convert.ToHexString(Span);

    public bool Equals(Data other) => Span.SequenceEqual(other.Span);

    public override bool Equals(object? obj) => obj is Data d && Equals(d);

    public override int GetHashCode()
    {
        var h = new HashCode();
        h.AddBytes(Span);
        return h.ToHashCode();
    }

    public static bool operator ==(Data left, Data right) => left.Equals(right);

    public static bool operator !=(Data left, Data right) => !left.Equals(right);
}
