using System.Buffers.Binary;
using System.Text;

namespace Wetware.Cells.Wasi;

/// <summary>The image root: path resolution, open, stat, readdir. Read-only throughout.</summary>
internal static partial class WasiPreview1
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private static Errno PathOpen(WasiContext ctx, GuestMemory mem, int fd, uint pathPtr, uint pathLen, ushort oflags, ulong rightsBase, ushort fdflags, uint result)
    {
        Errno e = Directory(ctx, fd, out DirectoryDescriptor? dir);
        if (e != Errno.Success)
        {
            return e;
        }
        // guest-abi.md: any write, create, truncate or append intent is EROFS, whether or not the path exists.
        if ((oflags & (OFlags.Creat | OFlags.Excl | OFlags.Trunc)) != 0
            || (rightsBase & Rights.WriteIntent) != 0
            || (fdflags & (FdFlags.Append | FdFlags.Dsync | FdFlags.Sync)) != 0)
        {
            return Errno.Rofs;
        }
        if (!mem.Contains(result, 4))
        {
            return Errno.Fault;
        }
        e = ResolvePath(mem, dir!, pathPtr, pathLen, out string path);
        if (e != Errno.Success)
        {
            return e;
        }
        try
        {
            if (dir!.Image.GetEntry(path) is not { } entry)
            {
                return Errno.Noent;
            }
            Descriptor opened;
            if (entry.Kind == ImageEntryKind.Directory)
            {
                opened = new DirectoryDescriptor(dir.Image, path, Rights.ReadableDirectory);
            }
            else
            {
                if ((oflags & OFlags.Directory) != 0)
                {
                    return Errno.Notdir;
                }
                opened = new FileDescriptor(dir.Image.OpenFile(path), path, entry, rightsBase & Rights.ReadableFile);
            }
            int newFd = ctx.Add(opened);
            if (newFd < 0)
            {
                opened.Close();
                return Errno.Mfile;
            }
            mem.TryWriteU32(result, (uint)newFd);
            return Errno.Success;
        }
        catch (Exception ex) when (IsFileSystemError(ex))
        {
            return FileSystemErrno(ex);
        }
    }

    private static Errno PathFilestatGet(WasiContext ctx, GuestMemory mem, int fd, uint pathPtr, uint pathLen, uint result)
    {
        Errno e = Directory(ctx, fd, out DirectoryDescriptor? dir);
        if (e != Errno.Success)
        {
            return e;
        }
        if (!mem.Contains(result, Layout.FilestatSize))
        {
            return Errno.Fault;
        }
        e = ResolvePath(mem, dir!, pathPtr, pathLen, out string path);
        if (e != Errno.Success)
        {
            return e;
        }
        try
        {
            if (dir!.Image.GetEntry(path) is not { } entry)
            {
                return Errno.Noent;
            }
            WriteFilestat(mem, result, path, entry);
            return Errno.Success;
        }
        catch (Exception ex) when (IsFileSystemError(ex))
        {
            return FileSystemErrno(ex);
        }
    }

    private static Errno FdFilestatGet(WasiContext ctx, GuestMemory mem, int fd, uint result)
    {
        Descriptor? d = ctx.Get(fd);
        if (d is null)
        {
            return Errno.Badf;
        }
        if (!mem.TrySpan(result, Layout.FilestatSize, out Span<byte> s))
        {
            return Errno.Fault;
        }
        try
        {
            switch (d)
            {
                case DirectoryDescriptor dir:
                    WriteFilestat(mem, result, dir.Path, dir.Image.GetEntry(dir.Path) ?? new ImageEntry(ImageEntryKind.Directory, 0, default));
                    break;
                case FileDescriptor file:
                    WriteFilestat(mem, result, file.Path, file.Entry with { Size = file.File.Length });
                    break;
                default:
                    // A stream: its type, nothing else.
                    s.Clear();
                    s[16] = d.FileType;
                    break;
            }
            return Errno.Success;
        }
        catch (Exception ex) when (IsFileSystemError(ex))
        {
            return FileSystemErrno(ex);
        }
    }

    private static Errno FdReaddir(WasiContext ctx, GuestMemory mem, int fd, uint buf, uint len, ulong cookie, uint usedPtr)
    {
        Descriptor? d = ctx.Get(fd);
        if (d is null)
        {
            return Errno.Badf;
        }
        if (d is not DirectoryDescriptor dir)
        {
            return Errno.Notdir;
        }
        if (!mem.TrySpan(buf, len, out Span<byte> dest) || !mem.Contains(usedPtr, 4))
        {
            return Errno.Fault;
        }
        IReadOnlyList<ImageDirectoryEntry> listing;
        try
        {
            // Cookie 0 starts a new pass (rewinddir): take a fresh listing then, and keep it for the pass.
            listing = dir.Listing(refresh: cookie == 0);
        }
        catch (Exception ex) when (IsFileSystemError(ex))
        {
            return FileSystemErrno(ex);
        }
        // Entries 0 and 1 are "." and "..", then the listing; an entry's cookie is its index + 1.
        ulong total = (ulong)listing.Count + 2;
        int used = 0;
        Span<byte> header = stackalloc byte[Layout.DirentHeaderSize];
        for (ulong i = cookie; i < total && used < dest.Length; i++)
        {
            string name;
            string entryPath;
            byte type;
            if (i < 2)
            {
                name = i == 0 ? "." : "..";
                entryPath = i == 0 ? dir.Path : Parent(dir.Path);
                type = FileType.Directory;
            }
            else
            {
                ImageDirectoryEntry entry = listing[(int)(i - 2)];
                name = entry.Name;
                entryPath = dir.Path.Length == 0 ? entry.Name : dir.Path + "/" + entry.Name;
                type = entry.Kind == ImageEntryKind.Directory ? FileType.Directory : FileType.RegularFile;
            }
            byte[] nameBytes = Encoding.UTF8.GetBytes(name);
            header.Clear();
            BinaryPrimitives.WriteUInt64LittleEndian(header, i + 1);
            BinaryPrimitives.WriteUInt64LittleEndian(header[8..], Inode(entryPath));
            BinaryPrimitives.WriteUInt32LittleEndian(header[16..], (uint)nameBytes.Length);
            header[20] = type;
            // An entry that does not fit is cut at the buffer's end: bufused == buf_len tells the guest to
            // come back with a larger buffer from this entry's cookie (wasi-libc's readdir does).
            used += CopyPartial(header, dest[used..]);
            used += CopyPartial(nameBytes, dest[used..]);
        }
        mem.TryWriteU32(usedPtr, (uint)used);
        return Errno.Success;
    }

    private static int CopyPartial(ReadOnlySpan<byte> source, Span<byte> dest)
    {
        int n = Math.Min(source.Length, dest.Length);
        source[..n].CopyTo(dest);
        return n;
    }

    private static Errno Directory(WasiContext ctx, int fd, out DirectoryDescriptor? dir)
    {
        dir = null;
        switch (ctx.Get(fd))
        {
            case null:
                return Errno.Badf;
            case DirectoryDescriptor d:
                dir = d;
                return Errno.Success;
            default:
                return Errno.Notdir;
        }
    }

    /// <summary>
    /// Turns a guest path into an image path: relative to the directory, or to the root when it starts with
    /// <c>/</c>; <c>.</c> and empty components dropped; <c>..</c> goes up but never above the root.
    /// </summary>
    private static Errno ResolvePath(GuestMemory mem, DirectoryDescriptor dir, uint pathPtr, uint pathLen, out string path)
    {
        path = "";
        if (pathLen > MaxPathBytes)
        {
            return Errno.Nametoolong;
        }
        if (!mem.TrySpan(pathPtr, pathLen, out Span<byte> bytes))
        {
            return Errno.Fault;
        }
        if (bytes.IsEmpty)
        {
            return Errno.Noent;
        }
        if (bytes.Contains((byte)0))
        {
            return Errno.Inval;
        }
        string text;
        try
        {
            text = StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            return Errno.Ilseq;
        }
        var parts = new List<string>();
        if (text[0] != '/' && dir.Path.Length > 0)
        {
            parts.AddRange(dir.Path.Split('/'));
        }
        foreach (string c in text.Split('/'))
        {
            if (c.Length == 0 || c == ".")
            {
                continue;
            }
            if (c == "..")
            {
                if (parts.Count > 0)
                {
                    parts.RemoveAt(parts.Count - 1);
                }
                continue;
            }
            parts.Add(c);
        }
        path = string.Join('/', parts);
        return Errno.Success;
    }

    private static string Parent(string path)
    {
        int slash = path.LastIndexOf('/');
        return slash < 0 ? "" : path[..slash];
    }

    private static void WriteFilestat(GuestMemory mem, uint result, string path, ImageEntry entry)
    {
        mem.TrySpan(result, Layout.FilestatSize, out Span<byte> s);
        s.Clear();
        ulong time = entry.ModifiedTime == default ? 0 : (ulong)((entry.ModifiedTime.UtcDateTime - DateTime.UnixEpoch).Ticks * 100);
        BinaryPrimitives.WriteUInt64LittleEndian(s[8..], Inode(path));
        s[16] = entry.Kind == ImageEntryKind.Directory ? FileType.Directory : FileType.RegularFile;
        BinaryPrimitives.WriteUInt64LittleEndian(s[24..], 1);
        BinaryPrimitives.WriteUInt64LittleEndian(s[32..], (ulong)entry.Size);
        BinaryPrimitives.WriteUInt64LittleEndian(s[40..], time);
        BinaryPrimitives.WriteUInt64LittleEndian(s[48..], time);
        BinaryPrimitives.WriteUInt64LittleEndian(s[56..], time);
    }

    /// <summary>A stable, non-zero inode number for an image path (FNV-1a of it).</summary>
    private static ulong Inode(string path)
    {
        ulong hash = 14695981039346656037;
        foreach (char ch in path)
        {
            hash = (hash ^ ch) * 1099511628211;
        }
        return hash == 0 ? 1 : hash;
    }

    private static bool IsFileSystemError(Exception e) => e is IOException or UnauthorizedAccessException;

    private static Errno FileSystemErrno(Exception e) => e switch
    {
        FileNotFoundException or DirectoryNotFoundException => Errno.Noent,
        UnauthorizedAccessException => Errno.Acces,
        _ => Errno.Io,
    };
}
