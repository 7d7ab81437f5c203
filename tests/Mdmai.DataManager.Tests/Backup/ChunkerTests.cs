using System.Security.Cryptography;
using Mdmai.DataManager.Backup.Internal;

namespace Mdmai.DataManager.Tests.Backup;

public sealed class ChunkerTests
{
    private const int Min = 4 * 1024;
    private const int Average = 16 * 1024;
    private const int Max = 64 * 1024;

    private static readonly ChunkerParameters Parameters = new(Min, Average, Max);

    private static Chunker NewChunker(int seed = 1) => new(Parameters, SHA256.HashData(BitConverter.GetBytes(seed)));

    /// <summary>Cuts of the whole buffer with <see cref="Chunker.Cut"/>, the reference the stream chunker must match.</summary>
    private static List<int> Cuts(Chunker chunker, byte[] data)
    {
        var cuts = new List<int>();
        var offset = 0;
        while (offset < data.Length)
        {
            var n = chunker.Cut(data.AsSpan(offset), final: true);
            Assert.True(n > 0, $"no progress at {offset}");
            cuts.Add(n);
            offset += n;
        }

        return cuts;
    }

    private static List<string> ChunkHashes(Chunker chunker, byte[] data)
    {
        var hashes = new List<string>();
        var offset = 0;
        foreach (var n in Cuts(chunker, data))
        {
            hashes.Add(Convert.ToHexString(SHA256.HashData(data.AsSpan(offset, n))));
            offset += n;
        }

        return hashes;
    }

    private static byte[] Content(string kind, int size, int seed) => kind switch
    {
        "random" => BackupTesting.RandomBytes(size, seed),
        "zeros" => new byte[size],
        "text" => BackupTesting.Text(size, seed),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    [Fact]
    public void The_same_key_and_content_always_give_the_same_cuts()
    {
        var data = BackupTesting.RandomBytes(2 * 1024 * 1024, 21);

        var first = Cuts(NewChunker(7), data);
        var second = Cuts(NewChunker(7), data);

        Assert.Equal(first, second);
        Assert.True(first.Count > 20, $"{first.Count} chunks");
    }

    [Fact]
    public void Another_key_cuts_the_same_content_elsewhere()
    {
        var data = BackupTesting.RandomBytes(1024 * 1024, 22);

        Assert.NotEqual(Cuts(NewChunker(7), data), Cuts(NewChunker(8), data));
    }

    [Theory]
    [InlineData("random")]
    [InlineData("text")]
    [InlineData("zeros")]
    public void Every_chunk_but_the_last_is_between_the_minimum_and_the_maximum(string kind)
    {
        var data = Content(kind, 3 * 1024 * 1024 + 123, 23);

        var cuts = Cuts(NewChunker(), data);

        Assert.Equal(data.Length, cuts.Sum());
        Assert.All(cuts[..^1], n => Assert.InRange(n, Min, Max));
        Assert.InRange(cuts[^1], 1, Max);
    }

    [Fact]
    public void Chunks_of_random_data_average_near_the_configured_size()
    {
        var cuts = Cuts(NewChunker(), BackupTesting.RandomBytes(8 * 1024 * 1024, 24));

        var mean = cuts.Average();
        Assert.InRange(mean, Average / 2.0, Average * 2.0);
        Assert.True(cuts.Count(n => n == Max) < cuts.Count / 10, "most chunks end at a content-defined cut, not the maximum");
    }

    [Theory]
    [InlineData(10, 100)]
    [InlineData(1000, 1)]
    [InlineData(50_000, 7777)]
    public void Inserting_bytes_near_the_start_leaves_the_later_chunks_unchanged(int at, int inserted)
    {
        var original = BackupTesting.RandomBytes(4 * 1024 * 1024, 25);
        var extra = BackupTesting.RandomBytes(inserted, 26);
        var edited = original[..at].Concat(extra).Concat(original[at..]).ToArray();
        var chunker = NewChunker();

        var before = ChunkHashes(chunker, original);
        var after = ChunkHashes(chunker, edited).ToHashSet();

        var kept = before.Count(after.Contains);
        Assert.True(kept >= before.Count - 3, $"{kept} of {before.Count} chunks survived an insertion of {inserted} bytes at {at}");
        Assert.Equal(before[^10..], ChunkHashes(chunker, edited)[^10..]);
    }

    [Fact]
    public void Deleting_bytes_in_the_middle_changes_only_the_chunks_around_them()
    {
        var original = BackupTesting.RandomBytes(4 * 1024 * 1024, 27);
        var edited = original[..2_000_000].Concat(original[2_000_500..]).ToArray();
        var chunker = NewChunker();

        var before = ChunkHashes(chunker, original);
        var after = ChunkHashes(chunker, edited).ToHashSet();

        Assert.True(before.Count(after.Contains) >= before.Count - 3);
    }

    [Theory]
    [InlineData(100)]
    [InlineData(Max - 1)]
    public void Without_the_end_of_the_data_nothing_is_cut_at_the_end_of_the_buffer(int size)
    {
        var chunker = NewChunker();
        foreach (var seed in Enumerable.Range(30, 20))
        {
            var data = BackupTesting.RandomBytes(size, seed);

            var final = chunker.Cut(data, final: true);
            var partial = chunker.Cut(data, final: false);

            Assert.Equal(final < size ? final : 0, partial);
        }
    }

    [Fact]
    public void A_full_maximum_is_cut_even_when_more_data_follows()
    {
        var chunker = NewChunker();
        var zeros = new byte[3 * Max];

        var cut = chunker.Cut(zeros, final: false);

        Assert.InRange(cut, Min, Max);
    }

    public static TheoryData<int, string> StreamCases => new()
    {
        { 0, "random" }, { 1, "random" }, { Min - 1, "random" }, { Min, "random" }, { Min + 1, "random" },
        { Max - 1, "random" }, { Max, "random" }, { Max + 1, "random" }, { (2 * Max) + 3, "random" },
        { 3 * 1024 * 1024 + 7, "random" }, { 3 * 1024 * 1024, "text" }, { 1024 * 1024 + 5, "zeros" },
    };

    [Theory]
    [MemberData(nameof(StreamCases))]
    public async Task StreamChunker_over_any_read_sizes_gives_the_chunks_of_the_whole_buffer(int size, string kind)
    {
        var data = Content(kind, size, 28);
        var chunker = NewChunker();
        var expected = Cuts(chunker, data);

        foreach (var readSeed in new[] { 1, 2, 3 })
        {
            var (lengths, joined) = await StreamAsync(chunker, data, new Random(readSeed), readSeed == 3 ? int.MaxValue : (3 * Max) / 2);

            Assert.Equal(expected, lengths);
            Assert.Equal(data, joined);
        }
    }

    [Fact]
    public async Task StreamChunker_starts_over_after_Reset()
    {
        var chunker = NewChunker();
        var first = BackupTesting.RandomBytes(300_000, 29);
        var second = BackupTesting.RandomBytes(200_001, 30);
        var streamer = new StreamChunker(chunker, new byte[StreamChunker.BufferSize(Parameters)]);

        var (a, _) = await StreamAsync(streamer, first, new Random(1), Max);
        streamer.Reset();
        var (b, joined) = await StreamAsync(streamer, second, new Random(2), Max);

        Assert.Equal(Cuts(chunker, first), a);
        Assert.Equal(Cuts(chunker, second), b);
        Assert.Equal(second, joined);
    }

    [Fact]
    public void StreamChunker_refuses_a_buffer_smaller_than_it_needs()
    {
        Assert.Throws<ArgumentException>(() => new StreamChunker(NewChunker(), new byte[StreamChunker.BufferSize(Parameters) - 1]));
    }

    [Theory]
    [InlineData(32, 1024, 4096)]
    [InlineData(1024, 3000, 8192)]
    [InlineData(4096, 4096, 8192)]
    [InlineData(1024, 4096, 4096)]
    [InlineData(1024, 4096, (64 * 1024 * 1024) + 1)]
    public void Invalid_parameters_are_refused(int min, int average, int max)
    {
        var error = Assert.Throws<MdmaiException>(() => new ChunkerParameters(min, average, max).Validate());

        Assert.Equal(MdmaiErrorCode.Corrupt, error.Code);
    }

    private static Task<(List<int> Lengths, byte[] Joined)> StreamAsync(Chunker chunker, byte[] data, Random reads, int largestRead) =>
        StreamAsync(new StreamChunker(chunker, new byte[StreamChunker.BufferSize(Parameters)]), data, reads, largestRead);

    private static async Task<(List<int> Lengths, byte[] Joined)> StreamAsync(StreamChunker streamer, byte[] data, Random reads, int largestRead)
    {
        var position = 0;
        ValueTask<int> Read(Memory<byte> buffer, CancellationToken ct)
        {
            // Short reads of any size, as a pipe or network stream gives them.
            var n = Math.Min(Math.Min(buffer.Length, data.Length - position), largestRead == int.MaxValue ? int.MaxValue : reads.Next(1, largestRead));
            data.AsSpan(position, n).CopyTo(buffer.Span);
            position += n;
            return ValueTask.FromResult(n);
        }

        var lengths = new List<int>();
        using var joined = new MemoryStream();
        while (true)
        {
            var chunk = await streamer.NextAsync(Read, CancellationToken.None);
            if (chunk.IsEmpty)
            {
                break;
            }

            lengths.Add(chunk.Length);
            joined.Write(chunk.Span);
        }

        return (lengths, joined.ToArray());
    }
}
