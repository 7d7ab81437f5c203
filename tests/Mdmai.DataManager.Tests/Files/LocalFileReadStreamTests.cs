using Mdmai.DataManager.Files.Internal;

namespace Mdmai.DataManager.Tests.Files;

public sealed class LocalFileReadStreamTests : IDisposable
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), "mdmai-lfrs-" + Guid.NewGuid().ToString("N"));

    public void Dispose() => File.Delete(_path);

    [Fact]
    public async Task Reads_seeks_and_reports_its_length_as_a_file_stream_does()
    {
        var content = new byte[300_000];
        new Random(7).NextBytes(content);
        await File.WriteAllBytesAsync(_path, content);

        await using var stream = new LocalFileReadStream(File.OpenHandle(_path));
        Assert.True(stream.CanRead && stream.CanSeek && !stream.CanWrite);
        Assert.Equal(content.Length, stream.Length);

        // Asynchronous reads pick up where the last one stopped, and end with 0.
        var buffer = new byte[200_000];
        Assert.Equal(200_000, await stream.ReadAsync(buffer));
        Assert.Equal(content.AsSpan(0, 200_000).ToArray(), buffer);
        Assert.Equal(100_000, await stream.ReadAsync(buffer));
        Assert.Equal(content.AsSpan(200_000).ToArray(), buffer.AsSpan(0, 100_000).ToArray());
        Assert.Equal(0, await stream.ReadAsync(buffer));

        // Seeking from the end (as PdfPig does for a PDF's trailer) and from where it stands.
        Assert.Equal(content.Length - 10, stream.Seek(-10, SeekOrigin.End));
        Assert.Equal(10, stream.Read(buffer, 0, 100));
        Assert.Equal(content.AsSpan(content.Length - 10).ToArray(), buffer.AsSpan(0, 10).ToArray());
        stream.Position = 5;
        Assert.Equal(6, stream.Seek(1, SeekOrigin.Current));
        Assert.Equal(content[6], (byte)stream.ReadByte());
        Assert.Throws<ArgumentOutOfRangeException>(() => stream.Position = -1);
        Assert.Throws<NotSupportedException>(() => stream.Write([1], 0, 1));

        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await stream.ReadAtLeastAsync(buffer, 1, cancellationToken: cancelled.Token));
    }

    [Fact]
    public async Task A_handle_that_cannot_be_read_at_an_offset_fails_with_an_io_error()
    {
        // A pipe cannot be read at an offset: pread fails with ESPIPE on Linux (RandomAccess refuses it elsewhere).
        using var pipe = new System.IO.Pipes.AnonymousPipeServerStream(System.IO.Pipes.PipeDirection.In);
        await using var stream = new LocalFileReadStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(pipe.SafePipeHandle.DangerousGetHandle(), ownsHandle: false));
        var error = Record.Exception(() => stream.Read(new byte[16], 0, 16));
        Assert.True(OperatingSystem.IsLinux() ? error is IOException : error is NotSupportedException or IOException, $"got {error?.GetType().Name ?? "no error"}");
    }

    [Fact]
    public async Task Disposing_it_closes_the_file()
    {
        await File.WriteAllBytesAsync(_path, [1, 2, 3]);
        var handle = File.OpenHandle(_path);
        await new LocalFileReadStream(handle).DisposeAsync();
        Assert.True(handle.IsClosed);
    }
}
