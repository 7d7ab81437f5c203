namespace Mdmai.DataManager.IO;

/// <summary>
/// The data folder's lock: an advisory lock (flock) on <c>.mdmai.lock</c>, released when its holder ends, however it
/// ends. Exclusive for who changes the folder as a whole or its file store — the app (the facade), an in-place restore
/// while it swaps the folder's items, imports and repairs — and shared for who only reads it or writes records through
/// SQLite (which orders writers across processes itself). A conflicting holder gets <see cref="MdmaiErrorCode.Locked"/>
/// naming the process that has it (each holder writes its process id into the file).
/// </summary>
internal static class FolderLock
{
    public const string FileName = ".mdmai.lock";

    public static FileStream Acquire(string folder, bool exclusive = true)
    {
        var path = Path.Combine(folder, FileName);
        try
        {
            // .NET takes flock(LOCK_EX) for FileShare.None and flock(LOCK_SH) for any sharing, without waiting.
            var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, exclusive ? FileShare.None : FileShare.ReadWrite);
            stream.SetLength(0);
            stream.Write(System.Text.Encoding.UTF8.GetBytes($"{Environment.ProcessId} {Environment.MachineName} {DateTimeOffset.UtcNow:O}\n"));
            stream.Flush();
            return stream;
        }
        catch (IOException ex)
        {
            var holder = "";
            try
            {
                // Not through a FileStream by path: .NET takes an advisory lock of its own to open a file, which the
                // holder's exclusive lock refuses. A plain open(2) reads the holder's line.
                using var handle = UnixFileCalls.TryOpenForReading(path);
                if (handle is not null)
                {
                    using var text = new StreamReader(new FileStream(handle, FileAccess.Read));
                    holder = $" (process {text.ReadLine()?.Split(' ')[0]})";
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // who holds it is only for the message
            }

            throw new MdmaiException(MdmaiErrorCode.Locked, exclusive
                ? $"The data folder '{folder}' is open in another process{holder}, and this needs it alone. Close it there first; two processes never change one folder's files at once."
                : $"The data folder '{folder}' is held alone by another process{holder} (the app, an import, a restore or a repair). Close it there, or let it finish, first.", ex);
        }
    }
}
