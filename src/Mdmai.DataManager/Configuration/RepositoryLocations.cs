namespace Mdmai.DataManager.Configuration;

/// <summary>How a backup repository is named: a folder path, or an object store's URL (<c>s3://BUCKET/PREFIX</c>).</summary>
public static class RepositoryLocations
{
    /// <summary>Whether <paramref name="location"/> names an S3 bucket (<c>s3://…</c>) rather than a folder.</summary>
    public static bool IsS3(string? location) => location is not null && location.StartsWith("s3://", StringComparison.OrdinalIgnoreCase);

    /// <summary>A URL as it is; a folder as a full path, a relative one taken under <paramref name="baseFolder"/>.</summary>
    public static string Resolve(string baseFolder, string location)
    {
        ArgumentNullException.ThrowIfNull(baseFolder);
        ArgumentNullException.ThrowIfNull(location);
        return IsS3(location) ? location : Path.GetFullPath(Path.Combine(baseFolder, location));
    }
}
