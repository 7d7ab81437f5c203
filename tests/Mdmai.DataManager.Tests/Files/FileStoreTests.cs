using System.Security.Cryptography;
using Mdmai.DataManager.Files;
using Mdmai.DataManager.Security;
using Mdmai.DataManager.Storage;

namespace Mdmai.DataManager.Tests.Files;

[CollectionDefinition(nameof(MemoryMeasurements), DisableParallelization = true)]
public sealed class MemoryMeasurements;

/// <summary>A data folder with an open database in a temp directory, removed afterwards.</summary>
public abstract class DataFolderTest : IAsyncLifetime
{
    private protected readonly string _root = Path.Combine(Path.GetTempPath(), "mdmai-files-" + Guid.NewGuid().ToString("N"));
    private protected MdmaiDatabase _db = null!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_root);
        _db = await MdmaiDatabase.OpenAsync(Path.Combine(_root, "mdmai.db"));
    }

    public async Task DisposeAsync()
    {
        await _db.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }
}

/// <summary>Allocation is measured process-wide, so these run alone.</summary>
[Collection(nameof(MemoryMeasurements))]
public sealed class FileStoreMemoryTests : DataFolderTest
{
    [Fact]
    public async Task Import_and_read_allocate_a_small_constant_on_a_file_larger_than_every_buffer()
    {
        using var keys = new KeyRing([DataKey.CreateRandom(1)]);
        var store = new FileStore(_db, _root, keys);
        await store.ImportAsync(new MemoryStream(new byte[1000]), "warm-up.txt");
        const long size = 64L * 1024 * 1024;
        var before = GC.GetTotalAllocatedBytes(precise: true);

        // 64 MiB generated on the fly: a buffering implementation would allocate at least that much.
        var result = await store.ImportAsync(new FileStoreTests.GeneratedStream(size), "big.bin");
        await using (var read = await store.OpenReadAsync(result.File.Id))
        {
            await read.CopyToAsync(Stream.Null);
        }

        var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        Assert.Equal(size, result.File.Size);
        Assert.True(allocated < 8L * 1024 * 1024, $"allocated {allocated / 1024 / 1024} MiB for a {size / 1024 / 1024} MiB file");
    }
}

public sealed class FileStoreTests : DataFolderTest
{
    private FileStore Store(KeyRing? keys = null) => new(_db, _root, keys);

    private static byte[] Random(int size, int seed = 7)
    {
        var data = new byte[size];
        new Random(seed).NextBytes(data);
        return data;
    }

    private static byte[] Text(int size) =>
        [.. Enumerable.Range(0, size).Select(i => (byte)"Goblins ambush the wagon on the Triboar Trail.\n"[i % 47])];

    private static async Task<byte[]> ReadAll(FileStore store, Guid id)
    {
        await using var stream = await store.OpenReadAsync(id);
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy);
        return copy.ToArray();
    }

    private string Write(string name, byte[] content)
    {
        var path = Path.Combine(_root, "in", name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, content);
        return path;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Imported_files_stream_back_byte_for_byte(bool encrypted)
    {
        using var keys = encrypted ? new KeyRing([DataKey.CreateRandom(1)]) : null;
        var store = Store(keys);
        var random = Random(3 * 1024 * 1024 + 5);
        var text = Text(2 * 1024 * 1024);

        var a = await store.ImportAsync(new MemoryStream(random), "scan.pdf");
        var b = await store.ImportAsync(new MemoryStream(text), "notes.txt");
        var empty = await store.ImportAsync(new MemoryStream(), "empty.txt");

        Assert.Equal(random, await ReadAll(store, a.File.Id));
        Assert.Equal(text, await ReadAll(store, b.File.Id));
        Assert.Empty(await ReadAll(store, empty.File.Id));
        Assert.True(b.File.StoredSize < text.Length / 4, "text is compressed");
        Assert.Empty(Directory.GetFiles(store.TempPath));
    }

    [Fact]
    public async Task Unencrypted_ids_are_the_sha256_of_the_content_and_incompressible_data_is_stored_raw()
    {
        var store = Store();
        var content = Random(100_000);

        var result = await store.ImportAsync(new MemoryStream(content), "map.jpg");

        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(content)), result.File.ObjectId);
        Assert.Equal(content, await File.ReadAllBytesAsync(store.ObjectPath(result.File.ObjectId)));
    }

    [Fact]
    public async Task Encrypted_ids_are_keyed_and_objects_do_not_contain_the_plaintext()
    {
        using var keys = new KeyRing([DataKey.CreateRandom(1)]);
        var store = Store(keys);
        var content = Text(50_000);

        var result = await store.ImportAsync(new MemoryStream(content), "notes.txt");

        Assert.NotEqual(Convert.ToHexStringLower(SHA256.HashData(content)), result.File.ObjectId);
        var stored = await File.ReadAllBytesAsync(store.ObjectPath(result.File.ObjectId));
        Assert.Equal(-1, stored.AsSpan().IndexOf(content.AsSpan(0, 40)));
    }

    [Fact]
    public async Task The_same_content_twice_is_stored_once_and_deleting_the_last_reference_removes_it()
    {
        var store = Store();
        var content = Random(200_000);

        var first = await store.ImportAsync(new MemoryStream(content), "Player's Handbook.pdf");
        var second = await store.ImportAsync(new MemoryStream(content), "PHB copy.pdf");

        Assert.False(first.Deduplicated);
        Assert.True(second.Deduplicated);
        Assert.Equal(first.File.ObjectId, second.File.ObjectId);
        var stats = await store.GetStatsAsync();
        Assert.Equal(2, stats.Files);
        Assert.Equal(1, stats.Objects);
        Assert.Equal(content.Length, stats.DedupSavedBytes);

        await store.DeleteAsync(first.File.Id);
        Assert.True(File.Exists(store.ObjectPath(first.File.ObjectId)));
        await store.DeleteAsync(second.File.Id);
        Assert.False(File.Exists(store.ObjectPath(first.File.ObjectId)));
        Assert.Equal(0, (await store.GetStatsAsync()).Objects);
        var error = await Assert.ThrowsAsync<MdmaiException>(() => store.GetAsync(first.File.Id));
        Assert.Equal(MdmaiErrorCode.NotFound, error.Code);
    }

    [Fact]
    public async Task Concurrent_imports_of_the_same_content_share_one_object()
    {
        var store = Store();
        var content = Random(300_000, seed: 3);

        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => store.ImportAsync(new MemoryStream(content), $"copy {i}.bin")));

        Assert.Single(results.Select(r => r.File.ObjectId).Distinct());
        Assert.Equal(1, (await store.GetStatsAsync()).Objects);
        Assert.Single(Directory.GetFiles(store.ObjectsPath, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task Mime_types_and_image_dimensions_come_from_the_first_bytes()
    {
        var store = Store();
        byte[] png = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 0x02, 0x80, 0, 0, 0x01, 0xE0, 8, 2, 0, 0, 0];
        byte[] gif = [.. "GIF89a"u8, 0x40, 0x01, 0xC8, 0x00, 0, 0, 0];

        var p = (await store.ImportAsync(new MemoryStream(png), "map.png")).File;
        var g = (await store.ImportAsync(new MemoryStream(gif), "token.gif")).File;
        var pdf = (await store.ImportAsync(new MemoryStream([.. "%PDF-1.7\n"u8, .. Random(1000)]), "book.pdf")).File;

        Assert.Equal("image/png", p.MimeType);
        Assert.Equal(640, p.Metadata["width"]!.GetValue<int>());
        Assert.Equal(480, p.Metadata["height"]!.GetValue<int>());
        Assert.Equal(320, g.Metadata["width"]!.GetValue<int>());
        Assert.Equal("application/pdf", pdf.MimeType);
        Assert.Equal(FileCategory.Document, pdf.Category);
    }

    [Fact]
    public async Task A_pdf_gets_its_page_count_and_title_and_is_searchable_by_title()
    {
        var builder = new UglyToad.PdfPig.Writer.PdfDocumentBuilder();
        builder.DocumentInformation.Title = "Monster Manual of the Sunless Citadel";
        for (var i = 0; i < 3; i++)
        {
            builder.AddPage(UglyToad.PdfPig.Content.PageSize.A4);
        }

        var path = Write("mm.pdf", builder.Build());
        var file = (await Store().ImportFileAsync(path)).File;

        Assert.Equal("application/pdf", file.MimeType);
        Assert.Equal(3, file.Metadata["page_count"]!.GetValue<int>());
        Assert.Equal("Monster Manual of the Sunless Citadel", file.Metadata["title"]!.GetValue<string>());
        Assert.Equal(file.Id, Assert.Single(await _db.SearchAsync("sunless citadel")).Id);
    }

    [Fact]
    public async Task A_broken_pdf_is_still_stored()
    {
        var file = (await Store().ImportAsync(new MemoryStream([.. "%PDF-1.7\n"u8, .. Random(5000)]), "broken.pdf")).File;

        Assert.True(file.Metadata["pdf_unreadable"]!.GetValue<bool>());
        Assert.Empty(await Store().VerifyAsync());
    }

    [Fact]
    public async Task A_folder_import_takes_every_file_and_reports_failures_without_stopping()
    {
        var store = Store();
        for (var i = 0; i < 20; i++)
        {
            Write($"library/book{i % 3}/page{i}.txt", Text(1000 + i));
        }

        var result = await store.ImportPathsAsync([Path.Combine(_root, "in", "library"), Path.Combine(_root, "in", "missing")]);

        Assert.Equal(20, result.Imported.Count);
        Assert.Single(result.Errors);
        Assert.Contains("missing", result.Errors[0].Path, StringComparison.Ordinal);
        Assert.Equal(20, (await store.ListAsync(limit: 100)).TotalCount);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_folder_import_of_many_small_files_records_them_in_batches_each_byte_exact_and_duplicates_once(bool encrypted)
    {
        using var keys = encrypted ? new KeyRing([DataKey.CreateRandom(1)]) : null;
        var store = Store(keys);
        var already = await store.ImportAsync(new MemoryStream(Text(3000)), "known.txt"); // stored before: its twins are deduplicated
        var expected = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        for (var i = 0; i < 2500; i++)
        {
            // 2,500 files over 3 batches: text (compressed) and random bytes, 1 in 10 the same as one before it (in the same
            // batch or an earlier one), one the twin of the file imported above, one of 3 MiB (written by way of a temp file).
            var content = i == 7 ? Text(3000) : i == 11 ? Random(3 * 1024 * 1024 + 1, seed: i) : i % 10 == 9 ? expected[$"f{i - 9 - (i % 3 * 10)}.bin"]
                : i % 2 == 0 ? Text(100 + i) : Random(1 + (i * 37 % 20_000), seed: i);
            expected[$"f{i}.bin"] = content;
            Write($"many/d{i % 17}/f{i}.bin", content);
        }

        var commits = _db.Writer.Commits;
        store.ImportBatchFiles = 1000;
        var result = await store.ImportPathsAsync([Path.Combine(_root, "in", "many")]);

        Assert.Empty(result.Errors);
        Assert.Equal(expected.Count, result.Imported.Count);
        // One transaction a batch (three here, each indexing its own files for search), not one a file.
        Assert.InRange(_db.Writer.Commits - commits, 3, 25);
        foreach (var imported in result.Imported)
        {
            Assert.Equal(expected[imported.File.Name], await ReadAll(store, imported.File.Id));
        }

        var distinct = expected.Values.Select(Convert.ToHexString).Distinct().Count();
        Assert.Equal(expected.Count - distinct + 1, result.Imported.Count(r => r.Deduplicated)); // +1: the twin of known.txt
        Assert.Equal(distinct, (await store.GetStatsAsync()).Objects);
        Assert.Equal(already.File.ObjectId, result.Imported.Single(r => r.File.Name == "f7.bin").File.ObjectId);
        Assert.Equal(distinct, Directory.EnumerateFiles(store.ObjectsPath, "*", SearchOption.AllDirectories).Count());
        Assert.Empty(Directory.EnumerateFileSystemEntries(store.TempPath));
        Assert.Empty(await store.VerifyAsync());

        // Again, handed over one by one (nothing collected): every file is a duplicate now, and the counts say so.
        var names = new List<string>();
        var summary = await store.ImportPathsStreamingAsync([Path.Combine(_root, "in", "many"), Path.Combine(_root, "in", "gone")], r => names.Add(r.File.Name));
        Assert.Equal((2500L, 2500L, expected.Values.Sum(c => (long)c.Length)), (summary.Files, summary.Deduplicated, summary.Bytes));
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), names.Order(StringComparer.Ordinal));
        Assert.Equal(Path.Combine(_root, "in", "gone"), Assert.Single(summary.Errors).Path);
        Assert.Equal(distinct, (await store.GetStatsAsync()).Objects);
    }

    [Fact]
    public async Task A_folder_import_indexes_its_files_for_search_in_its_own_batches()
    {
        // A database whose background indexer never runs: whatever is indexed, the import's batches indexed.
        await using var quiet = await MdmaiDatabase.OpenAsync(Path.Combine(_root, "quiet.db"), new DatabaseOptions { SearchIndexInterval = TimeSpan.FromHours(1) });
        var store = new FileStore(quiet, Path.Combine(_root, "quiet-store")) { ImportBatchFiles = 40 };
        for (var i = 0; i < 100; i++)
        {
            Write($"indexed/scroll-of-warding-{i}.txt", Text(200 + i));
        }

        var result = await store.ImportPathsAsync([Path.Combine(_root, "in", "indexed")]);

        Assert.Equal(100, result.Imported.Count);
        var path = Path.Combine(_root, "quiet.db");
        Assert.Equal(0L, RawSql.Scalar(path, "SELECT count(*) FROM search_pending"));
        Assert.Equal(100L, RawSql.Scalar(path, "SELECT count(*) FROM search_index WHERE search_index MATCH 'warding'"));
    }

    [Fact]
    public async Task An_import_that_goes_over_a_claimed_place_keeps_its_object_when_the_claimant_fails()
    {
        var store = Store();
        var content = Text(4000);
        var id = Convert.ToHexStringLower(SHA256.HashData(content));

        // A folder import has claimed the place and is half way through writing it ...
        using (var half = store.TryCreateAtPlace(id)!)
        {
            RandomAccess.Write(half, content.AsSpan(0, 100), 0);
        }

        // ... when a single import of the same content records it (its copy goes over the claimed file) ...
        var imported = await store.ImportAsync(new MemoryStream(content), "same.txt");
        Assert.False(imported.Deduplicated);

        // ... and then the folder import fails: the recorded object must stay, whole.
        store.ReleaseClaim(id, remove: true);
        Assert.Equal(content, await ReadAll(store, imported.File.Id));
        Assert.Empty(await store.VerifyAsync());

        // Without another import over it, a failed claimant's file goes.
        var other = Text(5000);
        var otherId = Convert.ToHexStringLower(SHA256.HashData(other));
        using (var partial = store.TryCreateAtPlace(otherId)!)
        {
            RandomAccess.Write(partial, other.AsSpan(0, 10), 0);
        }

        store.ReleaseClaim(otherId, remove: true);
        Assert.False(File.Exists(store.ObjectPath(otherId)));
    }

    [Fact]
    public async Task A_delete_during_a_folder_import_of_the_same_content_leaves_the_imported_file_readable()
    {
        var store = Store();
        var content = Text(5000);
        var first = await store.ImportAsync(new MemoryStream(content), "first.txt");
        for (var i = 0; i < 300; i++)
        {
            Write($"race/f{i}.txt", i % 3 == 0 ? content : Text(5000 + i));
        }

        // The one reference to the content goes while files of the same content are imported (written at their place
        // and claimed, or deduplicated against it): whichever way the race falls, each imported file reads back whole.
        var import = store.ImportPathsAsync([Path.Combine(_root, "in", "race")]);
        await store.DeleteAsync(first.File.Id);
        var result = await import;

        Assert.Empty(result.Errors);
        foreach (var imported in result.Imported)
        {
            Assert.Equal(imported.File.Size, (await ReadAll(store, imported.File.Id)).Length);
        }

        Assert.Empty(await store.VerifyAsync());
    }

    [Fact]
    public async Task A_folder_import_cancelled_after_its_first_batch_keeps_what_was_recorded_and_leaves_nothing_else()
    {
        var store = Store();
        store.ImportBatchFiles = 200;
        for (var i = 0; i < 3000; i++)
        {
            Write($"big/d{i % 13}/f{i}.txt", Text(200 + i));
        }

        using var cancel = new CancellationTokenSource();
        var recorded = new List<FileImportResult>();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.ImportPathsStreamingAsync([Path.Combine(_root, "in", "big")], r =>
        {
            recorded.Add(r);
            cancel.Cancel(); // while later files are being read and written at their places
        }, cancellationToken: cancel.Token));

        // Whole batches only, each file readable; the objects of files read but never recorded are gone with them.
        Assert.NotEmpty(recorded);
        Assert.True(recorded.Count < 3000);
        Assert.Equal(recorded.Count, (await store.ListAsync(limit: 1)).TotalCount);
        foreach (var r in recorded.Take(50))
        {
            Assert.Equal(r.File.Size, (await ReadAll(store, r.File.Id)).Length);
        }

        await AssertNothingUnrecordedAsync(store);
    }

    [Fact]
    public async Task A_progress_handler_that_throws_ends_the_import_and_leaves_no_object_that_no_row_records()
    {
        var store = Store();
        store.ImportBatchFiles = 100;
        for (var i = 0; i < 600; i++)
        {
            Write($"noisy/f{i}.txt", Text(300 + i));
        }

        var reports = 0;
        var progress = new ThrowingProgress(() => ++reports == 400);
        await Assert.ThrowsAsync<InvalidOperationException>(() => store.ImportPathsAsync([Path.Combine(_root, "in", "noisy")], progress: progress));

        await AssertNothingUnrecordedAsync(store);
    }

    /// <summary>Every object file on disk is one the catalog records, no temp file is left, and the store verifies.</summary>
    private static async Task AssertNothingUnrecordedAsync(FileStore store)
    {
        Assert.Equal((await store.GetStatsAsync()).Objects, Directory.EnumerateFiles(store.ObjectsPath, "*", SearchOption.AllDirectories).Count());
        Assert.Empty(Directory.EnumerateFileSystemEntries(store.TempPath));
        Assert.Empty(await store.VerifyAsync());
    }

    /// <summary>Throws from Report (synchronously, on the reporting thread) once <paramref name="when"/> says so.</summary>
    private sealed class ThrowingProgress(Func<bool> when) : IProgress<FolderImportProgress>
    {
        private readonly Lock _lock = new();

        public void Report(FolderImportProgress value)
        {
            lock (_lock)
            {
                if (when())
                {
                    throw new InvalidOperationException("the progress display failed");
                }
            }
        }
    }

    [Fact]
    public async Task A_folder_import_reports_bytes_while_a_single_large_file_streams_and_ends_at_the_total()
    {
        var store = Store();
        const int size = 8 * 1024 * 1024; // eight of the import's 1 MiB reads
        Write("big/scan.bin", Random(size));
        var recorded = new RecordingProgress<FolderImportProgress>();

        await store.ImportPathsAsync([Path.Combine(_root, "in", "big")], progress: recorded);
        var reports = recorded.Reports;

        Assert.All(reports, r => Assert.Equal((1L, (long)size), (r.TotalFiles, r.TotalBytes)));
        Assert.True(reports.Count(r => r.Files == 0 && r.Bytes is > 0 and < size) >= 4, $"moved {reports.Count} time(s) before the file was done");
        Assert.Equal(reports.Select(r => r.Bytes).Order(), reports.Select(r => r.Bytes));
        Assert.Equal(new FolderImportProgress(1, 1, size, size), reports[^1]);
    }

    [Fact]
    public async Task Export_writes_the_content_atomically_and_keeps_a_hostile_name_inside_the_destination()
    {
        var store = Store();
        var content = Random(70_000);
        var imported = await store.ImportAsync(new MemoryStream(content), "../../../etc/passwd");
        var destination = Directory.CreateDirectory(Path.Combine(_root, "out")).FullName;

        var written = await store.ExportAsync(imported.File.Id, destination);

        Assert.Equal(Path.Combine(destination, "passwd"), written);
        Assert.Equal(content, await File.ReadAllBytesAsync(written));
        Assert.Equal(MdmaiErrorCode.AlreadyExists, (await Assert.ThrowsAsync<MdmaiException>(() => store.ExportAsync(imported.File.Id, destination))).Code);
        Assert.Single(Directory.GetFiles(destination));
    }

    [Fact]
    public async Task Export_of_a_compressed_encrypted_object_decodes_it()
    {
        using var keys = new KeyRing([DataKey.CreateRandom(1)]);
        var store = Store(keys);
        var content = Text(500_000);
        var imported = await store.ImportAsync(new MemoryStream(content), "notes.md");

        var written = await store.ExportAsync(imported.File.Id, Path.Combine(_root, "notes-out.md"));

        Assert.Equal(content, await File.ReadAllBytesAsync(written));
    }

    [Fact]
    public async Task Verify_names_every_damaged_or_missing_object_and_passes_a_healthy_store()
    {
        using var keys = new KeyRing([DataKey.CreateRandom(1)]);
        var store = Store(keys);
        var ok = await store.ImportAsync(new MemoryStream(Text(10_000)), "ok.txt");
        var damaged = await store.ImportAsync(new MemoryStream(Random(10_000, 1)), "damaged.bin");
        var missing = await store.ImportAsync(new MemoryStream(Random(10_000, 2)), "missing.bin");
        Assert.Empty(await store.VerifyAsync());

        var path = store.ObjectPath(damaged.File.ObjectId);
        var bytes = await File.ReadAllBytesAsync(path);
        bytes[^20] ^= 0x40;
        await File.WriteAllBytesAsync(path, bytes);
        File.Delete(store.ObjectPath(missing.File.ObjectId));

        var problems = await store.VerifyAsync();

        Assert.Equal(new[] { damaged.File.ObjectId, missing.File.ObjectId }.Order(StringComparer.Ordinal), problems.Select(p => p.ObjectId));
        Assert.DoesNotContain(problems, p => p.ObjectId == ok.File.ObjectId);
    }

    [Fact]
    public async Task Rotation_reencrypts_old_objects_keeps_ids_and_content_and_can_resume()
    {
        var keyFile = await NewKeyFileAsync();
        var contents = Enumerable.Range(0, 6).Select(i => i % 2 == 0 ? Random(300_000 + i, i) : Text(200_000 + i)).ToList();
        List<StoredFile> files;
        using (var old = keyFile.Unlock("pw"))
        {
            var store = Store(old);
            files = [.. (await Task.WhenAll(contents.Select((c, i) => store.ImportAsync(new MemoryStream(c), $"f{i}")))).Select(r => r.File)];
        }

        await keyFile.AddEpochAsync("pw");
        using var ring = keyFile.Unlock("pw");
        var rotated = Store(ring);
        // Catalog rows cached before the rotation, with a stored size the rotation will change (as a change of
        // compressor does): what the store returns afterwards must be what the catalog holds.
        RawSql.Execute(Path.Combine(_root, "mdmai.db"), "UPDATE files SET stored_size = 1");
        foreach (var file in files)
        {
            Assert.Equal(1, (await rotated.GetAsync(file.Id)).StoredSize);
        }

        await using (var openDuringRotation = await rotated.OpenReadAsync(files[0].Id))
        {
            Assert.Equal(6, await rotated.ReencryptAsync());
            using var copy = new MemoryStream();
            await openDuringRotation.CopyToAsync(copy);
            Assert.Equal(contents[0], copy.ToArray());
        }

        for (var i = 0; i < files.Count; i++)
        {
            Assert.Equal(contents[i], await ReadAll(rotated, files[i].Id));
            var header = await File.ReadAllBytesAsync(rotated.ObjectPath(files[i].ObjectId));
            Assert.Equal(2u, BitConverter.ToUInt32(header, 8));
        }

        foreach (var file in files)
        {
            var stored = (long)RawSql.Scalar(Path.Combine(_root, "mdmai.db"), "SELECT stored_size FROM files WHERE id = $0", file.Id.ToString("D"))!;
            Assert.Equal(new FileInfo(rotated.ObjectPath(file.ObjectId)).Length, stored);
            Assert.Equal(stored, (await rotated.GetAsync(file.Id)).StoredSize);
        }

        Assert.Equal(0, await rotated.ReencryptAsync());
        Assert.Empty(await rotated.VerifyAsync());
        var again = await rotated.ImportAsync(new MemoryStream(contents[1]), "same content after rotation");
        Assert.True(again.Deduplicated);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task An_object_stored_again_after_its_file_went_missing_is_recorded_as_stored_now(bool folderImport)
    {
        // An object sealed under key epoch 1 loses its file; after a rotation to epoch 2 the same content is imported
        // again (a folder import writes it straight to its place, a single import moves it there): the catalog must
        // then say epoch 2 and the new stored size, for the new row and the old one, or reads and checks go wrong.
        var keyFile = await NewKeyFileAsync();
        var content = Text(50_000);
        StoredFile old;
        using (var first = keyFile.Unlock("pw"))
        {
            var store = Store(first);
            old = (await store.ImportAsync(new MemoryStream(content), "old.txt")).File;
            File.Delete(store.ObjectPath(old.ObjectId));
        }

        var db = Path.Combine(_root, "mdmai.db");
        RawSql.Execute(db, "UPDATE files SET stored_size = 1"); // a size the new file will not have
        await keyFile.AddEpochAsync("pw");
        using var ring = keyFile.Unlock("pw");
        var rotated = Store(ring);
        Assert.Equal(1, (await rotated.GetAsync(old.Id)).StoredSize); // cached now: the import must drop it

        var again = folderImport
            ? (await rotated.ImportPathsAsync([Write("again.txt", content)])).Imported.Single()
            : await rotated.ImportAsync(new MemoryStream(content), "again.txt");

        Assert.True(again.Deduplicated);
        Assert.Equal(old.ObjectId, again.File.ObjectId);
        var length = new FileInfo(rotated.ObjectPath(old.ObjectId)).Length;
        Assert.Equal(2L, RawSql.Scalar(db, "SELECT key_epoch FROM objects WHERE object_id = $0", old.ObjectId));
        Assert.Equal(length, RawSql.Scalar(db, "SELECT stored_size FROM objects WHERE object_id = $0", old.ObjectId));
        Assert.Equal(length, again.File.StoredSize);
        foreach (var id in new[] { old.Id, again.File.Id })
        {
            Assert.Equal(length, (await rotated.GetAsync(id)).StoredSize);
            Assert.Equal(content, await ReadAll(rotated, id));
        }

        Assert.Empty(await rotated.VerifyAsync());
        Assert.Equal(0, await rotated.ReencryptAsync());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_failed_import_of_content_whose_file_went_missing_leaves_it_missing(bool folderImport)
    {
        // The import moves the content into place, then its row fails (an unknown campaign) and the transaction rolls
        // back: the catalog still describes the lost file (its epoch, stored size, encoding), so the file this import
        // moved there must go back out with the rollback. 2 MiB: a folder import streams it to a temp file and moves it.
        var store = Store();
        var content = Text(2 << 20);
        var old = (await store.ImportAsync(new MemoryStream(content), "old.txt")).File;
        var path = store.ObjectPath(old.ObjectId);
        File.Delete(path);

        var unknownCampaign = new FileImportOptions { CampaignId = Guid.NewGuid() };
        var error = await Assert.ThrowsAsync<MdmaiException>(() => folderImport
            ? store.ImportPathsAsync([Write("again.txt", content)], unknownCampaign)
            : store.ImportAsync(new MemoryStream(content), "again.txt", unknownCampaign));

        Assert.Equal(MdmaiErrorCode.NotFound, error.Code);
        Assert.False(File.Exists(path));
        Assert.Empty(Directory.EnumerateFileSystemEntries(store.TempPath));
        Assert.Equal(1L, RawSql.Scalar(Path.Combine(_root, "mdmai.db"), "SELECT count(*) FROM files"));

        // Imported again as it should be, the object is whole again, for both rows.
        var again = folderImport
            ? (await store.ImportPathsAsync([Write("again.txt", content)])).Imported.Single()
            : await store.ImportAsync(new MemoryStream(content), "again.txt");
        Assert.True(again.Deduplicated);
        Assert.Equal(content, await ReadAll(store, again.File.Id));
        Assert.Equal(content, await ReadAll(store, old.Id));
        Assert.Empty(await store.VerifyAsync());
    }

    [Fact]
    public async Task An_import_grouped_with_a_write_that_rolls_the_whole_transaction_back_runs_again_whole()
    {
        // An import, then a write whose failure rolls the whole transaction back (as SQLite may on an I/O error; here
        // it does so itself), then another import, one group: the file the first moved into place is moved back out,
        // and it runs again in a new transaction with the one after — each must end with its row and its file.
        var store = Store();
        var (content, other) = (Text(50_000), Random(40_000));
        Task<FileImportResult> one, two;
        Task<int> full;
        await using (new WriterBlock(_db))
        {
            one = store.ImportAsync(new MemoryStream(content), "one.txt");
            await WaitQueued(1, one);
            full = _db.Writer.ExecuteAsync(WriterFaults.RollBackWholeTransaction);
            await WaitQueued(2, full);
            two = store.ImportAsync(new MemoryStream(other), "two.bin");
            await WaitQueued(3, two);
        }

        Assert.Equal(MdmaiErrorCode.DiskFull, (await Assert.ThrowsAsync<MdmaiException>(() => full)).Code);
        Assert.Equal(content, await ReadAll(store, (await one).File.Id));
        Assert.Equal(other, await ReadAll(store, (await two).File.Id));
        Assert.Empty(Directory.EnumerateFileSystemEntries(store.TempPath));
        Assert.Empty(await store.VerifyAsync());
    }

    /// <summary>A key file (password "pw", a cheap KDF) in a folder of its own, at key epoch 1.</summary>
    private async Task<KeyFile> NewKeyFileAsync()
    {
        var folder = Path.Combine(_root, "keys");
        Directory.CreateDirectory(folder);
        return await KeyFile.CreateAsync(Path.Combine(folder, KeyFile.FileName), "pw", new KdfParameters(8 * 1024, 1));
    }

    /// <summary>Waits until <paramref name="count"/> requests wait for the (blocked) writer, the last of them <paramref name="request"/>'s.</summary>
    private async Task WaitQueued(int count, Task request)
    {
        while (_db.Writer.Queued < count)
        {
            Assert.False(request.IsCompleted, "the request completed before it was queued");
            await Task.Delay(5);
        }
    }

    [Fact]
    public async Task A_reencryption_whose_commit_fails_leaves_the_old_file_under_its_row()
    {
        // The re-encryption swaps the new file in, then its commit fails (a foreign key deferred to the commit by a
        // write grouped with it): the row, rolled back, still says the old epoch and stored size, so the old file must
        // be back in place; run again, it goes through.
        // The database's own loops stay quiet meanwhile: the search indexer's tick (a write request every second) was
        // at times the request counted as queued below, and the re-encryption's write then came after the group and
        // committed alone (about half the runs on two cores).
        await _db.DisposeAsync();
        _db = await MdmaiDatabase.OpenAsync(Path.Combine(_root, "mdmai.db"), new DatabaseOptions { SearchIndexInterval = TimeSpan.FromHours(1), CheckpointInterval = TimeSpan.FromHours(1) });
        var keyFile = await NewKeyFileAsync();
        var content = Text(50_000);
        StoredFile file;
        using (var first = keyFile.Unlock("pw"))
        {
            file = (await Store(first).ImportAsync(new MemoryStream(content), "old.txt")).File;
        }

        await keyFile.AddEpochAsync("pw");
        using var ring = keyFile.Unlock("pw");
        var store = Store(ring);
        var path = store.ObjectPath(file.ObjectId);
        var before = await File.ReadAllBytesAsync(path);
        var db = Path.Combine(_root, "mdmai.db");

        Task<long> reencrypt;
        Task<int> failing;
        await using (new WriterBlock(_db))
        {
            reencrypt = store.ReencryptAsync();
            await WaitQueued(1, reencrypt);
            failing = _db.Writer.ExecuteAsync(WriterFaults.FailAtCommit);
            await WaitQueued(2, failing);
        }

        Assert.Equal(MdmaiErrorCode.ConstraintViolation, (await Assert.ThrowsAsync<MdmaiException>(() => failing)).Code);
        Assert.Equal(MdmaiErrorCode.ConstraintViolation, (await Assert.ThrowsAsync<MdmaiException>(() => reencrypt)).Code);
        Assert.Equal(before, await File.ReadAllBytesAsync(path));
        Assert.Equal(1L, RawSql.Scalar(db, "SELECT key_epoch FROM objects WHERE object_id = $0", file.ObjectId));
        Assert.Equal(content, await ReadAll(store, file.Id));
        Assert.Empty(await store.VerifyAsync());
        Assert.Empty(Directory.EnumerateFileSystemEntries(store.TempPath));

        Assert.Equal(1, await store.ReencryptAsync());
        Assert.Equal(2L, RawSql.Scalar(db, "SELECT key_epoch FROM objects WHERE object_id = $0", file.ObjectId));
        Assert.Equal(content, await ReadAll(store, file.Id));
        Assert.Empty(await store.VerifyAsync());
    }

    [Fact]
    public async Task Verify_catches_a_raw_object_whose_content_changed()
    {
        var store = Store();
        var imported = await store.ImportAsync(new MemoryStream(Random(5000)), "raw.bin");
        var path = store.ObjectPath(imported.File.ObjectId);
        var bytes = await File.ReadAllBytesAsync(path);
        bytes[100] ^= 1;
        await File.WriteAllBytesAsync(path, bytes);

        var problem = Assert.Single(await store.VerifyAsync());

        Assert.Contains("no longer matches", problem.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_encrypted_store_opened_without_keys_refuses_to_read()
    {
        using var keys = new KeyRing([DataKey.CreateRandom(1)]);
        var imported = await Store(keys).ImportAsync(new MemoryStream(Text(1000)), "secret.txt");

        var error = await Assert.ThrowsAsync<MdmaiException>(() => ReadAll(Store(), imported.File.Id));

        Assert.Equal(MdmaiErrorCode.WrongKey, error.Code);
    }

    [Fact]
    public async Task Catalog_rows_link_to_campaigns_and_filter_by_category()
    {
        var store = Store();
        var campaign = await _db.Campaigns.CreateAsync(new() { Name = "Curse of Strahd", System = "dnd5e" });
        await store.ImportAsync(new MemoryStream(Random(100)), "barovia.jpg", new FileImportOptions { Category = FileCategory.Map, CampaignId = campaign.Id, Tags = ["barovia"] });
        await store.ImportAsync(new MemoryStream(Random(101)), "strahd.jpg", new FileImportOptions { Category = FileCategory.NpcImage, CampaignId = campaign.Id });

        var maps = await store.ListAsync(category: FileCategory.Map);
        var ofCampaign = await store.ListAsync(campaignId: campaign.Id, sortBy: "name", descending: false);

        Assert.Equal("barovia.jpg", Assert.Single(maps.Items).Name);
        Assert.Equal(["barovia.jpg", "strahd.jpg"], ofCampaign.Items.Select(f => f.Name));
        Assert.Equal("barovia", maps.Items[0].Tags[0]!.GetValue<string>());
        var error = await Assert.ThrowsAsync<MdmaiException>(() => store.ImportAsync(new MemoryStream([1]), "x", new FileImportOptions { CampaignId = Guid.NewGuid() }));
        Assert.Equal(MdmaiErrorCode.NotFound, error.Code);
    }

    [Fact]
    public async Task Every_catalog_change_is_audited_and_searchable()
    {
        var store = Store();
        var imported = await store.ImportAsync(new MemoryStream(Random(10)), "Tomb of Annihilation.pdf");

        var hits = await _db.SearchAsync("annihilation");
        var audit = await _db.ListAuditAsync("files", imported.File.Id);

        Assert.Equal(imported.File.Id, Assert.Single(hits).Id);
        Assert.Equal(1, audit.TotalCount);
    }

    [Fact]
    public async Task Small_hot_objects_and_catalog_rows_are_served_from_the_cache_and_dropped_on_delete()
    {
        var store = new FileStore(_db, _root, keys: null, cacheBytes: 1024 * 1024);
        var content = Text(10_000);
        var imported = await store.ImportAsync(new MemoryStream(content), "handout.txt");

        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(content, await ReadAll(store, imported.File.Id));
        }

        var stats = store.Cache.Statistics;
        Assert.True(stats.Hits >= 8, $"{stats.Hits} hits");
        File.Delete(store.ObjectPath(imported.File.ObjectId));
        Assert.Equal(content, await ReadAll(store, imported.File.Id));

        await store.DeleteAsync(imported.File.Id);
        Assert.Equal(MdmaiErrorCode.NotFound, (await Assert.ThrowsAsync<MdmaiException>(() => ReadAll(store, imported.File.Id))).Code);
    }

    [Theory]
    [InlineData("../x", "x")]
    [InlineData("a/b/c.pdf", "c.pdf")]
    [InlineData("..", "file")]
    [InlineData("C:\\evil\\boot.ini", "boot.ini")]
    public void Stored_names_become_plain_file_names(string name, string expected) =>
        Assert.Equal(expected, FileStore.SafeFileName(name));

    /// <summary>Pseudo-random bytes produced as they are read: a large input without a large buffer.</summary>
    internal sealed class GeneratedStream(long length) : Stream
    {
        private long _position;
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => length;
        public override long Position { get => _position; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var count = (int)Math.Min(buffer.Length, length - _position);
            for (var i = 0; i < count; i++)
            {
                buffer[i] = (byte)((_position + i) * 2654435761 >> 13);
            }

            _position += count;
            return count;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => ValueTask.FromResult(Read(buffer.Span));
    }
}
