namespace Wetware.Cells.Wasi;

/// <summary>One entry of a guest's file descriptor table.</summary>
internal abstract class Descriptor
{
    public abstract byte FileType { get; }

    public abstract ulong RightsBase { get; }

    public virtual ulong RightsInheriting => 0;

    /// <summary>Frees what the descriptor holds; called on <c>fd_close</c> and when the cell ends.</summary>
    public virtual void Close()
    {
    }
}

/// <summary>fd 0: the guest reads it.</summary>
internal sealed class InputDescriptor(GuestInput input, bool terminal) : Descriptor
{
    public GuestInput Input => input;

    public override byte FileType => terminal ? Wasi.FileType.CharacterDevice : Wasi.FileType.Unknown;

    public override ulong RightsBase => Rights.InputStream;

    public override void Close() => input.Release();
}

/// <summary>fds 1 and 2: the guest writes them.</summary>
internal sealed class OutputDescriptor(GuestOutput output, bool terminal) : Descriptor
{
    public GuestOutput Output => output;

    public override byte FileType => terminal ? Wasi.FileType.CharacterDevice : Wasi.FileType.Unknown;

    public override ulong RightsBase => Rights.OutputStream;
}

/// <summary>fd 4: the RPC data stream, both ways. Closing it ends the guest-to-host direction (the host reads EOF).</summary>
internal sealed class RpcDescriptor(GuestInput input, GuestOutput output, Action close) : Descriptor
{
    public GuestInput Input => input;

    public GuestOutput Output => output;

    public override byte FileType => Wasi.FileType.Unknown;

    public override ulong RightsBase => Rights.InputStream | Rights.OutputStream;

    public override void Close() => close();
}

/// <summary>A directory of the image: fd 3 (the preopened <c>/</c>) or one opened below it.</summary>
internal sealed class DirectoryDescriptor(IImageFileSystem image, string path, ulong rights) : Descriptor
{
    private IReadOnlyList<ImageDirectoryEntry>? _listing;

    public IImageFileSystem Image => image;

    /// <summary>The directory's path in the image ("" for the root).</summary>
    public string Path => path;

    public override byte FileType => Wasi.FileType.Directory;

    public override ulong RightsBase => rights;

    // Every right may be asked for below a directory, so that a write-mode open shows its intent and gets
    // EROFS from path_open (wasi-libc masks the requested rights with these).
    public override ulong RightsInheriting => Rights.All;

    /// <summary>The listing, taken once per open directory so <c>fd_readdir</c> cookies stay stable.</summary>
    public IReadOnlyList<ImageDirectoryEntry> Listing(bool refresh)
    {
        if (_listing is null || refresh)
        {
            _listing = image.ListDirectory(path);
        }
        return _listing;
    }
}

/// <summary>A regular file of the image, read-only, with a position.</summary>
internal sealed class FileDescriptor(IImageFile file, string path, ImageEntry entry, ulong rights) : Descriptor
{
    public IImageFile File => file;

    public string Path => path;

    /// <summary>The file's metadata when it was opened.</summary>
    public ImageEntry Entry => entry;

    public long Position { get; set; }

    public override byte FileType => Wasi.FileType.RegularFile;

    public override ulong RightsBase => rights;

    public override void Close() => file.Dispose();
}
