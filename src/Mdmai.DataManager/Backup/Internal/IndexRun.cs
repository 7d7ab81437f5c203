using System.Buffers;
using System.Buffers.Binary;
using Mdmai.DataManager.IO;
using Microsoft.Win32.SafeHandles;

namespace Mdmai.DataManager.Backup.Internal;

/// <summary>
/// A run of the blob index written out (<see cref="RepositoryIndex"/>): its blobs sorted by id, 48 bytes each (the id's
/// 32 bytes as they are, then the slot's four words), 85 to a 4 KiB page (16 bytes left over), in a file unlinked as
/// soon as it is open. Memory keeps the first id of each page (a lookup reads one page) and a Bloom filter of 10 bits a
/// blob (7 probes: ~1 % of the ids a run does not hold cost a read): ~1.6 bytes a blob in all. Reads are positioned, so
/// lookups run side by side; the pages read last are kept in the <see cref="RunPageCache"/> the runs of an index share.
/// </summary>
internal sealed class IndexRun : IDisposable
{
    private const int RecordSize = BlobId.Size + 16;
    private const int PageRecords = 85;
    internal const int PageSize = 4096;
    private const int BitsPerBlob = 10;
    private const int Probes = 7;

    /// <summary>Pages written or read at once when a run is written or read through.</summary>
    private const int StreamPages = 16;

    private readonly FileStream _stream;
    private readonly SafeFileHandle _file;
    private readonly BlobId[] _fences;
    private readonly ulong[] _filter;
    private readonly ulong _filterBits;
    private readonly long _number = Interlocked.Increment(ref s_runs);

    private static long s_runs;
    private long _pageLookups;
    private long _pageReads;

    private IndexRun(FileStream stream, BlobId[] fences, ulong[] filter, long count)
    {
        _stream = stream;
        _file = stream.SafeFileHandle;
        _fences = fences;
        _filter = filter;
        _filterBits = (ulong)filter.Length * 64;
        Count = count;
    }

    public long Count { get; }

    /// <summary>Pages of the run's file.</summary>
    public int Pages => _fences.Length;

    /// <summary>Where lookups keep the pages they read, if anywhere: set by the index, under its write lock.</summary>
    public RunPageCache? Cache { get; set; }

    /// <summary>Pages looked in by lookups: one for each blob found, and one for each id the filter let through wrongly (tests).</summary>
    internal long PageLookups => Interlocked.Read(ref _pageLookups);

    /// <summary>Pages of <see cref="PageLookups"/> read from the file, not found in the cache (tests).</summary>
    internal long PageReads => Interlocked.Read(ref _pageReads);

    /// <summary>
    /// Writes <paramref name="sorted"/> (ascending, no id twice) as a run in <paramref name="folder"/>;
    /// <paramref name="expected"/> (at least their number) sizes the filter. A file that cannot be written is gone.
    /// </summary>
    public static IndexRun Write(string folder, IEnumerable<KeyValuePair<BlobId, RepositoryIndex.Slot>> sorted, long expected)
    {
        var stream = Create(folder);
        var file = stream.SafeFileHandle;
        var buffer = ArrayPool<byte>.Shared.Rent(PageSize * StreamPages);
        try
        {
            var filter = new ulong[Math.Max(1, ((Math.Max(expected, 1) * BitsPerBlob) + 63) / 64)];
            var filterBits = (ulong)filter.Length * 64;
            var fences = new List<BlobId>((int)Math.Min(expected / PageRecords, Array.MaxLength - 1) + 1);
            long count = 0, offset = 0;
            var used = 0;
            var previous = default(BlobId);
            foreach (var (id, slot) in sorted)
            {
                if (count > 0 && previous.CompareTo(id) >= 0)
                {
                    throw new InvalidOperationException("A run's blobs must come in ascending order of their ids, each once.");
                }

                var onPage = (int)(count % PageRecords);
                if (onPage == 0)
                {
                    if (used == PageSize * StreamPages)
                    {
                        UnixFileCalls.WriteAt(file, buffer.AsSpan(0, used), offset);
                        offset += used;
                        used = 0;
                    }

                    fences.Add(id);
                    buffer.AsSpan(used, PageSize).Clear();
                    used += PageSize;
                }

                Encode(buffer.AsSpan(used - PageSize + (onPage * RecordSize), RecordSize), id, slot);
                for (var i = 0; i < Probes; i++)
                {
                    var bit = Probe(id, i, filterBits);
                    filter[bit >> 6] |= 1UL << (int)(bit & 63);
                }

                previous = id;
                count++;
            }

            UnixFileCalls.WriteAt(file, buffer.AsSpan(0, used), offset);
            return new IndexRun(stream, [.. fences], filter, count);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Two ascending sequences as one (an id in both comes once, from <paramref name="older"/>).</summary>
    public static IEnumerable<KeyValuePair<BlobId, RepositoryIndex.Slot>> Merge(IEnumerable<KeyValuePair<BlobId, RepositoryIndex.Slot>> older, IEnumerable<KeyValuePair<BlobId, RepositoryIndex.Slot>> newer)
    {
        using var a = older.GetEnumerator();
        using var b = newer.GetEnumerator();
        var hasA = a.MoveNext();
        var hasB = b.MoveNext();
        while (hasA || hasB)
        {
            var order = !hasA ? 1 : !hasB ? -1 : a.Current.Key.CompareTo(b.Current.Key);
            if (order <= 0)
            {
                yield return a.Current;
                hasA = a.MoveNext();
                if (order == 0)
                {
                    hasB = b.MoveNext();
                }
            }
            else
            {
                yield return b.Current;
                hasB = b.MoveNext();
            }
        }
    }

    /// <summary>Whether the run holds <paramref name="id"/>, and its slot: the filter, then one page (from the cache, else read).</summary>
    public bool TryGet(BlobId id, out RepositoryIndex.Slot slot)
    {
        slot = default;
        for (var i = 0; i < Probes; i++)
        {
            var bit = Probe(id, i, _filterBits);
            if ((_filter[bit >> 6] & (1UL << (int)(bit & 63))) == 0)
            {
                return false;
            }
        }

        // The last page whose first id is not after the one sought.
        int low = 0, high = _fences.Length - 1, page = -1;
        while (low <= high)
        {
            var middle = (int)((uint)(low + high) >> 1);
            if (_fences[middle].CompareTo(id) <= 0)
            {
                page = middle;
                low = middle + 1;
            }
            else
            {
                high = middle - 1;
            }
        }

        if (page < 0)
        {
            return false;
        }

        var records = (int)Math.Min(PageRecords, Count - ((long)page * PageRecords));
        Span<byte> bytes = stackalloc byte[PageRecords * RecordSize];
        var span = bytes[..(records * RecordSize)];
        Interlocked.Increment(ref _pageLookups);
        var cache = Cache;
        if (cache is null || !cache.TryRead(_number, page, span))
        {
            Interlocked.Increment(ref _pageReads);
            ReadExactly(span, (long)page * PageSize);
            cache?.Keep(_number, page, span);
        }

        low = 0;
        high = records - 1;
        while (low <= high)
        {
            var middle = (int)((uint)(low + high) >> 1);
            var record = span.Slice(middle * RecordSize, RecordSize);
            var order = BlobId.Read(record).CompareTo(id);
            if (order == 0)
            {
                slot = DecodeSlot(record[BlobId.Size..]);
                return true;
            }

            if (order < 0)
            {
                low = middle + 1;
            }
            else
            {
                high = middle - 1;
            }
        }

        return false;
    }

    /// <summary>Every blob of the run in id order, read a few pages at a time.</summary>
    public IEnumerable<KeyValuePair<BlobId, RepositoryIndex.Slot>> ReadAll()
    {
        var buffer = ArrayPool<byte>.Shared.Rent(PageSize * StreamPages);
        try
        {
            long done = 0, offset = 0;
            while (done < Count)
            {
                var records = (int)Math.Min(PageRecords * StreamPages, Count - done);
                var pages = (records + PageRecords - 1) / PageRecords;
                var length = ((pages - 1) * PageSize) + (((records - 1) % PageRecords) + 1) * RecordSize;
                ReadExactly(buffer.AsSpan(0, length), offset);
                for (var i = 0; i < records; i++)
                {
                    var record = buffer.AsSpan(((i / PageRecords) * PageSize) + ((i % PageRecords) * RecordSize), RecordSize);
                    yield return KeyValuePair.Create(BlobId.Read(record), DecodeSlot(record[BlobId.Size..]));
                }

                done += records;
                offset += pages * PageSize;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public void Dispose() => _stream.Dispose();

    /// <summary>
    /// Opens a new file of <paramref name="folder"/> for reading and writing, made readable by its owner only, and
    /// unlinks it at once where the system allows (elsewhere it goes when closed): no run outlives the process.
    /// </summary>
    private static FileStream Create(string folder)
    {
        var path = Path.Combine(folder, $"run-{Environment.ProcessId}-{Guid.NewGuid():N}");
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(folder);
            return new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Delete, bufferSize: 0, FileOptions.DeleteOnClose);
        }

        Directory.CreateDirectory(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var stream = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.ReadWrite,
            BufferSize = 0,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        });
        try
        {
            File.Delete(path);
        }
        catch
        {
            stream.Dispose();
            try
            {
                File.Delete(path);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // the first failure is the one to report
            }

            throw;
        }

        return stream;
    }

    private void ReadExactly(Span<byte> destination, long offset)
    {
        if (!UnixFileCalls.TryReadExactlyAt(_file, destination, offset))
        {
            throw new IOException("A run of the blob index ended early: its file was cut short.");
        }
    }

    /// <summary>The filter's bit of probe <paramref name="i"/> (double hashing on the id's second and third words, which the shards do not use).</summary>
    private static ulong Probe(BlobId id, int i, ulong bits) => Math.BigMul(id.B + ((ulong)i * (id.C | 1)), bits, out _);

    private static void Encode(Span<byte> record, BlobId id, RepositoryIndex.Slot slot)
    {
        id.Write(record);
        var s = record[BlobId.Size..];
        BinaryPrimitives.WriteUInt32LittleEndian(s, slot.PackAndFlags);
        BinaryPrimitives.WriteUInt32LittleEndian(s[4..], slot.Offset);
        BinaryPrimitives.WriteUInt32LittleEndian(s[8..], slot.StoredLength);
        BinaryPrimitives.WriteUInt32LittleEndian(s[12..], slot.RawLength);
    }

    private static RepositoryIndex.Slot DecodeSlot(ReadOnlySpan<byte> s) => new(
        BinaryPrimitives.ReadUInt32LittleEndian(s),
        BinaryPrimitives.ReadUInt32LittleEndian(s[4..]),
        BinaryPrimitives.ReadUInt32LittleEndian(s[8..]),
        BinaryPrimitives.ReadUInt32LittleEndian(s[12..]));
}

/// <summary>
/// The pages of the runs of one index, kept once read while the runs fit in it whole (<see cref="Slots"/> pages of
/// 4 KiB, 8 MiB, ~174k blobs): each page in the one slot its run and number map to, a run's pages in consecutive slots.
/// Without it a restore of 100k small files read a page from the file for two lookups in three (66k <c>pread</c>s,
/// where the run held 3 MB). Past that size most lookups would miss it and pay a copy besides the read (a no-change
/// backup of 1M files: +1–2 s, +10–14 MB), so the index then drops it (<see cref="RepositoryIndex"/>). A slot's buffer
/// is made when first used; runs never change, so a page kept is never stale, and a run gone leaves its pages to be
/// replaced.
/// </summary>
internal sealed class RunPageCache
{
    /// <summary>Slots: 8 MiB of pages.</summary>
    public const int Slots = 2048;

    private readonly Slot[] _slots = [.. Enumerable.Range(0, Slots).Select(_ => new Slot())];

    /// <summary>Copies page <paramref name="page"/> of run <paramref name="run"/> into <paramref name="destination"/> (its length) if the cache holds it.</summary>
    public bool TryRead(long run, int page, Span<byte> destination)
    {
        var slot = SlotOf(run, page);
        lock (slot)
        {
            if (slot.Run != run || slot.Page != page || slot.Data is null)
            {
                return false;
            }

            slot.Data.AsSpan(0, destination.Length).CopyTo(destination);
            return true;
        }
    }

    /// <summary>Keeps <paramref name="content"/>, page <paramref name="page"/> of run <paramref name="run"/>, in place of the page its slot held.</summary>
    public void Keep(long run, int page, ReadOnlySpan<byte> content)
    {
        var slot = SlotOf(run, page);
        lock (slot)
        {
            slot.Data ??= new byte[IndexRun.PageSize];
            content.CopyTo(slot.Data);
            slot.Run = run;
            slot.Page = page;
        }
    }

    private Slot SlotOf(long run, int page) => _slots[(int)(((ulong)run * 0x9E3779B97F4A7C15UL >> 32) + (uint)page) & (Slots - 1)];

    private sealed class Slot
    {
        public long Run = -1;
        public int Page;
        public byte[]? Data;
    }
}
