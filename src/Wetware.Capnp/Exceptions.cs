namespace Wetware.Capnp;

/// <summary>Base type of every error the Cap'n Proto runtime raises about a message.</summary>
public class CapnpException : Exception
{
    public CapnpException(string message) : base(message) { }

    public CapnpException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>The bytes are not a valid Cap'n Proto message (bad pointer, out-of-bounds object, truncated frame...).</summary>
public sealed class CapnpFormatException : CapnpException
{
    public CapnpFormatException(string message) : base(message) { }
}

/// <summary>The limits a reader enforces (shared/spec/README.md, "Limits").</summary>
public enum CapnpLimit
{
    /// <summary>Total size of one message in bytes.</summary>
    MessageSize,

    /// <summary>Number of segments in one message.</summary>
    SegmentCount,

    /// <summary>Words of pointer traversal per message (stops amplification attacks).</summary>
    TraversalWords,

    /// <summary>Depth of nested structs and lists.</summary>
    NestingDepth,
}

/// <summary>A message exceeded one of the reader's limits; <see cref="Limit"/> names which.</summary>
public sealed class CapnpLimitException : CapnpException
{
    public CapnpLimitException(CapnpLimit limit, long value)
        : base($"Cap'n Proto message exceeds the {Describe(limit)} limit ({value} {Unit(limit)})")
    {
        Limit = limit;
        Value = value;
    }

    /// <summary>Which limit was exceeded.</summary>
    public CapnpLimit Limit { get; }

    /// <summary>The configured value of that limit.</summary>
    public long Value { get; }

    private static string Describe(CapnpLimit limit) => limit switch
    {
        CapnpLimit.MessageSize => "message size",
        CapnpLimit.SegmentCount => "segment count",
        CapnpLimit.TraversalWords => "pointer traversal",
        CapnpLimit.NestingDepth => "nesting depth",
        _ => limit.ToString(),
    };

    private static string Unit(CapnpLimit limit) => limit switch
    {
        CapnpLimit.MessageSize => "bytes",
        CapnpLimit.SegmentCount => "segments",
        CapnpLimit.TraversalWords => "words",
        _ => "levels",
    };
}

/// <summary>Throw helpers: keep the throwing code out of small hot methods so they inline.</summary>
internal static class ThrowHelper
{
    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    public static void Format(string message) => throw new CapnpFormatException(message);

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    public static T Format<T>(string message) => throw new CapnpFormatException(message);

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    public static void Limit(CapnpLimit limit, long value) => throw new CapnpLimitException(limit, value);

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    public static void IndexOutOfRange(int index, int count) =>
        throw new ArgumentOutOfRangeException(nameof(index), index, $"index {index} is outside a list of {count} elements");

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    public static void InvalidOperation(string message) => throw new InvalidOperationException(message);
}
