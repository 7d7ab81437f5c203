using Mdmai.DataManager.Storage;
using Mdmai.DataManager.Storage.Entities;
using Microsoft.Data.Sqlite;

namespace Mdmai.DataManager.Tests;

public sealed class CheckpointerTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "mdmai-ckpt-" + Guid.NewGuid().ToString("N"));

    public CheckpointerTests() => Directory.CreateDirectory(_folder);

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public async Task Commits_do_not_checkpoint_and_the_background_checkpointer_does()
    {
        var path = Path.Combine(_folder, "mdmai.db");
        await using var db = await MdmaiDatabase.OpenAsync(path, new DatabaseOptions { CheckpointInterval = TimeSpan.FromMilliseconds(20) });
        Assert.Equal(0, await db.Writer.ExecuteExclusiveAsync(c => ReadAutocheckpoint(c.Connection)));

        // About 8 MiB of WAL: twice the threshold.
        await db.Spells.BulkInsertAsync(Enumerable.Range(0, 2000).Select(i => new Spell
        {
            Name = $"Spell {i}", Level = i % 10, School = SpellSchool.Evocation, CastingTime = "1 action", Range = "60 feet",
            Components = "V, S", Duration = "Instantaneous", Description = new string('x', 3000), System = "dnd5e",
        }));

        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (db.Checkpointer.Checkpoints == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        Assert.True(db.Checkpointer.Checkpoints > 0, "the background checkpointer never ran");
        Assert.Equal(2000, (await db.Spells.ListAsync(new ListQuery { Limit = 1 })).TotalCount);
    }

    private static long ReadAutocheckpoint(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA wal_autocheckpoint";
        return (long)command.ExecuteScalar()!;
    }
}
