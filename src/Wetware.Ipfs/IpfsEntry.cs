namespace Wetware.Ipfs;

/// <summary>The kind of a UnixFS entry.</summary>
public enum IpfsEntryType
{
    File,
    Directory,
    /// <summary>A symlink, raw block or anything else UnixFS can hold.</summary>
    Other,
}

/// <summary>One entry of a directory listing (<c>ls</c>).</summary>
/// <param name="Size">The file size in bytes (0 for a directory on js-ipfs; Kubo gives the directory's cumulative size).</param>
public sealed record IpfsEntry(string Name, Cid Cid, ulong Size, IpfsEntryType Type);

/// <summary>The answer of <c>dag/resolve</c>: the last node reached and the path left inside it.</summary>
/// <param name="RemainderPath">Empty when the whole path was resolved to <paramref name="Cid"/>.</param>
public sealed record DagResolved(Cid Cid, string RemainderPath);

/// <summary>How <c>add</c> builds the DAG; the defaults are Kubo's and js-ipfs's (CIDv0, 256 KiB chunks, balanced).</summary>
public sealed record IpfsAddOptions
{
    /// <summary>0 (dag-pb, <c>Qm...</c>) or 1.</summary>
    public int CidVersion { get; init; }

    /// <summary>Leaves as raw blocks; null leaves the node's default (false for CIDv0, true for CIDv1 on both nodes).</summary>
    public bool? RawLeaves { get; init; }

    /// <summary>The node's chunker, e.g. <c>size-262144</c>; null leaves the node's default.</summary>
    public string? Chunker { get; init; }

    /// <summary>Pin what was added (the node's default is true).</summary>
    public bool Pin { get; init; } = true;

    /// <summary>Only compute the CID: nothing is stored (the node's <c>only-hash</c>).</summary>
    public bool OnlyHash { get; init; }
}
