using System.Text;

namespace Wetware.Capnp.Tests.Infrastructure;

/// <summary>
/// A schema-free description of a message's value: every struct's data and pointers, every
/// list's elements, recursively. Two messages hold the same value exactly when their dumps
/// are equal, whatever their layout (segments, far pointers, padding, section sizes:
/// trailing zero data and null pointers are not part of the value).
/// </summary>
internal static class Dump
{
    public static string Of(MessageReader message) => Of(message.Root);

    public static string Of(AnyPointerReader p)
    {
        var sb = new StringBuilder();
        Pointer(p, sb);
        return sb.ToString();
    }

    private static void Pointer(AnyPointerReader p, StringBuilder sb)
    {
        switch (p.Kind)
        {
            case PointerKind.Null:
                sb.Append("null");
                break;
            case PointerKind.Capability:
                sb.Append("cap#").Append(p.GetCapability());
                break;
            case PointerKind.Struct:
                Struct(p.GetStruct(), sb);
                break;
            default:
                List(p.GetList(ElementSize.Void), sb);
                break;
        }
    }

    private static void Struct(StructReader s, StringBuilder sb)
    {
        ReadOnlySpan<byte> data = s.DataSection;
        int last = data.LastIndexOfAnyExcept((byte)0);
        sb.Append("(d=").Append(Convert.ToHexString(data[..(last + 1)]));
        int pc = s.PointerCount;
        while (pc > 0 && s.IsPointerNull(pc - 1))
        {
            pc--;
        }
        for (int i = 0; i < pc; i++)
        {
            sb.Append(' ');
            Pointer(s.ReadAnyPointer(i), sb);
        }
        sb.Append(')');
    }

    private static void List(ListReader l, StringBuilder sb)
    {
        sb.Append('[').Append(l.ElementSize).Append(' ').Append(l.Count).Append(':');
        for (int i = 0; i < l.Count; i++)
        {
            sb.Append(' ');
            switch (l.ElementSize)
            {
                case ElementSize.Void:
                    sb.Append('v');
                    break;
                case ElementSize.Bit:
                    sb.Append(l.ReadBool(i) ? '1' : '0');
                    break;
                case ElementSize.Byte:
                    sb.Append(l.Read<byte>(i));
                    break;
                case ElementSize.TwoBytes:
                    sb.Append(l.Read<ushort>(i));
                    break;
                case ElementSize.FourBytes:
                    sb.Append(l.Read<uint>(i));
                    break;
                case ElementSize.EightBytes:
                    sb.Append(l.Read<ulong>(i));
                    break;
                case ElementSize.Pointer:
                    Pointer(l.GetAnyPointer(i), sb);
                    break;
                default:
                    Struct(l.GetStruct(i), sb);
                    break;
            }
        }
        sb.Append(']');
    }
}
