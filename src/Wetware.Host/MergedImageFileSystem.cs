using Wetware.Cells;
using Wetware.Images;
using CellEntry = Wetware.Cells.ImageEntry;

namespace Wetware.Host;

/// <summary>A merged image as a guest's read-only <c>/</c> (fd 3): paths map one to one, files are read where their layer keeps them.</summary>
internal sealed class MergedImageFileSystem(MergedImage image) : IImageFileSystem
{
    private static string Absolute(string path) => "/" + path;

    public CellEntry? GetEntry(string path)
    {
        if (!image.TryGet(Absolute(path), out Images.ImageEntry e))
        {
            return null;
        }
        return new CellEntry(e.IsDirectory ? ImageEntryKind.Directory : ImageEntryKind.File, e.IsDirectory ? 0 : e.Length, e.Modified);
    }

    public IReadOnlyList<ImageDirectoryEntry> ListDirectory(string path)
    {
        try
        {
            return image.List(Absolute(path))
                .Select(e => new ImageDirectoryEntry(ImagePath.Name(e.Path), e.IsDirectory ? ImageEntryKind.Directory : ImageEntryKind.File))
                .ToList();
        }
        catch (IOException e) when (e is not FileNotFoundException)
        {
            throw new FileNotFoundException(e.Message, path);
        }
    }

    public IImageFile OpenFile(string path)
    {
        if (!image.TryGet(Absolute(path), out Images.ImageEntry e) || e.IsDirectory)
        {
            throw new FileNotFoundException($"no file '{Absolute(path)}' in the image", path);
        }
        Stream stream;
        try
        {
            stream = image.OpenRead(Absolute(path));
        }
        catch (Exception ex) when (ex is ImageException or UnauthorizedAccessException or DirectoryNotFoundException)
        {
            throw new FileNotFoundException(ex.Message, path, ex);
        }
        return new File(stream);
    }

    /// <summary>Positional reads: straight from the file handle for local files, else seek and read under a lock.</summary>
    private sealed class File(Stream stream) : IImageFile
    {
        public long Length { get; } = stream.Length;

        public int Read(long offset, Span<byte> destination)
        {
            if (offset >= Length || destination.IsEmpty)
            {
                return 0;
            }
            if (stream is FileStream fs)
            {
                return RandomAccess.Read(fs.SafeFileHandle, destination, offset);
            }
            lock (stream)
            {
                stream.Position = offset;
                return stream.Read(destination);
            }
        }

        public void Dispose() => stream.Dispose();
    }
}
