using System.Buffers;
using System.Buffers.Binary;

namespace Wetware.Capnp;

/// <summary>
/// A streaming decoder of the packed encoding: input and output may be split anywhere
/// (inside a word, between a tag and its run count), and runs are expanded lazily, so a
/// 256-word zero run needs no 2 KiB of output at once. Modeled on
/// <see cref="System.Buffers.Text.Base64"/>'s <see cref="OperationStatus"/> protocol.
/// </summary>
public struct PackedDecoder
{
    private const int ExpectTag = 0, InWord = 1, ExpectZeroCount = 2, ExpectLiteralCount = 3, ZeroRun = 4, LiteralRun = 5;

    private int _state;
    private byte _tag;
    private int _bit;
    private int _remaining;

    /// <summary>True between words (where a stream may end cleanly).</summary>
    public readonly bool IsAtWordBoundary => _state == ExpectTag;

    /// <summary>
    /// Decodes from <paramref name="source"/> into <paramref name="destination"/>.
    /// <see cref="OperationStatus.Done"/>: all input consumed at a word boundary.
    /// <see cref="OperationStatus.DestinationTooSmall"/>: output full, more is pending.
    /// <see cref="OperationStatus.NeedMoreData"/>: input consumed inside a word or run.
    /// </summary>
    public OperationStatus Decode(ReadOnlySpan<byte> source, Span<byte> destination, out int bytesConsumed, out int bytesWritten)
    {
        int s = 0, d = 0;
        OperationStatus status;
        while (true)
        {
            switch (_state)
            {
                case ExpectTag:
                    if (source.Length - s >= 10 && destination.Length - d >= 8)
                    {
                        byte tag = source[s];
                        if (tag == 0)
                        {
                            destination.Slice(d, 8).Clear();
                            _remaining = source[s + 1] * 8;
                            _state = ZeroRun;
                            s += 2;
                        }
                        else if (tag == 0xFF)
                        {
                            source.Slice(s + 1, 8).CopyTo(destination[d..]);
                            _remaining = source[s + 9] * 8;
                            _state = LiteralRun;
                            s += 10;
                        }
                        else
                        {
                            int p = s + 1;
                            ulong word = 0;
                            for (int b = 0; b < 8; b++)
                            {
                                if ((tag & (1 << b)) != 0)
                                {
                                    word |= (ulong)source[p++] << (b * 8);
                                }
                            }
                            BinaryPrimitives.WriteUInt64LittleEndian(destination[d..], word);
                            s = p;
                        }
                        d += 8;
                        continue;
                    }
                    if (s == source.Length)
                    {
                        status = OperationStatus.Done;
                        goto end;
                    }
                    if (d == destination.Length)
                    {
                        status = OperationStatus.DestinationTooSmall;
                        goto end;
                    }
                    _tag = source[s++];
                    _bit = 0;
                    _state = InWord;
                    continue;
                case InWord:
                    while (_bit < 8)
                    {
                        if (d == destination.Length)
                        {
                            status = OperationStatus.DestinationTooSmall;
                            goto end;
                        }
                        if ((_tag & (1 << _bit)) != 0)
                        {
                            if (s == source.Length)
                            {
                                status = OperationStatus.NeedMoreData;
                                goto end;
                            }
                            destination[d++] = source[s++];
                        }
                        else
                        {
                            destination[d++] = 0;
                        }
                        _bit++;
                    }
                    _state = _tag switch
                    {
                        0 => ExpectZeroCount,
                        0xFF => ExpectLiteralCount,
                        _ => ExpectTag,
                    };
                    continue;
                case ExpectZeroCount:
                case ExpectLiteralCount:
                    if (s == source.Length)
                    {
                        status = OperationStatus.NeedMoreData;
                        goto end;
                    }
                    _remaining = source[s++] * 8;
                    _state = _state == ExpectZeroCount ? ZeroRun : LiteralRun;
                    continue;
                case ZeroRun:
                    {
                        int n = Math.Min(_remaining, destination.Length - d);
                        destination.Slice(d, n).Clear();
                        d += n;
                        _remaining -= n;
                        if (_remaining > 0)
                        {
                            status = OperationStatus.DestinationTooSmall;
                            goto end;
                        }
                        _state = ExpectTag;
                        continue;
                    }
                default:
                    {
                        int n = Math.Min(_remaining, Math.Min(destination.Length - d, source.Length - s));
                        source.Slice(s, n).CopyTo(destination[d..]);
                        s += n;
                        d += n;
                        _remaining -= n;
                        if (_remaining > 0)
                        {
                            status = d == destination.Length ? OperationStatus.DestinationTooSmall : OperationStatus.NeedMoreData;
                            goto end;
                        }
                        _state = ExpectTag;
                        continue;
                    }
            }
        }
    end:
        bytesConsumed = s;
        bytesWritten = d;
        return status;
    }

    /// <summary>Unpacks a whole packed buffer; a buffer ending inside a word or run is a <see cref="CapnpFormatException"/>.</summary>
    public static byte[] DecodeAll(ReadOnlySpan<byte> packed, long maxBytes = ReaderOptions.DefaultMaxMessageBytes)
    {
        var decoder = new PackedDecoder();
        var output = new ArrayBufferWriter<byte>(Math.Max(64, packed.Length * 2));
        while (true)
        {
            Span<byte> dst = output.GetSpan(4096);
            OperationStatus st = decoder.Decode(packed, dst, out int consumed, out int written);
            packed = packed[consumed..];
            output.Advance(written);
            if (output.WrittenCount > maxBytes)
            {
                ThrowHelper.Limit(CapnpLimit.MessageSize, maxBytes);
            }
            if (st == OperationStatus.Done)
            {
                return output.WrittenSpan.ToArray();
            }
            if (st == OperationStatus.NeedMoreData)
            {
                ThrowHelper.Format("packed input is truncated inside a word or run");
            }
        }
    }
}
