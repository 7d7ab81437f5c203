using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Mdmai.DataManager.Tests.Backup;

/// <summary>What the proxy does to one request.</summary>
internal abstract record Fault
{
    /// <summary>Passed through untouched.</summary>
    public static readonly Fault None = new Pass();

    /// <summary>Answered by the proxy with an S3 error (503 SlowDown, 500 InternalError…); the store never sees it.</summary>
    public static Fault Status(int status, string code) => new Reply(status, code);

    /// <summary>The connection is reset (RST) before anything reaches the store.</summary>
    public static readonly Fault Reset = new Drop();

    /// <summary>The request is taken and never answered: the connection stays open, silent.</summary>
    public static readonly Fault Stall = new Silence();

    /// <summary>The store gets the whole request and answers; only the first <paramref name="bytes"/> of its answer reach the client, then a reset.</summary>
    public static Fault Truncate(int bytes) => new Cut(bytes);

    internal sealed record Pass : Fault;

    internal sealed record Reply(int Code, string ErrorCode) : Fault;

    internal sealed record Drop : Fault;

    internal sealed record Silence : Fault;

    internal sealed record Cut(int Bytes) : Fault;
}

/// <summary>One request as the proxy saw it.</summary>
internal sealed record ProxiedRequest(int Index, string Method, string Path);

/// <summary>
/// A loopback TCP proxy of the tests' own between the S3 client and the real gateway, for fault injection: each request
/// goes on a connection of its own (it adds <c>Connection: close</c>), and <see cref="Plan"/> picks what happens to it —
/// passed through, answered with a 503 SlowDown, reset, stalled, or its answer cut short.
/// </summary>
internal sealed class FaultProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Uri _upstream;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private readonly List<Task> _connections = [];
    private int _requests;

    public FaultProxy(Uri upstream)
    {
        _upstream = upstream;
        _listener.Start();
        Endpoint = new Uri($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}");
        _accepting = Task.Run(AcceptAsync);
    }

    /// <summary>Where clients connect.</summary>
    public Uri Endpoint { get; }

    /// <summary>Picks the fault for each request (default: none).</summary>
    public Func<ProxiedRequest, Fault> Plan { get; set; } = _ => Fault.None;

    /// <summary>Every request seen, with what was done to it.</summary>
    public List<(ProxiedRequest Request, Fault Fault)> Log { get; } = [];

    /// <summary>Requests that got a fault.</summary>
    public int Faults
    {
        get
        {
            lock (Log)
            {
                return Log.Count(l => l.Fault is not Fault.Pass);
            }
        }
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }

            lock (_connections)
            {
                _connections.RemoveAll(t => t.IsCompleted);
                _connections.Add(Task.Run(() => HandleAsync(client)));
            }
        }
    }

    private async Task HandleAsync(TcpClient client)
    {
        using var _ = client;
        var ct = _stop.Token;
        try
        {
            var stream = client.GetStream();
            var (head, rest) = await ReadHeadAsync(stream, ct);
            if (head is null)
            {
                return;
            }

            var lines = head.Split("\r\n");
            var parts = lines[0].Split(' ');
            var request = new ProxiedRequest(Interlocked.Increment(ref _requests), parts[0], parts.Length > 1 ? parts[1] : "");
            var fault = Plan(request);
            lock (Log)
            {
                Log.Add((request, fault));
            }

            switch (fault)
            {
                case Fault.Reply reply:
                    var body = Encoding.UTF8.GetBytes($"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{reply.ErrorCode}</Code><Message>injected by the test proxy</Message></Error>");
                    var answer = Encoding.ASCII.GetBytes($"HTTP/1.1 {reply.Code} {reply.ErrorCode}\r\nContent-Type: application/xml\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n");
                    await stream.WriteAsync(answer, ct);
                    await stream.WriteAsync(body, ct);
                    await stream.FlushAsync(ct);
                    client.Client.Shutdown(SocketShutdown.Send);
                    await DrainAsync(stream, ct);
                    return;
                case Fault.Drop:
                    client.Client.LingerState = new LingerOption(true, 0);
                    return;
                case Fault.Silence:
                    await Task.Delay(Timeout.Infinite, ct);
                    return;
            }

            // Through to the store, one request on this connection.
            var rewritten = string.Join("\r\n", lines.Where(l => !l.StartsWith("Connection:", StringComparison.OrdinalIgnoreCase) && l.Length > 0)) + "\r\nConnection: close\r\n\r\n";
            using var upstream = new TcpClient();
            await upstream.ConnectAsync(_upstream.Host, _upstream.Port, ct);
            var server = upstream.GetStream();
            await server.WriteAsync(Encoding.ASCII.GetBytes(rewritten), ct);
            await server.WriteAsync(rest, ct);
            var up = CopyAsync(stream, server, long.MaxValue, ct);
            var limit = fault is Fault.Cut cut ? cut.Bytes : long.MaxValue;
            await CopyAsync(server, stream, limit, ct);
            if (fault is Fault.Cut)
            {
                client.Client.LingerState = new LingerOption(true, 0);
                return;
            }

            client.Client.Shutdown(SocketShutdown.Send);
            await Task.WhenAny(up, Task.Delay(1000, ct));
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // a side went away: the test's client sees what that means
        }
    }

    private static async Task<(string? Head, byte[] Body)> ReadHeadAsync(NetworkStream stream, CancellationToken ct)
    {
        var buffer = new byte[64 * 1024];
        var length = 0;
        while (length < buffer.Length)
        {
            var n = await stream.ReadAsync(buffer.AsMemory(length), ct);
            if (n == 0)
            {
                return (null, []);
            }

            length += n;
            var end = buffer.AsSpan(0, length).IndexOf("\r\n\r\n"u8);
            if (end >= 0)
            {
                return (Encoding.ASCII.GetString(buffer, 0, end), buffer[(end + 4)..length]);
            }
        }

        return (null, []);
    }

    private static async Task CopyAsync(Stream from, Stream to, long limit, CancellationToken ct)
    {
        var buffer = new byte[64 * 1024];
        long copied = 0;
        try
        {
            while (copied < limit)
            {
                var n = await from.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, limit - copied)), ct);
                if (n == 0)
                {
                    return;
                }

                await to.WriteAsync(buffer.AsMemory(0, n), ct);
                copied += n;
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            // closed
        }
    }

    private static async Task DrainAsync(Stream stream, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(2000);
        var buffer = new byte[16 * 1024];
        try
        {
            while (await stream.ReadAsync(buffer, timeout.Token) > 0)
            {
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException)
        {
            // the client closed, or sent its body into the void
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        Task[] open;
        lock (_connections)
        {
            open = [.. _connections];
        }

        await Task.WhenAll(open);
        _stop.Dispose();
    }
}
