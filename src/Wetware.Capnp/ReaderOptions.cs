namespace Wetware.Capnp;

/// <summary>
/// Limits a reader enforces while reading a message. Defaults are those of
/// shared/spec/README.md; each one exceeded raises <see cref="CapnpLimitException"/>.
/// </summary>
public sealed record ReaderOptions
{
    public const long DefaultMaxMessageBytes = 64L * 1024 * 1024;
    public const int DefaultMaxSegments = 512;
    public const long DefaultTraversalLimitWords = 8L * 1024 * 1024;
    public const int DefaultNestingLimit = 64;

    public static ReaderOptions Default { get; } = new();

    /// <summary>Largest message accepted, in bytes, segment table included (default 64 MiB).</summary>
    public long MaxMessageBytes { get; init; } = DefaultMaxMessageBytes;

    /// <summary>Most segments one message may have (default 512).</summary>
    public int MaxSegments { get; init; } = DefaultMaxSegments;

    /// <summary>Words of objects a reader may visit in one message, counted every time a pointer is followed (default 8 Mi words).</summary>
    public long TraversalLimitWords { get; init; } = DefaultTraversalLimitWords;

    /// <summary>How deep structs and lists may nest (default 64).</summary>
    public int NestingLimit { get; init; } = DefaultNestingLimit;
}
