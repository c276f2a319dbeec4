namespace Wetware.Images;

/// <summary>
/// One LAYER argument of <c>ww run</c> (shared/spec/cli.md): a local directory, an IPFS path, the
/// bundled standard image (<c>@std</c>), or a targeted mount <c>SOURCE:/TARGET</c>.
/// </summary>
public abstract record LayerSpec
{
    /// <summary>The argument as the user wrote it, for messages.</summary>
    public required string Text { get; init; }

    /// <summary>
    /// Parses a LAYER. It is split at its first <c>:</c> and is a mount only when the part after it
    /// starts with <c>/</c>; otherwise the whole text is the source.
    /// </summary>
    public static LayerSpec Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length == 0)
        {
            throw new ImageException("an empty layer argument");
        }
        int colon = text.IndexOf(':');
        if (colon >= 0 && colon + 1 < text.Length && text[colon + 1] == '/')
        {
            string source = text[..colon];
            string target = text[(colon + 1)..];
            if (source.Length == 0)
            {
                throw new ImageException($"layer '{text}': a mount needs a SOURCE before ':'");
            }
            return new MountLayer(ParseSource(source, text), ImagePath.Normalize(target, text)) { Text = text };
        }
        return ParseSource(text, text);
    }

    private static LayerSpec ParseSource(string source, string text)
    {
        if (source == "@std")
        {
            return new StdLayer { Text = text };
        }
        if (source.StartsWith("/ipfs/", StringComparison.Ordinal))
        {
            string rest = source["/ipfs/".Length..];
            if (rest.Length == 0 || rest.StartsWith('/'))
            {
                throw new ImageException($"layer '{text}': an IPFS path needs a CID (/ipfs/<cid>[/sub/path])");
            }
            return new IpfsLayer(source) { Text = text };
        }
        return new LocalLayer(source) { Text = text };
    }
}

/// <summary>A directory on this machine (or, as a mount source, a file).</summary>
public sealed record LocalLayer(string Path) : LayerSpec;

/// <summary>An IPFS path, <c>/ipfs/&lt;cid&gt;[/sub/path]</c>.</summary>
public sealed record IpfsLayer(string Path) : LayerSpec;

/// <summary>The standard image bundled with <c>ww</c>.</summary>
public sealed record StdLayer : LayerSpec;

/// <summary><c>SOURCE:/TARGET</c>: the source (a file or a tree) appears at <paramref name="Target"/>.</summary>
public sealed record MountLayer(LayerSpec Source, string Target) : LayerSpec;
