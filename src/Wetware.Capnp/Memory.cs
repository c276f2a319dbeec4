using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Wetware.Capnp;

/// <summary>
/// Unaligned little-endian access into segment arrays. Callers have bounds-checked the
/// object being accessed when its pointer was followed, so these skip per-access checks.
/// Cap'n Proto is little-endian on the wire; .NET on every platform we run on is too
/// (checked once in <see cref="MessageReader"/>'s static constructor).
/// </summary>
internal static class Mem
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Read<T>(byte[] buffer, int offset) where T : unmanaged =>
        Unsafe.ReadUnaligned<T>(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(buffer), (nint)(uint)offset));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Write<T>(byte[] buffer, int offset, T value) where T : unmanaged =>
        Unsafe.WriteUnaligned(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(buffer), (nint)(uint)offset), value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Word(byte[] buffer, int offset) => Read<ulong>(buffer, offset);
}
