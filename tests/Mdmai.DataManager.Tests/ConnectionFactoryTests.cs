using Mdmai.DataManager.Storage;
using Mdmai.DataManager.Storage.Internal;

namespace Mdmai.DataManager.Tests;

public sealed class ConnectionFactoryTests : IAsyncLifetime
{
    private static readonly TimeSpan BusyTimeout = TimeSpan.FromMilliseconds(1234);
    private TestDatabase _t = null!;

    public async Task InitializeAsync() => _t = await TestDatabase.OpenAsync(new DatabaseOptions { BusyTimeout = BusyTimeout });

    public async Task DisposeAsync() => await _t.DisposeAsync();

    private static void AssertDesignPragmas(Microsoft.Data.Sqlite.SqliteConnection connection, string who)
    {
        foreach (var (name, _, expected) in ConnectionFactory.Pragmas)
        {
            Assert.True(ConnectionFactory.ReadPragma(connection, name) == expected, $"{who}: PRAGMA {name} is {ConnectionFactory.ReadPragma(connection, name)}, expected {expected}");
        }

        Assert.Equal((long)BusyTimeout.TotalMilliseconds, ConnectionFactory.ReadPragma(connection, "busy_timeout"));
        Assert.Equal("wal", (string?)RawSql.Scalar(connection, "PRAGMA journal_mode"));
    }

    [Fact]
    public void Pragmas_list_the_values_of_the_design()
    {
        var pragmas = ConnectionFactory.Pragmas.ToDictionary(p => p.Name, p => p.Expected);
        Assert.Equal(1, pragmas["synchronous"]); // NORMAL
        Assert.Equal(-64000, pragmas["cache_size"]);
        Assert.Equal(2, pragmas["temp_store"]); // MEMORY
        Assert.Equal(268435456, pragmas["mmap_size"]);
        Assert.Equal(1, pragmas["foreign_keys"]);
    }

    [Fact]
    public void Open_applies_pragmas_on_every_fresh_connection()
    {
        var path = _t.Path;
        using var first = ConnectionFactory.Open(path, BusyTimeout);
        using var second = ConnectionFactory.Open(path, BusyTimeout, readOnly: true);
        using var third = ConnectionFactory.Open(path, BusyTimeout);
        AssertDesignPragmas(first, "first");
        AssertDesignPragmas(second, "second");
        AssertDesignPragmas(third, "third");
        Assert.Equal(1, ConnectionFactory.ReadPragma(second, "query_only"));
        Assert.Equal(0, ConnectionFactory.ReadPragma(first, "query_only"));
    }

    [Fact]
    public void A_plain_connection_does_not_have_the_pragmas_so_the_check_is_meaningful()
    {
        using var plain = RawSql.Open(_t.Path);
        Assert.NotEqual(-64000, ConnectionFactory.ReadPragma(plain, "cache_size"));
        Assert.NotEqual(268435456, ConnectionFactory.ReadPragma(plain, "mmap_size"));
        Assert.NotEqual(1234, ConnectionFactory.ReadPragma(plain, "busy_timeout"));
    }

    [Fact]
    public void ReadConnectionPragmas_reports_the_design_values()
    {
        var pragmas = _t.Db.ReadConnectionPragmas();
        foreach (var (name, _, expected) in ConnectionFactory.Pragmas)
        {
            Assert.Equal(expected, pragmas[name]);
        }
    }

    [Fact]
    public async Task The_writer_connection_has_the_pragmas()
    {
        var values = await _t.Db.Writer.ExecuteExclusiveAsync(c =>
            ConnectionFactory.Pragmas.Select(p => p.Name).Append("busy_timeout").Append("query_only")
                .ToDictionary(n => n, n => ConnectionFactory.ReadPragma(c.Connection, n)));
        foreach (var (name, _, expected) in ConnectionFactory.Pragmas)
        {
            Assert.Equal(expected, values[name]);
        }

        Assert.Equal((long)BusyTimeout.TotalMilliseconds, values["busy_timeout"]);
        Assert.Equal(0, values["query_only"]);
        Assert.Equal("wal", await _t.Db.Writer.ExecuteExclusiveAsync(c => (string?)RawSql.Scalar(c.Connection, "PRAGMA journal_mode")));
    }

    [Fact]
    public async Task Every_pooled_reader_has_the_pragmas()
    {
        // Hold several leases at once so the pool must open distinct connections.
        var leases = Enumerable.Range(0, 4).Select(_ => _t.Db.Readers.Rent(CancellationToken.None)).ToList();
        try
        {
            Assert.Equal(4, leases.Select(l => l.Commands.Connection).Distinct().Count());
            foreach (var (lease, i) in leases.Select((l, i) => (l, i)))
            {
                AssertDesignPragmas(lease.Commands.Connection, $"reader {i}");
                Assert.Equal(1, ConnectionFactory.ReadPragma(lease.Commands.Connection, "query_only"));
            }
        }
        finally
        {
            foreach (var lease in leases)
            {
                lease.Dispose();
            }
        }

        // Concurrent reads through the public API, each reading the pragmas of the connection it got.
        using var gate = new Barrier(3);
        var results = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => Task.Run(() => _t.Db.Readers.Read(c =>
        {
            gate.SignalAndWait(TimeSpan.FromSeconds(30));
            return (c.Connection, Pragmas: ConnectionFactory.Pragmas.ToDictionary(p => p.Name, p => ConnectionFactory.ReadPragma(c.Connection, p.Name)));
        }, CancellationToken.None))));
        Assert.Equal(3, results.Select(r => r.Connection).Distinct().Count());
        foreach (var (_, pragmas) in results)
        {
            foreach (var (name, _, expected) in ConnectionFactory.Pragmas)
            {
                Assert.Equal(expected, pragmas[name]);
            }
        }

        // And the internal status call still reads the design values from whichever reader it gets.
        var reported = _t.Db.ReadConnectionPragmas();
        Assert.All(ConnectionFactory.Pragmas, p => Assert.Equal(p.Expected, reported[p.Name]));
    }

    [Fact]
    public void Readers_cannot_write()
    {
        var error = Assert.Throws<MdmaiException>(() => _t.Db.Readers.Read(c => c.Execute("DELETE FROM campaigns"), CancellationToken.None));
        Assert.Equal(MdmaiErrorCode.ReadOnly, error.Code);
    }
}
