namespace Wetware.Cells.Wasi;

// Values and layouts of wasi_snapshot_preview1 (witx), as in wasi-libc's <wasi/api.h>.

/// <summary>The preview1 errno values the host returns.</summary>
internal enum Errno : ushort
{
    Success = 0,
    TooBig = 1,
    Acces = 2,
    Badf = 8,
    Exist = 20,
    Fault = 21,
    Ilseq = 25,
    Inval = 28,
    Io = 29,
    Isdir = 31,
    Loop = 32,
    Mfile = 33,
    Nametoolong = 37,
    Noent = 44,
    Nomem = 48,
    Nosys = 52,
    Notdir = 54,
    Notempty = 55,
    Notsup = 58,
    Overflow = 61,
    Pipe = 64,
    Rofs = 69,
    Spipe = 70,
    Notcapable = 76,
}

internal static class FileType
{
    public const byte Unknown = 0;
    public const byte CharacterDevice = 2;
    public const byte Directory = 3;
    public const byte RegularFile = 4;
}

internal static class Rights
{
    public const ulong FdDatasync = 1UL << 0;
    public const ulong FdRead = 1UL << 1;
    public const ulong FdSeek = 1UL << 2;
    public const ulong FdFdstatSetFlags = 1UL << 3;
    public const ulong FdSync = 1UL << 4;
    public const ulong FdTell = 1UL << 5;
    public const ulong FdWrite = 1UL << 6;
    public const ulong FdAdvise = 1UL << 7;
    public const ulong FdAllocate = 1UL << 8;
    public const ulong PathOpen = 1UL << 13;
    public const ulong FdReaddir = 1UL << 14;
    public const ulong PathFilestatGet = 1UL << 18;
    public const ulong FdFilestatGet = 1UL << 21;
    public const ulong FdFilestatSetSize = 1UL << 22;
    public const ulong PollFdReadwrite = 1UL << 27;

    /// <summary>Every right preview1 defines (bits 0 to 29).</summary>
    public const ulong All = (1UL << 30) - 1;

    /// <summary>
    /// Rights that mean "I intend to change the file". wasi-libc's <c>open</c> asks for these exactly when
    /// the access mode includes writing, so their presence in <c>path_open</c> is how a write-mode open shows.
    /// </summary>
    public const ulong WriteIntent = FdDatasync | FdWrite | FdAllocate | FdFilestatSetSize;

    public const ulong ReadableFile = FdRead | FdSeek | FdTell | FdAdvise | FdFilestatGet | PollFdReadwrite;
    public const ulong ReadableDirectory = PathOpen | FdReaddir | PathFilestatGet | FdFilestatGet;
    public const ulong InputStream = FdRead | PollFdReadwrite | FdFilestatGet;
    public const ulong OutputStream = FdWrite | PollFdReadwrite | FdFilestatGet;
}

internal static class OFlags
{
    public const ushort Creat = 1 << 0;
    public const ushort Directory = 1 << 1;
    public const ushort Excl = 1 << 2;
    public const ushort Trunc = 1 << 3;
}

internal static class FdFlags
{
    public const ushort Append = 1 << 0;
    public const ushort Dsync = 1 << 1;
    public const ushort Nonblock = 1 << 2;
    public const ushort Rsync = 1 << 3;
    public const ushort Sync = 1 << 4;
}

internal static class EventType
{
    public const byte Clock = 0;
    public const byte FdRead = 1;
    public const byte FdWrite = 2;
}

internal static class Layout
{
    public const int IoVecSize = 8;
    public const int FdstatSize = 24;
    public const int FilestatSize = 64;
    public const int PrestatSize = 8;
    public const int DirentHeaderSize = 24;
    public const int SubscriptionSize = 48;
    public const int EventSize = 32;
}
