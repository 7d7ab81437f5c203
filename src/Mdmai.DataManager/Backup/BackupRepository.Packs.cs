using System.Buffers.Binary;
using Mdmai.DataManager.Backup.Internal;

namespace Mdmai.DataManager.Backup;

public sealed partial class BackupRepository
{
    /// <summary>
    /// Writes one pack: blobs from <paramref name="next"/> (given the bytes written so far; null ends the pack) back
    /// to back, then the sealed header and the trailer. Each blob's memory is given back (its lease disposed) once
    /// written. The pack becomes visible only whole.
    /// </summary>
    internal async Task<(UInt128 Pack, List<PackEntry> Entries, long Length)> WritePackAsync(
        Func<long, CancellationToken, ValueTask<SealedBlob?>> next, CancellationToken cancellationToken)
    {
        var pack = RepositoryNames.NewPackId();
        var entries = new List<PackEntry>();
        long length = 0;
        await Backend.WriteAsync(RepositoryNames.Pack(pack), async (stream, token) =>
        {
            while (await next(length, token).ConfigureAwait(false) is { } blob)
            {
                try
                {
                    await stream.WriteAsync(blob.Data, token).ConfigureAwait(false);
                }
                finally
                {
                    blob.Lease.Dispose();
                }

                entries.Add(new PackEntry(blob.Id, blob.Type, blob.Compressed, (uint)length, (uint)blob.Length, blob.RawLength));
                length += blob.Length;
            }

            var header = _crypto.Seal(PackFormat.EncodeHeader(entries), PackFormat.HeaderAssociatedData(pack));
            var trailer = new byte[PackFormat.TrailerSize];
            BinaryPrimitives.WriteUInt32LittleEndian(trailer, (uint)header.Length);
            PackFormat.Magic.CopyTo(trailer.AsSpan(4));
            await stream.WriteAsync(header, token).ConfigureAwait(false);
            await stream.WriteAsync(trailer, token).ConfigureAwait(false);
            length += header.Length + trailer.Length;
        }, cancellationToken).ConfigureAwait(false);
        return (pack, entries, length);
    }
}
