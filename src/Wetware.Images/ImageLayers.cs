namespace Wetware.Images;

/// <summary>How layers that are not local directories are reached.</summary>
public sealed record ImageOptions
{
    /// <summary>The directory of the bundled standard image (<c>@std</c>); null when this build has none.</summary>
    public string? StdImage { get; init; }

    /// <summary>Fetches an IPFS layer's tree; null until an IPFS node is configured.</summary>
    public Func<IpfsLayer, CancellationToken, Task<ILayerTree>>? Ipfs { get; init; }
}

/// <summary>Turns LAYER arguments into trees and merges them.</summary>
public static class ImageLayers
{
    /// <summary>Parses, opens and merges the layers, in order.</summary>
    public static async Task<MergedImage> MergeAsync(IEnumerable<string> layers, ImageOptions options, CancellationToken cancellationToken = default)
    {
        var trees = new List<(ILayerTree, string)>();
        foreach (string text in layers)
        {
            LayerSpec spec = LayerSpec.Parse(text);
            trees.Add(spec is MountLayer mount
                ? (await OpenAsync(mount.Source, options, asMount: true, cancellationToken).ConfigureAwait(false), mount.Target)
                : (await OpenAsync(spec, options, asMount: false, cancellationToken).ConfigureAwait(false), "/"));
        }
        return MergedImage.Merge(trees);
    }

    private static async Task<ILayerTree> OpenAsync(LayerSpec spec, ImageOptions options, bool asMount, CancellationToken cancellationToken)
    {
        switch (spec)
        {
            case LocalLayer local:
                if (Directory.Exists(local.Path))
                {
                    return new LocalDirectoryTree(local.Path, spec.Text);
                }
                if (File.Exists(local.Path))
                {
                    return asMount
                        ? new LocalFileTree(local.Path, spec.Text)
                        : throw new ImageException($"layer '{spec.Text}' is a file: only a mount (SOURCE:/TARGET) can place a file in the image");
                }
                throw new ImageException($"layer '{spec.Text}' does not exist");
            case StdLayer:
                if (options.StdImage is { } std && Directory.Exists(std))
                {
                    return new LocalDirectoryTree(std, spec.Text);
                }
                throw new ImageException($"layer '{spec.Text}': the bundled standard image is not part of this build");
            case IpfsLayer ipfs:
                if (options.Ipfs is null)
                {
                    throw new ImageException($"layer '{spec.Text}': IPFS layers need an IPFS node, and this build of ww cannot fetch them yet");
                }
                return await options.Ipfs(ipfs, cancellationToken).ConfigureAwait(false);
            default:
                throw new ImageException($"layer '{spec.Text}': a mount cannot be the source of another mount");
        }
    }
}
