using BenchmarkDotNet.Attributes;
using Mdmai.DataManager;
using Mdmai.DataManager.Storage;
using Mdmai.DataManager.Storage.Entities;

namespace Mdmai.Bench.Micro;

/// <summary>Enum ↔ stored text, on every read and write of every enum column.</summary>
[MemoryDiagnoser]
public class EnumTextBenchmarks
{
    /// <summary>Member to text.</summary>
    [Benchmark]
    public string ToText() => EnumText.ToText(NpcRole.QuestGiver);

    /// <summary>Member to text through the non-generic entry the column mapping uses.</summary>
    [Benchmark]
    #pragma warning disable CA2263 // the non-generic entry is the one measured
    public string ToTextBoxed() => EnumText.ToText(typeof(ItemType), ItemType.ArtObject);
#pragma warning restore CA2263

    /// <summary>Text to member.</summary>
    [Benchmark]
    public NpcRole Parse() => EnumText.Parse<NpcRole>("quest_giver");
}

/// <summary>REAL formatting of the SQL dump.</summary>
[MemoryDiagnoser]
public class FormatRealBenchmarks
{
    /// <summary>A typical weight.</summary>
    [Benchmark]
    public string FormatReal() => SqlDump.FormatReal(12.75);

    /// <summary>An integral double (needs the ".0").</summary>
    [Benchmark]
    public string FormatRealIntegral() => SqlDump.FormatReal(3);
}

/// <summary>Typed reads on a warm database of 10,000 characters.</summary>
[MemoryDiagnoser]
public class EntityStoreBenchmarks
{
    private string _folder = "";
    private MdmaiDatabase _db = null!;
    private Guid[] _ids = [];
    private Guid _campaign;
    private int _next;

    /// <summary>Makes and opens the database.</summary>
    [GlobalSetup]
    public async Task SetupAsync()
    {
        _folder = Path.Combine(Path.GetTempPath(), "mdmai-micro-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_folder);
        var gen = new DataGenerator(30_000);
        _db = await MdmaiDatabase.OpenAsync(Path.Combine(_folder, "micro.db"));
        await _db.Campaigns.BulkInsertAsync(gen.GenerateCampaigns());
        await _db.Characters.BulkInsertAsync(gen.GenerateCharacters());
        _ids = [.. gen.Ids(DataGenerator.Source.Characters, gen.CharacterCount)];
        _campaign = gen.Ids(DataGenerator.Source.Campaigns, 1).First();
    }

    /// <summary>Closes and deletes it.</summary>
    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _db.DisposeAsync();
        Directory.Delete(_folder, recursive: true);
    }

    /// <summary>One record by id.</summary>
    [Benchmark]
    public Task<Character> GetAsync() => _db.Characters.GetAsync(_ids[_next++ % _ids.Length]);

    /// <summary>A page of 20 with a filter and the total count.</summary>
    [Benchmark]
    public Task<Page<Character>> ListAsync() => _db.Characters.ListAsync(new ListQuery
    {
        Filters = new Dictionary<string, object?> { ["campaign_id"] = _campaign },
        Limit = 20,
    });
}
