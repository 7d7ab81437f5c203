using Mdmai.DataManager.Security;

namespace Mdmai.DataManager.Tests.Security;

public sealed class ObjectCodecTests : IDisposable
{
    private const int Segment = 1 << ObjectHeader.DefaultSegmentSizeLog2;
    private readonly KeyRing _keys = new([DataKey.CreateRandom(1)]);

    public void Dispose() => _keys.Dispose();

    public static TheoryData<int> Sizes() =>
        [0, 1, 15, 16, 17, Segment - 1, Segment, Segment + 1, 2 * Segment, 2 * Segment + 7, 5 * 1024 * 1024 + 3];

    private static byte[] Data(int size, bool compressible, int seed = 1)
    {
        var data = new byte[size];
        if (compressible)
        {
            var words = "the goblin ambush on the triboar trail; phandalin's sildar hallwinter; "u8.ToArray();
            for (var i = 0; i < size; i++)
            {
                data[i] = words[i % words.Length];
            }
        }
        else
        {
            new Random(seed).NextBytes(data);
        }

        return data;
    }

    private static async Task<byte[]> Write(byte[] content, DataKey? key, bool compress)
    {
        using var stored = new MemoryStream();
        await using (var writer = ObjectCodec.CreateWriter(stored, key, compress))
        {
            // Odd-sized writes exercise the segment buffer at every boundary.
            for (var offset = 0; offset < content.Length; offset += 7919)
            {
                await writer.Stream.WriteAsync(content.AsMemory(offset, Math.Min(7919, content.Length - offset)));
            }

            await writer.CompleteAsync();
            Assert.Equal(stored.Length, writer.StoredLength);
        }

        return stored.ToArray();
    }

    private async Task<byte[]> Read(byte[] stored, KeyRing? keys = null, bool sync = false)
    {
        await using var stream = await ObjectCodec.OpenReadAsync(new MemoryStream(stored), keys ?? _keys, "test");
        using var output = new MemoryStream();
        if (sync)
        {
            stream.CopyTo(output, 4096);
        }
        else
        {
            await stream.CopyToAsync(output, 4096);
        }

        return output.ToArray();
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public async Task Encrypted_objects_round_trip_at_every_size_around_segment_boundaries(int size)
    {
        var content = Data(size, compressible: false);
        var stored = await Write(content, _keys.Current, compress: false);

        Assert.Equal(content, await Read(stored));
        Assert.Equal(content, await Read(stored, sync: true));
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public async Task Compressed_encrypted_objects_round_trip(int size)
    {
        var content = Data(size, compressible: true);
        var stored = await Write(content, _keys.Current, compress: true);

        Assert.Equal(content, await Read(stored));
        if (size > 64 * 1024)
        {
            Assert.True(stored.Length < size / 4, $"{stored.Length} stored bytes for {size} compressible bytes");
        }
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public async Task Unencrypted_objects_round_trip_with_checksums(int size)
    {
        var content = Data(size, compressible: size % 2 == 0);
        var stored = await Write(content, key: null, compress: size % 2 == 0);

        Assert.Equal(content, await Read(stored, keys: null));
    }

    [Fact]
    public async Task Encrypted_objects_do_not_contain_the_plaintext()
    {
        var content = Data(10_000, compressible: true);
        var stored = await Write(content, _keys.Current, compress: false);

        Assert.Equal(-1, stored.AsSpan().IndexOf(content.AsSpan(0, 64)));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Every_single_byte_corruption_of_a_small_object_is_detected(bool encrypted)
    {
        var content = Data(300, compressible: false);
        var stored = await Write(content, encrypted ? _keys.Current : null, compress: false);

        for (var i = 0; i < stored.Length; i++)
        {
            var damaged = (byte[])stored.Clone();
            damaged[i] ^= (byte)(1 << (i % 8));
            var error = await Record.ExceptionAsync(() => Read(damaged, encrypted ? _keys : null));
            Assert.True(error is InvalidDataException or EndOfStreamException or MdmaiException { Code: MdmaiErrorCode.WrongKey },
                $"byte {i}: {error?.GetType().Name ?? "no error"}");
        }
    }

    [Fact]
    public async Task Truncation_at_every_segment_boundary_is_detected()
    {
        var content = Data(3 * Segment + 100, compressible: false);
        var stored = await Write(content, _keys.Current, compress: false);

        for (var segments = 0; segments <= 3; segments++)
        {
            var cut = ObjectHeader.Size + (segments * (Segment + SegmentCipher.TagSize));
            await Assert.ThrowsAsync<EndOfStreamException>(() => Read(stored[..cut]));
        }

        Assert.IsType<InvalidDataException>(await Record.ExceptionAsync(() => Read(stored[..^1])));
        await Assert.ThrowsAsync<EndOfStreamException>(() => Read(stored[..10]));
    }

    [Fact]
    public async Task Data_after_the_final_segment_is_detected()
    {
        var stored = await Write(Data(1000, compressible: false), _keys.Current, compress: false);

        await Assert.ThrowsAsync<InvalidDataException>(() => Read([.. stored, 0]));
    }

    [Fact]
    public async Task Reordered_segments_are_detected()
    {
        var stored = await Write(Data(3 * Segment, compressible: false), _keys.Current, compress: false);
        var first = ObjectHeader.Size;
        var length = Segment + SegmentCipher.TagSize;
        var swapped = (byte[])stored.Clone();
        stored.AsSpan(first, length).CopyTo(swapped.AsSpan(first + length));
        stored.AsSpan(first + length, length).CopyTo(swapped.AsSpan(first));

        await Assert.ThrowsAsync<InvalidDataException>(() => Read(swapped));
    }

    [Fact]
    public async Task A_different_key_is_WrongKey_not_garbage()
    {
        var stored = await Write(Data(1000, compressible: false), _keys.Current, compress: false);
        using var other = new KeyRing([DataKey.CreateRandom(1)]);

        var error = await Assert.ThrowsAsync<MdmaiException>(() => Read(stored, other));
        Assert.Equal(MdmaiErrorCode.WrongKey, error.Code);
    }

    [Fact]
    public async Task An_encrypted_object_without_keys_says_to_unlock()
    {
        var stored = await Write(Data(10, compressible: false), _keys.Current, compress: false);

        await using var _ = new MemoryStream();
        var error = await Assert.ThrowsAsync<MdmaiException>(async () => await ObjectCodec.OpenReadAsync(new MemoryStream(stored), null, "x"));
        Assert.Equal(MdmaiErrorCode.WrongKey, error.Code);
    }

    [Fact]
    public async Task An_abandoned_writer_leaves_an_object_that_reads_as_truncated()
    {
        using var stored = new MemoryStream();
        await using (var writer = ObjectCodec.CreateWriter(stored, _keys.Current, compress: true))
        {
            await writer.Stream.WriteAsync(Data(3 * Segment, compressible: true));
        }

        await Assert.ThrowsAnyAsync<IOException>(() => Read(stored.ToArray()));
    }

    [Fact]
    public void Compression_is_skipped_for_data_that_does_not_compress()
    {
        Assert.False(ObjectCodec.IsWorthCompressing(Data(ObjectCodec.SampleSize, compressible: false)));
        Assert.True(ObjectCodec.IsWorthCompressing(Data(ObjectCodec.SampleSize, compressible: true)));
        Assert.False(ObjectCodec.IsWorthCompressing([]));
    }

    [Fact]
    public async Task Content_held_whole_is_compressed_once_and_kept_only_when_it_pays()
    {
        var frame = new byte[1 << 20];

        // Small and compressible: one frame, which an object written around it reads back as the content.
        var text = Data(5000, compressible: true);
        var length = ObjectCodec.TryCompressWhole(text, frame);
        Assert.InRange(length, 1, 5000 * 9 / 10);
        var stored = new byte[ObjectCodec.EncodedLength(length)];
        Assert.Equal(stored.Length, ObjectCodec.EncodeWhole(frame.AsSpan(0, length), _keys.Current, compressed: true, stored));
        Assert.Equal(text, await Read(stored));

        // Not worth it: noise, a frame under 10 % smaller, less than 64 bytes.
        Assert.Equal(0, ObjectCodec.TryCompressWhole(Data(5000, compressible: false), frame));
        var mostlyNoise = Data(5000, compressible: false);
        Array.Fill(mostlyNoise, (byte)'a', 0, 300); // ~6 % compressible
        Assert.Equal(0, ObjectCodec.TryCompressWhole(mostlyNoise, frame));
        Assert.Equal(0, ObjectCodec.TryCompressWhole(Data(63, compressible: true), frame));

        // Longer than the sample: its first 64 KiB decide, even if the rest would compress.
        var noiseThenText = Data(ObjectCodec.SampleSize + 200_000, compressible: true);
        Data(ObjectCodec.SampleSize, compressible: false).CopyTo(noiseThenText, 0);
        Assert.Equal(0, ObjectCodec.TryCompressWhole(noiseThenText, frame));
        Assert.True(ObjectCodec.TryCompressWhole(Data(ObjectCodec.SampleSize + 200_000, compressible: true), frame) > 0);

        // At a slow level a small chunk is tested at level 1 first (the rule is the same; the cost of a try is not).
        using var slow = new Mdmai.DataManager.Compression.ZstdCompressor(19);
        Assert.Equal(0, ObjectCodec.TryCompressIfWorth(slow, Data(5000, compressible: false), frame));
        Assert.InRange(ObjectCodec.TryCompressIfWorth(slow, text, frame), 1, 5000 * 9 / 10);
    }

    [Theory]
    [InlineData(0, true)]
    [InlineData(1, true)]
    [InlineData((1 << 18) - 1, true)]
    [InlineData(1 << 18, true)]
    [InlineData((1 << 18) + 1, false)]
    [InlineData(3 * (1 << 18), false)]
    [InlineData(700_000, true)]
    public async Task An_object_encoded_whole_is_the_object_a_writer_makes(int size, bool encrypted)
    {
        // Same segments (full ones, then a shorter final one, empty when the content ends on a boundary), same
        // header: the stream writer reads it back, and its length is what a writer would store.
        var content = Data(size, compressible: false);
        var key = encrypted ? _keys.Current : null;
        var keys = encrypted ? _keys : null;
        var whole = new byte[ObjectCodec.EncodedLength(size) + 7];
        var length = ObjectCodec.EncodeWhole(content, key, compressed: false, whole);
        Assert.Equal(ObjectCodec.EncodedLength(size), length);

        using var streamed = new MemoryStream();
        await using (var writer = ObjectCodec.CreateWriter(streamed, key, compress: false))
        {
            await writer.Stream.WriteAsync(content);
            await writer.CompleteAsync();
        }

        Assert.Equal(streamed.Length, length);
        await using var read = await ObjectCodec.OpenReadAsync(new MemoryStream(whole, 0, length), keys);
        using var back = new MemoryStream();
        await read.CopyToAsync(back);
        Assert.Equal(content, back.ToArray());

        // Sealed in place (the content already where the first segment goes, as a frame compressed there is): the same
        // content reads back, the segments moved apart for their tags.
        var inPlace = new byte[ObjectCodec.EncodedLength(size)];
        content.CopyTo(inPlace, ObjectHeader.Size);
        Assert.Equal(length, ObjectCodec.EncodeWhole(inPlace.AsSpan(ObjectHeader.Size, size), key, compressed: false, inPlace));
        await using (var again = await ObjectCodec.OpenReadAsync(new MemoryStream(inPlace), keys))
        {
            using var copy = new MemoryStream();
            await again.CopyToAsync(copy);
            Assert.Equal(content, copy.ToArray());
        }

        // Its last byte is part of the object: cut it off and it reads as truncated.
        var error = await Record.ExceptionAsync(async () =>
        {
            await using var cut = await ObjectCodec.OpenReadAsync(new MemoryStream(whole, 0, length - 1), keys);
            await cut.CopyToAsync(Stream.Null);
        });
        Assert.True(error is InvalidDataException or EndOfStreamException, $"{error}");
    }

    [Fact]
    public void The_header_starts_with_the_magic_and_version()
    {
        Span<byte> bytes = stackalloc byte[ObjectHeader.Size];
        ObjectHeader.Create(compressed: true, key: null, []).Write(bytes);

        Assert.True(bytes[..4].SequenceEqual("MDMO"u8));
        Assert.Equal(1, bytes[4]);
        Assert.Equal(1, bytes[5]);
    }
}
