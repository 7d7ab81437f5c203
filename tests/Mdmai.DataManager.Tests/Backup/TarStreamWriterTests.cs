using System.Formats.Tar;
using Mdmai.DataManager.Backup.Internal;

namespace Mdmai.DataManager.Tests.Backup;

/// <summary>The export's tar writer over System.Formats.Tar, into a stream that cannot seek (as the zstd compressor is).</summary>
public sealed class TarStreamWriterTests
{
    [Fact]
    public async Task Short_long_and_non_ascii_names_round_trip_through_TarReader()
    {
        var output = new MemoryStream();
        var long1 = "files/map/" + new string('x', 150) + ".png";
        using (var tar = new TarStreamWriter(new UnseekableStream(output)))
        {
            await tar.WriteDirectoryAsync("files", DateTimeOffset.UnixEpoch, 0, default);
            await tar.WriteFileAsync("files/a.txt", 3, DateTimeOffset.UnixEpoch.AddDays(1), 0x180, new MemoryStream("abc"u8.ToArray()), default);
            await tar.WriteFileAsync(long1, 2, DateTimeOffset.UnixEpoch, 0, new MemoryStream([1, 2]), default);
            await tar.WriteFileAsync("files/Zauberbücher.pdf", 0, DateTimeOffset.UnixEpoch, 0, Stream.Null, default);
            await tar.FinishAsync(default);
        }

        output.Position = 0;
        var reader = new TarReader(output);
        var entries = new List<(string Name, long Length, UnixFileMode Mode)>();
        while (await reader.GetNextEntryAsync() is { } entry)
        {
            entries.Add((entry.Name, entry.Length, entry.Mode));
        }

        Assert.Equal(
            [("files/", 0L, (UnixFileMode)0x1ED), ("files/a.txt", 3L, (UnixFileMode)0x180), (long1, 2L, (UnixFileMode)0x1A4), ("files/Zauberbücher.pdf", 0L, (UnixFileMode)0x1A4)],
            entries);
    }

    [Theory]
    [InlineData(2, "ended after 2 of 3 bytes")]
    [InlineData(4, "is longer than the 3 bytes")]
    public async Task Content_that_is_not_the_recorded_length_is_refused(int actual, string message)
    {
        using var tar = new TarStreamWriter(new UnseekableStream(new MemoryStream()));

        var error = await Assert.ThrowsAsync<InvalidDataException>(() => tar.WriteFileAsync("f", 3, DateTimeOffset.UnixEpoch, 0, new MemoryStream(new byte[actual]), default));

        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    private sealed class UnseekableStream(Stream inner) : Stream
    {
        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush() => inner.Flush();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);
    }
}
