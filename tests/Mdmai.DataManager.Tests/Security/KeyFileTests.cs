using Mdmai.DataManager.Security;

namespace Mdmai.DataManager.Tests.Security;

public sealed class KeyFileTests : IDisposable
{
    // Cheap Argon2id costs keep the suite fast; the defaults are checked separately.
    private static readonly KdfParameters Fast = new(MemoryKib: 8 * 1024, Iterations: 1);
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "mdmai-keys-" + Guid.NewGuid().ToString("N"));

    public KeyFileTests() => Directory.CreateDirectory(_folder);

    private string KeyPath => Path.Combine(_folder, KeyFile.FileName);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static async Task<byte[]> Seal(KeyRing keys, byte[] content)
    {
        using var stored = new MemoryStream();
        await using var writer = ObjectCodec.CreateWriter(stored, keys.Current, compress: false);
        await writer.Stream.WriteAsync(content);
        await writer.CompleteAsync();
        return stored.ToArray();
    }

    private static async Task<byte[]> Open(KeyRing keys, byte[] stored)
    {
        await using var stream = await ObjectCodec.OpenReadAsync(new MemoryStream(stored), keys);
        using var output = new MemoryStream();
        await stream.CopyToAsync(output);
        return output.ToArray();
    }

    [Fact]
    public async Task The_password_unlocks_the_data_key_and_a_wrong_one_is_WrongPassword()
    {
        var file = await KeyFile.CreateAsync(KeyPath, "correct horse", Fast);
        using var keys = file.Unlock("correct horse");
        var before = await File.ReadAllBytesAsync(KeyPath);

        var error = Assert.Throws<MdmaiException>(() => file.Unlock("battery staple"));

        Assert.Equal(MdmaiErrorCode.WrongPassword, error.Code);
        Assert.Equal(1u, keys.Current.Epoch);
        Assert.Equal(before, await File.ReadAllBytesAsync(KeyPath));
    }

    [Fact]
    public async Task The_key_file_records_the_kdf_parameters_and_reloads()
    {
        await KeyFile.CreateAsync(KeyPath, "pw", Fast);

        var loaded = await KeyFile.LoadAsync(KeyPath);

        Assert.Equal(Fast, loaded.PasswordKdf);
        Assert.Contains("\"argon2id\"", await File.ReadAllTextAsync(KeyPath), StringComparison.Ordinal);
        using var keys = loaded.Unlock("pw");
        Assert.Single(keys.Epochs);
    }

    [Fact]
    public async Task Changing_the_password_keeps_the_data_readable_and_retires_the_old_password()
    {
        var file = await KeyFile.CreateAsync(KeyPath, "old password", Fast);
        byte[] stored;
        using (var keys = file.Unlock("old password"))
        {
            stored = await Seal(keys, [1, 2, 3]);
        }

        await file.ChangePasswordAsync("old password", "new password");
        var reloaded = await KeyFile.LoadAsync(KeyPath);

        using var unlocked = reloaded.Unlock("new password");
        Assert.Equal([1, 2, 3], await Open(unlocked, stored));
        Assert.Equal(MdmaiErrorCode.WrongPassword, Assert.Throws<MdmaiException>(() => reloaded.Unlock("old password")).Code);
    }

    [Fact]
    public async Task Changing_the_password_with_a_wrong_current_password_changes_nothing()
    {
        var file = await KeyFile.CreateAsync(KeyPath, "pw", Fast);
        var before = await File.ReadAllBytesAsync(KeyPath);

        var error = await Assert.ThrowsAsync<MdmaiException>(() => file.ChangePasswordAsync("nope", "new"));

        Assert.Equal(MdmaiErrorCode.WrongPassword, error.Code);
        Assert.Equal(before, await File.ReadAllBytesAsync(KeyPath));
        using var _ = file.Unlock("pw");
    }

    [Fact]
    public async Task A_recovery_key_unlocks_the_same_data_keys()
    {
        var file = await KeyFile.CreateAsync(KeyPath, "pw", Fast);
        var recovery = await file.AddRecoveryKeyAsync("pw");
        byte[] stored;
        using (var keys = file.Unlock("pw"))
        {
            stored = await Seal(keys, [42]);
        }

        var reloaded = await KeyFile.LoadAsync(KeyPath);
        using var recovered = reloaded.UnlockWithRecoveryKey(recovery.ToLowerInvariant().Replace("-", " ", StringComparison.Ordinal));

        Assert.True(reloaded.HasRecoveryKey);
        Assert.Equal([42], await Open(recovered, stored));
        Assert.Equal(13 * 4 + 12, recovery.Length);
        Assert.DoesNotContain(recovery, await File.ReadAllTextAsync(KeyPath), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_wrong_recovery_key_is_WrongPassword()
    {
        var file = await KeyFile.CreateAsync(KeyPath, "pw", Fast);
        await file.AddRecoveryKeyAsync("pw");
        var other = KeyFile.FormatRecoveryKey(new byte[32]);

        Assert.Equal(MdmaiErrorCode.WrongPassword, Assert.Throws<MdmaiException>(() => file.UnlockWithRecoveryKey(other)).Code);
        Assert.Equal(MdmaiErrorCode.WrongPassword, Assert.Throws<MdmaiException>(() => file.UnlockWithRecoveryKey("not a key")).Code);
    }

    [Fact]
    public async Task A_new_epoch_writes_new_objects_and_old_ones_stay_readable()
    {
        var file = await KeyFile.CreateAsync(KeyPath, "pw", Fast);
        byte[] old;
        using (var keys = file.Unlock("pw"))
        {
            old = await Seal(keys, [7]);
        }

        var epoch = await file.AddEpochAsync("pw");
        using var ring = (await KeyFile.LoadAsync(KeyPath)).Unlock("pw");
        var fresh = await Seal(ring, [8]);

        Assert.Equal(2u, epoch);
        Assert.Equal(2u, ring.Current.Epoch);
        Assert.Equal([7], await Open(ring, old));
        Assert.Equal([8], await Open(ring, fresh));
        Assert.Equal(2u, BitConverter.ToUInt32(fresh, 8));
    }

    [Fact]
    public async Task Creating_over_an_existing_key_file_is_refused()
    {
        await KeyFile.CreateAsync(KeyPath, "pw", Fast);

        var error = await Assert.ThrowsAsync<MdmaiException>(() => KeyFile.CreateAsync(KeyPath, "other", Fast));

        Assert.Equal(MdmaiErrorCode.AlreadyExists, error.Code);
    }

    [Fact]
    public async Task A_truncated_key_file_is_Corrupt_with_a_clear_message()
    {
        await KeyFile.CreateAsync(KeyPath, "pw", Fast);
        var bytes = await File.ReadAllBytesAsync(KeyPath);
        await File.WriteAllBytesAsync(KeyPath, bytes[..(bytes.Length / 2)]);

        var error = await Assert.ThrowsAsync<MdmaiException>(() => KeyFile.LoadAsync(KeyPath));

        Assert.Equal(MdmaiErrorCode.Corrupt, error.Code);
        Assert.Contains("backup", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_file_that_is_not_a_key_file_is_refused()
    {
        await File.WriteAllTextAsync(KeyPath, """{"format": "something-else", "slots": [], "data_keys": []}""");

        Assert.Equal(MdmaiErrorCode.Corrupt, (await Assert.ThrowsAsync<MdmaiException>(() => KeyFile.LoadAsync(KeyPath))).Code);
    }

    [Fact]
    public async Task A_missing_key_file_is_NotFound()
    {
        Assert.Equal(MdmaiErrorCode.NotFound, (await Assert.ThrowsAsync<MdmaiException>(() => KeyFile.LoadAsync(KeyPath))).Code);
    }

    [Fact]
    public async Task Key_file_writes_leave_no_temp_files_behind()
    {
        var file = await KeyFile.CreateAsync(KeyPath, "pw", Fast);
        await file.ChangePasswordAsync("pw", "pw2");
        await file.AddRecoveryKeyAsync("pw2");

        Assert.Equal([KeyFile.FileName], Directory.GetFiles(_folder).Select(Path.GetFileName));
    }

    [Fact]
    public void A_disposed_data_key_cannot_be_used()
    {
        var key = DataKey.CreateRandom(1);
        key.Dispose();

        Assert.Throws<ObjectDisposedException>(() => key.Bytes.Length);
    }

    [Fact]
    public void Recovery_keys_round_trip_through_text()
    {
        var secret = Enumerable.Range(0, 32).Select(i => (byte)(i * 37)).ToArray();

        Assert.Equal(secret, KeyFile.ParseRecoveryKey(KeyFile.FormatRecoveryKey(secret)));
    }

    [Fact]
    public void The_default_kdf_costs_are_40_MiB_and_6_passes()
    {
        Assert.Equal(40_960, KdfParameters.Default.MemoryKib);
        Assert.Equal(6, KdfParameters.Default.Iterations);
        Assert.Equal(1, KdfParameters.Default.Parallelism);
    }
}
