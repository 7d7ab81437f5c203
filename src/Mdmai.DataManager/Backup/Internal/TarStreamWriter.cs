using System.Globalization;
using System.Text;

namespace Mdmai.DataManager.Backup.Internal;

/// <summary>
/// Writes a POSIX (pax) tar stream: a ustar header per entry, preceded by a pax extended header when a name is too
/// long or not ASCII or a size too large for ustar; content padded to 512 bytes; two zero blocks at the end.
/// Content is copied from a stream of known length, so nothing is buffered.
/// </summary>
internal sealed class TarStreamWriter(Stream output)
{
    private const int Block = 512;
    private readonly byte[] _header = new byte[Block];

    public async Task WriteDirectoryAsync(string name, DateTimeOffset modified, int mode, CancellationToken cancellationToken) =>
        await WriteHeaderAsync(name.TrimEnd('/') + "/", 0, modified, mode == 0 ? 0x1ED : mode, (byte)'5', cancellationToken).ConfigureAwait(false);

    /// <summary>Writes a file entry of exactly <paramref name="length"/> bytes read from <paramref name="content"/>.</summary>
    public async Task WriteFileAsync(string name, long length, DateTimeOffset modified, int mode, Stream content, CancellationToken cancellationToken)
    {
        await WriteHeaderAsync(name, length, modified, mode == 0 ? 0x1A4 : mode, (byte)'0', cancellationToken).ConfigureAwait(false);
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(1 << 20);
        try
        {
            long copied = 0;
            while (copied < length)
            {
                var n = await content.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, length - copied)), cancellationToken).ConfigureAwait(false);
                if (n == 0)
                {
                    throw new InvalidDataException($"'{name}' ended after {copied} of {length} bytes.");
                }

                await output.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                copied += n;
            }

            if (await content.ReadAsync(buffer.AsMemory(0, 1), cancellationToken).ConfigureAwait(false) != 0)
            {
                throw new InvalidDataException($"'{name}' is longer than the {length} bytes recorded for it.");
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }

        await PadAsync(length, cancellationToken).ConfigureAwait(false);
    }

    public async Task FinishAsync(CancellationToken cancellationToken)
    {
        await output.WriteAsync(new byte[2 * Block], cancellationToken).ConfigureAwait(false);
        await output.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task PadAsync(long length, CancellationToken cancellationToken)
    {
        var pad = (int)((Block - (length % Block)) % Block);
        if (pad > 0)
        {
            await output.WriteAsync(new byte[pad], cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task WriteHeaderAsync(string name, long size, DateTimeOffset modified, int mode, byte type, CancellationToken cancellationToken)
    {
        var nameBytes = Encoding.UTF8.GetBytes(name);
        var needsPax = nameBytes.Length > 100 || nameBytes.Any(b => b >= 0x80) || size > 0x1_FFFF_FFFFL;
        if (needsPax)
        {
            var records = new StringBuilder();
            records.Append(PaxRecord("path", name));
            if (size > 0x1_FFFF_FFFFL)
            {
                records.Append(PaxRecord("size", size.ToString(CultureInfo.InvariantCulture)));
            }

            var pax = Encoding.UTF8.GetBytes(records.ToString());
            FillHeader("PaxHeaders/" + Ascii(name, 80), pax.Length, modified, 0x1A4, (byte)'x');
            await output.WriteAsync(_header, cancellationToken).ConfigureAwait(false);
            await output.WriteAsync(pax, cancellationToken).ConfigureAwait(false);
            await PadAsync(pax.Length, cancellationToken).ConfigureAwait(false);
        }

        FillHeader(needsPax ? Ascii(name, 100) : name, size > 0x1_FFFF_FFFFL ? 0 : size, modified, mode, type);
        await output.WriteAsync(_header, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A pax record: "LEN key=value\n", where LEN counts the whole record including its own digits.</summary>
    private static string PaxRecord(string key, string value)
    {
        var body = $" {key}={value}\n";
        var bodyLength = Encoding.UTF8.GetByteCount(body);
        var length = bodyLength + 1;
        while (length != bodyLength + length.ToString(CultureInfo.InvariantCulture).Length)
        {
            length = bodyLength + length.ToString(CultureInfo.InvariantCulture).Length;
        }

        return length.ToString(CultureInfo.InvariantCulture) + body;
    }

    private static string Ascii(string name, int max)
    {
        var ascii = new string([.. name.Select(c => c is >= ' ' and < (char)0x7F ? c : '_')]);
        return ascii.Length <= max ? ascii : ascii[^max..];
    }

    private void FillHeader(string name, long size, DateTimeOffset modified, int mode, byte type)
    {
        var h = _header.AsSpan();
        h.Clear();
        Encoding.ASCII.GetBytes(name.AsSpan(0, Math.Min(name.Length, 100)), h[..100]);
        Octal(h.Slice(100, 8), mode & 0xFFF);
        Octal(h.Slice(108, 8), 0);
        Octal(h.Slice(116, 8), 0);
        Octal(h.Slice(124, 12), size);
        Octal(h.Slice(136, 12), Math.Max(0, modified.ToUnixTimeSeconds()));
        h.Slice(148, 8).Fill((byte)' ');
        h[156] = type;
        "ustar\0"u8.CopyTo(h[257..]);
        "00"u8.CopyTo(h[263..]);
        "mdmai"u8.CopyTo(h[265..]);
        "mdmai"u8.CopyTo(h[297..]);
        var sum = 0;
        foreach (var b in h)
        {
            sum += b;
        }

        Octal(h.Slice(148, 7), sum);
        h[155] = (byte)' ';
    }

    private static void Octal(Span<byte> field, long value)
    {
        var digits = Convert.ToString(value, 8).PadLeft(field.Length - 1, '0');
        Encoding.ASCII.GetBytes(digits, field);
        field[^1] = 0;
    }
}
