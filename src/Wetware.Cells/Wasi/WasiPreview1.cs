using System.Buffers.Binary;
using System.Security.Cryptography;
using Wasmtime;

namespace Wetware.Cells.Wasi;

/// <summary>
/// Our <c>wasi_snapshot_preview1</c>: the exact surface of guest-abi.md, defined once on a shared
/// <see cref="Linker"/>; each call finds its guest's <see cref="WasiContext"/> in the caller's store.
/// Every pointer is checked (<see cref="GuestMemory"/>); anything a guest passes yields an errno, never a
/// host fault. Functions outside the surface answer ENOSYS (sockets and <c>proc_raise</c>: ENOTSUP), and
/// those that would change the image answer EROFS or EBADF.
/// </summary>
internal static partial class WasiPreview1
{
    public const string ModuleName = "wasi_snapshot_preview1";

    /// <summary>Every function preview1 defines: a guest may import any of these and nothing else.</summary>
    public static readonly IReadOnlySet<string> FunctionNames = new HashSet<string>(StringComparer.Ordinal)
    {
        "args_get", "args_sizes_get", "environ_get", "environ_sizes_get", "clock_res_get", "clock_time_get",
        "fd_advise", "fd_allocate", "fd_close", "fd_datasync", "fd_fdstat_get", "fd_fdstat_set_flags",
        "fd_fdstat_set_rights", "fd_filestat_get", "fd_filestat_set_size", "fd_filestat_set_times", "fd_pread",
        "fd_prestat_get", "fd_prestat_dir_name", "fd_pwrite", "fd_read", "fd_readdir", "fd_renumber", "fd_seek",
        "fd_sync", "fd_tell", "fd_write", "path_create_directory", "path_filestat_get", "path_filestat_set_times",
        "path_link", "path_open", "path_readlink", "path_remove_directory", "path_rename", "path_symlink",
        "path_unlink_file", "poll_oneoff", "proc_exit", "proc_raise", "sched_yield", "random_get", "sock_accept",
        "sock_recv", "sock_send", "sock_shutdown",
    };

    private const int MaxPathBytes = 4096;

    public static void Define(Linker linker)
    {
        const string M = ModuleName;

        // Program arguments and environment.
        linker.DefineFunction(M, "args_sizes_get", (Caller c, int argc, int bufSize) =>
            E(SizesGet(Ctx(c).Args, Mem(c), (uint)argc, (uint)bufSize)));
        linker.DefineFunction(M, "args_get", (Caller c, int argv, int buf) =>
            E(ListGet(Ctx(c).Args, Mem(c), (uint)argv, (uint)buf)));
        linker.DefineFunction(M, "environ_sizes_get", (Caller c, int count, int bufSize) =>
            E(SizesGet(Ctx(c).Env, Mem(c), (uint)count, (uint)bufSize)));
        linker.DefineFunction(M, "environ_get", (Caller c, int environ, int buf) =>
            E(ListGet(Ctx(c).Env, Mem(c), (uint)environ, (uint)buf)));

        // Clocks, randomness, scheduling, exit.
        linker.DefineFunction(M, "clock_res_get", (Caller c, int id, int result) =>
            E(ClockResGet(Mem(c), id, (uint)result)));
        linker.DefineFunction(M, "clock_time_get", (Caller c, int id, long precision, int result) =>
            E(ClockTimeGet(Mem(c), id, (uint)result)));
        linker.DefineFunction(M, "random_get", (Caller c, int buf, int len) =>
            E(RandomGet(Mem(c), (uint)buf, (uint)len)));
        linker.DefineFunction(M, "sched_yield", (Caller c) =>
        {
            Thread.Yield();
            return 0;
        });
        linker.DefineFunction(M, "proc_exit", (Caller c, int code) =>
        {
            Ctx(c).ExitCode = code;
            throw new GuestExitException(code);
        });
        linker.DefineFunction(M, "proc_raise", (Caller c, int signal) => E(Errno.Notsup));

        // Descriptors.
        linker.DefineFunction(M, "fd_close", (Caller c, int fd) => E(FdClose(Ctx(c), fd)));
        linker.DefineFunction(M, "fd_fdstat_get", (Caller c, int fd, int result) =>
            E(FdFdstatGet(Ctx(c), Mem(c), fd, (uint)result)));
        linker.DefineFunction(M, "fd_filestat_get", (Caller c, int fd, int result) =>
            E(FdFilestatGet(Ctx(c), Mem(c), fd, (uint)result)));
        linker.DefineFunction(M, "fd_prestat_get", (Caller c, int fd, int result) =>
            E(FdPrestatGet(Ctx(c), Mem(c), fd, (uint)result)));
        linker.DefineFunction(M, "fd_prestat_dir_name", (Caller c, int fd, int path, int len) =>
            E(FdPrestatDirName(Ctx(c), Mem(c), fd, (uint)path, (uint)len)));
        linker.DefineFunction(M, "fd_read", (Caller c, int fd, int iovs, int iovsLen, int nread) =>
            E(FdRead(Ctx(c), Mem(c), fd, (uint)iovs, (uint)iovsLen, null, (uint)nread)));
        linker.DefineFunction(M, "fd_pread", (Caller c, int fd, int iovs, int iovsLen, long offset, int nread) =>
            E(FdRead(Ctx(c), Mem(c), fd, (uint)iovs, (uint)iovsLen, offset, (uint)nread)));
        linker.DefineFunction(M, "fd_write", (Caller c, int fd, int iovs, int iovsLen, int nwritten) =>
            E(FdWrite(Ctx(c), Mem(c), fd, (uint)iovs, (uint)iovsLen, (uint)nwritten)));
        linker.DefineFunction(M, "fd_seek", (Caller c, int fd, long offset, int whence, int result) =>
            E(FdSeek(Ctx(c), Mem(c), fd, offset, whence, (uint)result)));
        linker.DefineFunction(M, "fd_tell", (Caller c, int fd, int result) =>
            E(FdSeek(Ctx(c), Mem(c), fd, 0, 1, (uint)result)));
        linker.DefineFunction(M, "fd_readdir", (Caller c, int fd, int buf, int len, long cookie, int used) =>
            E(FdReaddir(Ctx(c), Mem(c), fd, (uint)buf, (uint)len, (ulong)cookie, (uint)used)));

        // Descriptor calls that would change something: no guest-visible descriptor is writable that way.
        linker.DefineFunction(M, "fd_pwrite", (Caller c, int fd, int iovs, int iovsLen, long offset, int nwritten) =>
            E(Ctx(c).Get(fd) is InputDescriptor or OutputDescriptor or RpcDescriptor ? Errno.Spipe : Errno.Badf));
        linker.DefineFunction(M, "fd_allocate", (Caller c, int fd, long offset, long len) => E(Errno.Badf));
        linker.DefineFunction(M, "fd_filestat_set_size", (Caller c, int fd, long size) => E(Errno.Badf));
        linker.DefineFunction(M, "fd_filestat_set_times", (Caller c, int fd, long atim, long mtim, int flags) => E(Errno.Badf));

        // Outside the surface.
        linker.DefineFunction(M, "fd_advise", (Caller c, int fd, long offset, long len, int advice) => E(Errno.Nosys));
        linker.DefineFunction(M, "fd_datasync", (Caller c, int fd) => E(Errno.Nosys));
        linker.DefineFunction(M, "fd_sync", (Caller c, int fd) => E(Errno.Nosys));
        linker.DefineFunction(M, "fd_fdstat_set_flags", (Caller c, int fd, int flags) => E(Errno.Nosys));
        linker.DefineFunction(M, "fd_fdstat_set_rights", (Caller c, int fd, long rightsBase, long rightsInheriting) => E(Errno.Nosys));
        linker.DefineFunction(M, "fd_renumber", (Caller c, int fd, int to) => E(Errno.Nosys));
        linker.DefineFunction(M, "path_readlink", (Caller c, int fd, int path, int pathLen, int buf, int bufLen, int used) => E(Errno.Nosys));

        // Paths.
        linker.DefineFunction(M, "path_open", (Caller c, int fd, int dirflags, int path, int pathLen, int oflags, long rightsBase, long rightsInheriting, int fdflags, int result) =>
            E(PathOpen(Ctx(c), Mem(c), fd, (uint)path, (uint)pathLen, (ushort)oflags, (ulong)rightsBase, (ushort)fdflags, (uint)result)));
        linker.DefineFunction(M, "path_filestat_get", (Caller c, int fd, int flags, int path, int pathLen, int result) =>
            E(PathFilestatGet(Ctx(c), Mem(c), fd, (uint)path, (uint)pathLen, (uint)result)));
        linker.DefineFunction(M, "path_create_directory", (Caller c, int fd, int path, int pathLen) => E(ReadOnly(Ctx(c), fd)));
        linker.DefineFunction(M, "path_remove_directory", (Caller c, int fd, int path, int pathLen) => E(ReadOnly(Ctx(c), fd)));
        linker.DefineFunction(M, "path_unlink_file", (Caller c, int fd, int path, int pathLen) => E(ReadOnly(Ctx(c), fd)));
        linker.DefineFunction(M, "path_filestat_set_times", (Caller c, int fd, int flags, int path, int pathLen, long atim, long mtim, int fstFlags) => E(ReadOnly(Ctx(c), fd)));
        linker.DefineFunction(M, "path_link", (Caller c, int oldFd, int oldFlags, int oldPath, int oldLen, int newFd, int newPath, int newLen) => E(ReadOnly(Ctx(c), newFd)));
        linker.DefineFunction(M, "path_rename", (Caller c, int fd, int oldPath, int oldLen, int newFd, int newPath, int newLen) => E(ReadOnly(Ctx(c), newFd)));
        linker.DefineFunction(M, "path_symlink", (Caller c, int oldPath, int oldLen, int fd, int newPath, int newLen) => E(ReadOnly(Ctx(c), fd)));

        linker.DefineFunction(M, "poll_oneoff", (Caller c, int subscriptions, int events, int count, int nevents) =>
            E(PollOneoff(Ctx(c), Mem(c), (uint)subscriptions, (uint)events, (uint)count, (uint)nevents)));

        // No sockets: the RPC stream at fd 4 is the guest's only connection.
        linker.DefineFunction(M, "sock_accept", (Caller c, int fd, int flags, int result) => E(Errno.Notsup));
        linker.DefineFunction(M, "sock_recv", (Caller c, int fd, int data, int dataLen, int flags, int len, int oflags) => E(Errno.Notsup));
        linker.DefineFunction(M, "sock_send", (Caller c, int fd, int data, int dataLen, int flags, int len) => E(Errno.Notsup));
        linker.DefineFunction(M, "sock_shutdown", (Caller c, int fd, int how) => E(Errno.Notsup));
    }

    private static int E(Errno e) => (int)e;

    private static WasiContext Ctx(Caller caller) => (WasiContext)caller.GetData()!;

    private static GuestMemory Mem(Caller caller)
    {
        WasiContext ctx = Ctx(caller);
        // During instantiation (a start function) the memory is not known yet: ask the caller.
        ctx.Memory ??= caller.GetMemory("memory");
        return new GuestMemory(ctx.Memory);
    }

    private static Errno SizesGet(byte[][] items, GuestMemory mem, uint countPtr, uint sizePtr)
    {
        long size = 0;
        foreach (byte[] item in items)
        {
            size += item.Length;
        }
        if (!mem.Contains(countPtr, 4) || !mem.Contains(sizePtr, 4))
        {
            return Errno.Fault;
        }
        mem.TryWriteU32(countPtr, (uint)items.Length);
        mem.TryWriteU32(sizePtr, (uint)size);
        return Errno.Success;
    }

    private static Errno ListGet(byte[][] items, GuestMemory mem, uint pointers, uint buffer)
    {
        long size = 0;
        foreach (byte[] item in items)
        {
            size += item.Length;
        }
        if (!mem.Contains(pointers, (ulong)items.Length * 4) || !mem.Contains(buffer, (ulong)size))
        {
            return Errno.Fault;
        }
        uint at = buffer;
        for (int i = 0; i < items.Length; i++)
        {
            mem.TryWriteU32(pointers + (uint)(i * 4), at);
            mem.TrySpan(at, (uint)items[i].Length, out Span<byte> dest);
            items[i].CopyTo(dest);
            at += (uint)items[i].Length;
        }
        return Errno.Success;
    }

    private static Errno ClockResGet(GuestMemory mem, int id, uint result)
    {
        ulong resolution = id switch
        {
            0 => 100, // DateTime ticks
            1 => (ulong)Math.Max(1, 1_000_000_000 / System.Diagnostics.Stopwatch.Frequency),
            _ => 0,
        };
        if (resolution == 0)
        {
            return Errno.Inval;
        }
        return mem.TryWriteU64(result, resolution) ? Errno.Success : Errno.Fault;
    }

    private static Errno ClockTimeGet(GuestMemory mem, int id, uint result)
    {
        long now;
        switch (id)
        {
            case 0:
                now = WasiContext.RealtimeNow();
                break;
            case 1:
                now = WasiContext.MonotonicNow();
                break;
            default:
                return Errno.Inval;
        }
        return mem.TryWriteU64(result, (ulong)now) ? Errno.Success : Errno.Fault;
    }

    private static Errno RandomGet(GuestMemory mem, uint buf, uint len)
    {
        if (!mem.TrySpan(buf, len, out Span<byte> dest))
        {
            return Errno.Fault;
        }
        RandomNumberGenerator.Fill(dest);
        return Errno.Success;
    }

    private static Errno FdClose(WasiContext ctx, int fd)
    {
        Descriptor? d = ctx.Remove(fd);
        if (d is null)
        {
            return Errno.Badf;
        }
        d.Close();
        return Errno.Success;
    }

    private static Errno FdFdstatGet(WasiContext ctx, GuestMemory mem, int fd, uint result)
    {
        if (ctx.Get(fd) is not { } d)
        {
            return Errno.Badf;
        }
        if (!mem.TrySpan(result, Layout.FdstatSize, out Span<byte> s))
        {
            return Errno.Fault;
        }
        s.Clear();
        s[0] = d.FileType;
        BinaryPrimitives.WriteUInt64LittleEndian(s[8..], d.RightsBase);
        BinaryPrimitives.WriteUInt64LittleEndian(s[16..], d.RightsInheriting);
        return Errno.Success;
    }

    private static Errno FdPrestatGet(WasiContext ctx, GuestMemory mem, int fd, uint result)
    {
        // Only fd 3 is preopened; every other number (4 included) ends wasi-libc's preopen scan.
        if (fd != WasiContext.PreopenFd || ctx.Get(fd) is not DirectoryDescriptor)
        {
            return Errno.Badf;
        }
        if (!mem.TrySpan(result, Layout.PrestatSize, out Span<byte> s))
        {
            return Errno.Fault;
        }
        s.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(s[4..], 1); // "/"
        return Errno.Success;
    }

    private static Errno FdPrestatDirName(WasiContext ctx, GuestMemory mem, int fd, uint path, uint len)
    {
        if (fd != WasiContext.PreopenFd || ctx.Get(fd) is not DirectoryDescriptor)
        {
            return Errno.Badf;
        }
        if (len < 1)
        {
            return Errno.Nametoolong;
        }
        if (!mem.TrySpan(path, 1, out Span<byte> s))
        {
            return Errno.Fault;
        }
        s[0] = (byte)'/';
        return Errno.Success;
    }

    private static Errno FdRead(WasiContext ctx, GuestMemory mem, int fd, uint iovs, uint iovsLen, long? offset, uint nread)
    {
        Descriptor? d = ctx.Get(fd);
        if (d is null)
        {
            return Errno.Badf;
        }
        if (!mem.Contains(nread, 4))
        {
            return Errno.Fault;
        }
        if (iovsLen > GuestMemory.MaxIoVecs)
        {
            return Errno.Inval;
        }
        Span<IoVec> vecs = iovsLen <= GuestMemory.StackIoVecs ? stackalloc IoVec[GuestMemory.StackIoVecs] : new IoVec[iovsLen];
        vecs = vecs[..(int)iovsLen];
        Errno e = mem.TryReadIoVecs(iovs, vecs);
        if (e != Errno.Success)
        {
            return e;
        }
        uint count;
        switch (d)
        {
            case FileDescriptor file:
                if ((file.RightsBase & Rights.FdRead) == 0)
                {
                    return Errno.Notcapable;
                }
                if (offset < 0)
                {
                    return Errno.Inval;
                }
                e = ReadFile(file, mem, vecs, offset ?? file.Position, out count);
                if (e == Errno.Success && offset is null)
                {
                    file.Position += count;
                }
                break;
            case InputDescriptor input when offset is null:
                e = input.Input.Read(mem, vecs, ctx.KillToken, out count);
                break;
            case RpcDescriptor rpc when offset is null:
                e = rpc.Input.Read(mem, vecs, ctx.KillToken, out count);
                break;
            case InputDescriptor or RpcDescriptor:
                return Errno.Spipe;
            case DirectoryDescriptor:
                return Errno.Isdir;
            default:
                return Errno.Badf;
        }
        if (e == Errno.Success)
        {
            mem.TryWriteU32(nread, count);
        }
        return e;
    }

    private static Errno ReadFile(FileDescriptor file, GuestMemory mem, ReadOnlySpan<IoVec> vecs, long position, out uint count)
    {
        count = 0;
        try
        {
            foreach (IoVec v in vecs)
            {
                Span<byte> dest = mem.Span(v);
                while (!dest.IsEmpty)
                {
                    int n = file.File.Read(position + count, dest);
                    if (n <= 0)
                    {
                        return Errno.Success;
                    }
                    count += (uint)n;
                    dest = dest[n..];
                }
            }
            return Errno.Success;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return count > 0 ? Errno.Success : Errno.Io;
        }
    }

    private static Errno FdWrite(WasiContext ctx, GuestMemory mem, int fd, uint iovs, uint iovsLen, uint nwritten)
    {
        GuestOutput? output = ctx.Get(fd) switch
        {
            OutputDescriptor o => o.Output,
            RpcDescriptor r => r.Output,
            null => null,
            _ => null,
        };
        if (output is null)
        {
            // Stdin, directories and image files are not writable.
            return Errno.Badf;
        }
        if (!mem.Contains(nwritten, 4))
        {
            return Errno.Fault;
        }
        if (iovsLen > GuestMemory.MaxIoVecs)
        {
            return Errno.Inval;
        }
        Span<IoVec> vecs = iovsLen <= GuestMemory.StackIoVecs ? stackalloc IoVec[GuestMemory.StackIoVecs] : new IoVec[iovsLen];
        vecs = vecs[..(int)iovsLen];
        Errno e = mem.TryReadIoVecs(iovs, vecs);
        if (e != Errno.Success)
        {
            return e;
        }
        e = output.Write(mem, vecs, ctx.KillToken, out uint count);
        if (e == Errno.Success)
        {
            mem.TryWriteU32(nwritten, count);
        }
        return e;
    }

    private static Errno FdSeek(WasiContext ctx, GuestMemory mem, int fd, long offset, int whence, uint result)
    {
        Descriptor? d = ctx.Get(fd);
        if (d is null)
        {
            return Errno.Badf;
        }
        if (d is not FileDescriptor file)
        {
            return d is DirectoryDescriptor ? Errno.Badf : Errno.Spipe;
        }
        if (!mem.Contains(result, 8))
        {
            return Errno.Fault;
        }
        long origin = whence switch
        {
            0 => 0,
            1 => file.Position,
            2 => file.File.Length,
            _ => -1,
        };
        if (origin < 0)
        {
            return Errno.Inval;
        }
        long position;
        try
        {
            position = checked(origin + offset);
        }
        catch (OverflowException)
        {
            return Errno.Overflow;
        }
        if (position < 0)
        {
            return Errno.Inval;
        }
        file.Position = position;
        mem.TryWriteU64(result, (ulong)position);
        return Errno.Success;
    }

    /// <summary>What a path-based call that would change the image answers.</summary>
    private static Errno ReadOnly(WasiContext ctx, int fd) => ctx.Get(fd) switch
    {
        null => Errno.Badf,
        DirectoryDescriptor => Errno.Rofs,
        _ => Errno.Notdir,
    };
}
