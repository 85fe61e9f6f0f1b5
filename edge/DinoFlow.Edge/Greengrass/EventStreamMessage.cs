using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;

namespace DinoFlow.Edge.Greengrass;

/// <summary>
/// One message of the AWS event-stream encoding, the framing of Greengrass's IPC socket: a prelude (total length,
/// headers length, CRC-32 of the two), typed headers, the payload, and a CRC-32 of everything before it. Only the header
/// types IPC uses (int32 and string) are written; every type is read.
/// </summary>
public sealed class EventStreamMessage
{
    private const int PreludeLength = 12;
    private const int MessageCrcLength = 4;
    /// <summary>The encoding's limit (16 MiB); IoT Core's own message limit (128 KiB) is far below it.</summary>
    public const int MaxMessageLength = 16 * 1024 * 1024;

    public EventStreamMessage(IReadOnlyDictionary<string, object> headers, ReadOnlyMemory<byte> payload)
    {
        ArgumentNullException.ThrowIfNull(headers);
        Headers = headers;
        Payload = payload;
    }

    /// <summary>Header values: int (int32), string, bool, byte, short, long, byte[], DateTimeOffset or Guid.</summary>
    public IReadOnlyDictionary<string, object> Headers { get; }
    public ReadOnlyMemory<byte> Payload { get; }

    public int? Int32Header(string name) => Headers.TryGetValue(name, out var value) && value is int number ? number : null;
    public string? StringHeader(string name) => Headers.TryGetValue(name, out var value) ? value as string : null;

    public byte[] Encode()
    {
        using var headerBytes = new MemoryStream();
        Span<byte> scratch = stackalloc byte[4];
        foreach (var (name, value) in Headers)
        {
            var nameBytes = Encoding.UTF8.GetBytes(name);
            if (nameBytes.Length is 0 or > byte.MaxValue) throw new ArgumentException($"header name '{name}' must be 1-255 bytes");
            headerBytes.WriteByte((byte)nameBytes.Length);
            headerBytes.Write(nameBytes);
            switch (value)
            {
                case int number:
                    headerBytes.WriteByte(4);
                    BinaryPrimitives.WriteInt32BigEndian(scratch, number);
                    headerBytes.Write(scratch);
                    break;
                case string text:
                    var textBytes = Encoding.UTF8.GetBytes(text);
                    if (textBytes.Length > ushort.MaxValue) throw new ArgumentException($"header '{name}' is longer than 65535 bytes");
                    headerBytes.WriteByte(7);
                    BinaryPrimitives.WriteUInt16BigEndian(scratch, (ushort)textBytes.Length);
                    headerBytes.Write(scratch[..2]);
                    headerBytes.Write(textBytes);
                    break;
                default:
                    throw new ArgumentException($"header '{name}': only int32 and string values are written, not {value.GetType().Name}");
            }
        }

        var total = PreludeLength + (int)headerBytes.Length + Payload.Length + MessageCrcLength;
        if (total > MaxMessageLength) throw new ArgumentException($"the message is {total} bytes, over the event-stream limit of {MaxMessageLength}");
        var message = new byte[total];
        BinaryPrimitives.WriteInt32BigEndian(message.AsSpan(0), total);
        BinaryPrimitives.WriteInt32BigEndian(message.AsSpan(4), (int)headerBytes.Length);
        BinaryPrimitives.WriteUInt32BigEndian(message.AsSpan(8), Crc32.HashToUInt32(message.AsSpan(0, 8)));
        headerBytes.GetBuffer().AsSpan(0, (int)headerBytes.Length).CopyTo(message.AsSpan(PreludeLength));
        Payload.Span.CopyTo(message.AsSpan(PreludeLength + (int)headerBytes.Length));
        BinaryPrimitives.WriteUInt32BigEndian(message.AsSpan(total - MessageCrcLength), Crc32.HashToUInt32(message.AsSpan(0, total - MessageCrcLength)));
        return message;
    }

    /// <summary>Reads one message; null at a clean end of stream (between messages).</summary>
    /// <exception cref="InvalidDataException">a damaged or truncated message.</exception>
    public static async Task<EventStreamMessage?> ReadAsync(Stream stream, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var prelude = new byte[PreludeLength];
        var read = await stream.ReadAtLeastAsync(prelude, PreludeLength, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        if (read == 0) return null;
        if (read < PreludeLength) throw new InvalidDataException($"the stream ended inside a message prelude ({read} of {PreludeLength} bytes)");
        var total = BinaryPrimitives.ReadInt32BigEndian(prelude);
        var headersLength = BinaryPrimitives.ReadInt32BigEndian(prelude.AsSpan(4));
        if (BinaryPrimitives.ReadUInt32BigEndian(prelude.AsSpan(8)) != Crc32.HashToUInt32(prelude.AsSpan(0, 8)))
            throw new InvalidDataException("the message prelude's CRC does not match");
        if (total < PreludeLength + MessageCrcLength || total > MaxMessageLength || headersLength < 0 || headersLength > total - PreludeLength - MessageCrcLength)
            throw new InvalidDataException($"invalid lengths in the prelude: total {total}, headers {headersLength}");
        var message = new byte[total];
        prelude.CopyTo(message, 0);
        await stream.ReadExactlyAsync(message.AsMemory(PreludeLength), cancellationToken).ConfigureAwait(false);
        if (BinaryPrimitives.ReadUInt32BigEndian(message.AsSpan(total - MessageCrcLength)) != Crc32.HashToUInt32(message.AsSpan(0, total - MessageCrcLength)))
            throw new InvalidDataException("the message's CRC does not match");
        Dictionary<string, object> headers;
        try
        {
            headers = ReadHeaders(message.AsSpan(PreludeLength, headersLength));
        }
        catch (ArgumentOutOfRangeException)
        {
            throw new InvalidDataException("a header runs past the headers' length");
        }

        var payload = message.AsMemory(PreludeLength + headersLength, total - PreludeLength - headersLength - MessageCrcLength);
        return new EventStreamMessage(headers, payload);
    }

    private static Dictionary<string, object> ReadHeaders(ReadOnlySpan<byte> bytes)
    {
        var headers = new Dictionary<string, object>(StringComparer.Ordinal);
        var at = 0;
        while (at < bytes.Length)
        {
            var nameLength = bytes[at++];
            var name = Encoding.UTF8.GetString(bytes.Slice(at, nameLength));
            at += nameLength;
            var type = bytes[at++];
            object value;
            switch (type)
            {
                case 0: value = true; break;
                case 1: value = false; break;
                case 2: value = (byte)bytes[at]; at += 1; break;
                case 3: value = BinaryPrimitives.ReadInt16BigEndian(bytes[at..]); at += 2; break;
                case 4: value = BinaryPrimitives.ReadInt32BigEndian(bytes[at..]); at += 4; break;
                case 5: value = BinaryPrimitives.ReadInt64BigEndian(bytes[at..]); at += 8; break;
                case 6 or 7:
                    var length = BinaryPrimitives.ReadUInt16BigEndian(bytes[at..]);
                    at += 2;
                    value = type == 6 ? bytes.Slice(at, length).ToArray() : Encoding.UTF8.GetString(bytes.Slice(at, length));
                    at += length;
                    break;
                case 8: value = DateTimeOffset.FromUnixTimeMilliseconds(BinaryPrimitives.ReadInt64BigEndian(bytes[at..])); at += 8; break;
                case 9: value = new Guid(bytes.Slice(at, 16), bigEndian: true); at += 16; break;
                default: throw new InvalidDataException($"header '{name}' has unknown type {type}");
            }

            headers[name] = value;
        }

        return headers;
    }
}
