using Mdmai.DataManager.Compression;
using ZstdSharp;

namespace Mdmai.DataManager.Tests.Compression;

/// <summary>Both compressors — the platform's libzstd and the managed port — write frames the managed decoder reads back.</summary>
public sealed class ZstdTests
{
    public static TheoryData<bool> Implementations => NativeZstd.IsAvailable ? new() { true, false } : new() { false };

    [Fact]
    public void Linux_has_a_native_libzstd()
    {
        // .ci/run installs zstd (and with it libzstd1); every Debian system has it anyway, dpkg depends on it.
        Assert.True(!OperatingSystem.IsLinux() || NativeZstd.IsAvailable, "libzstd.so.1 was not found or is older than 1.4");
    }

    [Theory]
    [MemberData(nameof(Implementations))]
    public void A_buffer_round_trips_and_one_that_does_not_fit_is_refused(bool native)
    {
        using var compressor = new ZstdCompressor(3, native);
        var text = Text(200_000, seed: 1);
        var frame = new byte[Zstd.CompressBound(text.Length)];
        var length = compressor.TryCompress(text, frame);
        Assert.InRange(length, 1, text.Length / 2);
        using var decompressor = new Decompressor();
        Assert.Equal(text, decompressor.Unwrap(frame.AsSpan(0, length)).ToArray());

        var random = new byte[100_000];
        new Random(2).NextBytes(random);
        Assert.Equal(-1, compressor.TryCompress(random, new byte[random.Length - 1]));
        Assert.Equal(-1, compressor.TryCompress(text, new byte[10]));
    }

    [Theory]
    [InlineData(true, 0, 0)]
    [InlineData(true, 1, 0)]
    [InlineData(true, 300_000, 0)]
    [InlineData(true, 20_000_000, 2)]
    [InlineData(false, 0, 0)]
    [InlineData(false, 300_000, 0)]
    [InlineData(false, 20_000_000, 2)]
    public async Task A_stream_round_trips_with_and_without_workers(bool native, int size, int workers)
    {
        if (native && !NativeZstd.IsAvailable)
        {
            native = false; // a platform without libzstd: the same checks on the managed path
        }

        var text = Text(size, seed: 3);
        using var compressed = new MemoryStream();
        await using (var zstd = Zstd.CreateCompressionStream(compressed, 3, workers, leaveOpen: true, native))
        {
            // Uneven writes, sync and async, so frames span many calls.
            var random = new Random(4);
            var offset = 0;
            while (offset < text.Length)
            {
                var n = Math.Min(text.Length - offset, random.Next(1, 700_000));
                if (random.Next(2) == 0)
                {
                    zstd.Write(text, offset, n);
                }
                else
                {
                    await zstd.WriteAsync(text.AsMemory(offset, n));
                }

                offset += n;
            }
        }

        Assert.True(size < 1000 || compressed.Length < size / 2, $"{compressed.Length} bytes for {size} of text");
        compressed.Position = 0;
        await using var decompression = new DecompressionStream(compressed);
        using var back = new MemoryStream();
        await decompression.CopyToAsync(back);
        Assert.Equal(text, back.ToArray());
    }

    [Theory]
    [MemberData(nameof(Implementations))]
    public void A_frame_decompresses_to_its_size_and_damage_or_a_short_destination_is_refused(bool native)
    {
        using var compressor = new ZstdCompressor(3, native);
        var text = Text(150_000, seed: 6);
        var frame = new byte[Zstd.CompressBound(text.Length)];
        var length = compressor.TryCompress(text, frame);

        var back = new byte[text.Length];
        Assert.Equal(text.Length, Zstd.TryDecompress(frame.AsSpan(0, length), back));
        Assert.Equal(text, back);

        Assert.Equal(-1, Zstd.TryDecompress(frame.AsSpan(0, length), new byte[text.Length - 1]));
        Assert.Equal(-1, Zstd.TryDecompress(frame.AsSpan(0, length / 2), back));
        var damaged = frame[..length];
        damaged[0] ^= 0xff; // the magic number
        Assert.Equal(-1, Zstd.TryDecompress(damaged, back));
    }

    [Fact]
    public async Task A_stream_whose_destination_closed_fails_with_ObjectDisposed_when_ended()
    {
        var destination = new MemoryStream();
        var zstd = Zstd.CreateCompressionStream(destination, 3, 0, leaveOpen: true, NativeZstd.IsAvailable);
        await zstd.WriteAsync(Text(10_000, seed: 5));
        await destination.DisposeAsync();
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await zstd.DisposeAsync());
        await zstd.DisposeAsync(); // a second dispose is harmless
    }

    private static byte[] Text(int size, int seed)
    {
        var words = new[] { "goblin", "dragon", "tavern", "sword", "the", "of", "and", "ancient", "ruins", "Æthelred", "龍" };
        var random = new Random(seed);
        var builder = new System.Text.StringBuilder(size + 16);
        while (builder.Length < size)
        {
            builder.Append(words[random.Next(words.Length)]).Append(random.Next(8) == 0 ? ".\n" : " ");
        }

        var bytes = System.Text.Encoding.UTF8.GetBytes(builder.ToString());
        return bytes[..Math.Min(size, bytes.Length)];
    }
}
