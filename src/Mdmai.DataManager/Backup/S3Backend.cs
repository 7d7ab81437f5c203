using System.Net;
using System.Runtime.CompilerServices;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Mdmai.DataManager.Backup.Internal;

namespace Mdmai.DataManager.Backup;

/// <summary>How to reach an S3-compatible object store (docs/s3.md). <see cref="FromEnvironment"/> reads the AWS tools' variables.</summary>
public sealed record S3Options
{
    /// <summary>The endpoint of a non-AWS store (<c>http://127.0.0.1:7480</c>); null for AWS itself.</summary>
    public Uri? Endpoint { get; init; }

    /// <summary>The region; default <c>us-east-1</c>.</summary>
    public string? Region { get; init; }

    /// <summary>Path-style addressing (<c>ENDPOINT/BUCKET/KEY</c>); default on for a custom endpoint, off for AWS.</summary>
    public bool? PathStyle { get; init; }

    /// <summary>An access key given directly; null uses the AWS credential chain (environment, <c>AWS_PROFILE</c>, the shared credentials file).</summary>
    public string? AccessKey { get; init; }

    /// <summary>The secret of <see cref="AccessKey"/>.</summary>
    public string? SecretKey { get; init; }

    /// <summary>The session token of temporary credentials.</summary>
    public string? SessionToken { get; init; }

    /// <summary>A request during which no byte moves for this long is abandoned and retried. Default 30 s.</summary>
    public TimeSpan StallTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Tries per request (throttling, 5xx, dropped connections, stalls). Default 8.</summary>
    public int MaxAttempts { get; init; } = 8;

    /// <summary>First retry delay; doubles per attempt up to 20 s, with full jitter. Default 200 ms.</summary>
    public TimeSpan RetryBaseDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Packs uploaded at a time. Default 4.</summary>
    public int ConcurrentUploads { get; init; } = 4;

    /// <summary>Where uploads larger than 1 MiB are spooled before they are sent (unlinked temp files). Default: the system's temp folder.</summary>
    public string? SpoolFolder { get; init; }

    /// <summary>
    /// Where repositories' local caches of metadata are kept (docs/s3.md); null: <c>$XDG_CACHE_HOME/mdmai/repositories</c>
    /// (else <c>~/.cache/…</c>); empty: no cache (every command reads the metadata from the store).
    /// </summary>
    public string? CacheFolder { get; init; }

    /// <summary>
    /// Writes carry <c>x-amz-acl: bucket-owner-full-control</c>, so what other credentials write (append-only keys granted
    /// by a bucket policy) stays readable by the bucket owner's maintenance. Default on; off for a store that refuses the header.
    /// </summary>
    public bool BucketOwnerFullControl { get; init; } = true;

    /// <summary>A profile of the shared credentials file (<c>~/.aws/credentials</c>) to take the keys from, when no key is given.</summary>
    public string? Profile { get; init; }

    /// <summary>
    /// The options the AWS tools would use, read through <paramref name="variable"/> (default: this process's
    /// environment): <c>AWS_ENDPOINT_URL_S3</c> or <c>AWS_ENDPOINT_URL</c>, <c>AWS_REGION</c> (or
    /// <c>AWS_DEFAULT_REGION</c>), <c>AWS_ACCESS_KEY_ID</c> / <c>AWS_SECRET_ACCESS_KEY</c> / <c>AWS_SESSION_TOKEN</c>,
    /// and <c>AWS_PROFILE</c>; with none of the keys and no profile, the SDK's own chain looks further (the shared
    /// files' default profile, instance roles).
    /// </summary>
    public static S3Options FromEnvironment(Func<string, string?>? variable = null, bool? pathStyle = null)
    {
        variable ??= Environment.GetEnvironmentVariable;
        var endpoint = Read("AWS_ENDPOINT_URL_S3") ?? Read("AWS_ENDPOINT_URL");
        Uri? uri = null;
        if (endpoint is not null && (!Uri.TryCreate(endpoint, UriKind.Absolute, out uri) || uri.Scheme is not ("http" or "https")))
        {
            throw new MdmaiException(MdmaiErrorCode.InvalidConfig, $"AWS_ENDPOINT_URL(_S3) must be an http:// or https:// URL, not '{endpoint}'.");
        }

        return new S3Options
        {
            Endpoint = uri,
            Region = Read("AWS_REGION") ?? Read("AWS_DEFAULT_REGION"),
            PathStyle = pathStyle,
            AccessKey = Read("AWS_ACCESS_KEY_ID"),
            SecretKey = Read("AWS_SECRET_ACCESS_KEY"),
            SessionToken = Read("AWS_SESSION_TOKEN"),
            Profile = Read("AWS_PROFILE"),
            CacheFolder = CachedBackend.DefaultRoot(variable),
        };

        string? Read(string name) => variable(name) is { Length: > 0 } value ? value : null;
    }

    /// <summary>The options without their secrets, for display.</summary>
    public override string ToString() => $"S3Options {{ Endpoint = {Endpoint}, Region = {Region}, PathStyle = {PathStyle}, AccessKey = {(AccessKey is null ? "" : "(set)")}, Profile = {Profile} }}";
}

/// <summary>The requests a backend sent, by kind (each attempt counts, retries included).</summary>
/// <param name="Put">PUT requests (uploads).</param>
/// <param name="Get">GET requests (reads of an object or a range of it).</param>
/// <param name="List">LIST requests (pages of a listing).</param>
/// <param name="Head">HEAD requests (lengths).</param>
/// <param name="Delete">DELETE requests.</param>
public readonly record struct BackendRequests(long Put, long Get, long List, long Head, long Delete)
{
    /// <summary>All requests.</summary>
    public long Total => Put + Get + List + Head + Delete;

    /// <summary>The two counts added kind by kind.</summary>
    public static BackendRequests operator +(BackendRequests left, BackendRequests right) =>
        new(left.Put + right.Put, left.Get + right.Get, left.List + right.List, left.Head + right.Head, left.Delete + right.Delete);

    /// <summary>The two counts added kind by kind.</summary>
    public static BackendRequests Add(BackendRequests left, BackendRequests right) => left + right;
}

/// <summary>
/// A backup repository in an S3 bucket, under a prefix (<c>s3://BUCKET/PREFIX</c>): the same items as a local
/// folder, one object each. An item is written once with <c>If-None-Match: *</c> (a second writer of a name gets
/// <see cref="MdmaiErrorCode.AlreadyExists"/>) and a Content-MD5 the store verifies; items above 1 MiB are spooled
/// to a temp file first, so uploads in flight cost bounded memory. Every request has a stall watchdog and is retried
/// with exponential backoff and full jitter on throttling, 5xx, dropped connections and stalls; refused
/// credentials, permissions and a missing bucket fail at once (<see cref="MdmaiErrorCode.RemoteAccess"/>).
/// </summary>
public sealed class S3Backend : IBackupBackend, IObjectLockBackend, IDisposable
{
    private readonly AmazonS3Client _client;
    private readonly S3Options _options;
    private readonly string _prefix;
    private readonly bool _https;
    private long _put, _get, _list, _head, _delete;

    /// <summary>Opens the bucket and prefix of <paramref name="location"/> (<c>s3://BUCKET[/PREFIX]</c>) with <paramref name="options"/> (default: from the environment).</summary>
    public S3Backend(string location, S3Options? options = null)
    {
        (Bucket, Prefix) = ParseLocation(location);
        _options = options ?? S3Options.FromEnvironment();
        if (_options.MaxAttempts < 1 || _options.ConcurrentUploads < 1 || _options.StallTimeout <= TimeSpan.Zero)
        {
            throw new MdmaiException(MdmaiErrorCode.InvalidArgument, "S3 options: attempts and concurrent uploads must be at least 1 and the stall timeout positive.");
        }

        _prefix = Prefix.Length == 0 ? "" : Prefix + "/";
        var config = new AmazonS3Config
        {
            // Our own retry loop counts and classifies every attempt; the SDK's would hide them.
            MaxErrorRetry = 0,
            // Our watchdog ends stalled requests; the SDK's whole-request timeout would end slow but moving ones.
            Timeout = TimeSpan.FromHours(1),
            // Flexible checksums go as trailers that many S3-compatible stores (Ceph 16 among them) refuse, and do not
            // verify when they accept them; uploads carry a Content-MD5 instead, which they do verify.
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        };
        var region = _options.Region ?? "us-east-1";
        if (_options.Endpoint is { } endpoint)
        {
            config.ServiceURL = endpoint.ToString();
            config.AuthenticationRegion = region;
            config.ForcePathStyle = _options.PathStyle ?? true;
        }
        else
        {
            config.RegionEndpoint = Amazon.RegionEndpoint.GetBySystemName(region);
            config.ForcePathStyle = _options.PathStyle ?? false;
        }

        Endpoint = _options.Endpoint?.ToString().TrimEnd('/') ?? $"https://s3.{region}.amazonaws.com";
        _https = Endpoint.StartsWith("https://", StringComparison.OrdinalIgnoreCase);
        _client = new AmazonS3Client(Credentials(_options), config);
    }

    private static AWSCredentials Credentials(S3Options options)
    {
        if (options is { AccessKey: { Length: > 0 } key, SecretKey: { Length: > 0 } secret })
        {
            return options.SessionToken is { Length: > 0 } token ? new SessionAWSCredentials(key, secret, token) : new BasicAWSCredentials(key, secret);
        }

        if (options.AccessKey is { Length: > 0 } || options.SecretKey is { Length: > 0 })
        {
            throw new MdmaiException(MdmaiErrorCode.RemoteAccess, "Only half of the S3 credentials are set: give both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.");
        }

        if (options.Profile is { Length: > 0 } profile)
        {
            return new Amazon.Runtime.CredentialManagement.CredentialProfileStoreChain().TryGetAWSCredentials(profile, out var found)
                ? found
                : throw new MdmaiException(MdmaiErrorCode.RemoteAccess, $"AWS_PROFILE names '{profile}', which the shared credentials file (~/.aws/credentials) does not have.");
        }

        try
        {
            return Amazon.Runtime.Credentials.DefaultAWSCredentialsIdentityResolver.GetCredentials();
        }
        catch (AmazonClientException ex)
        {
            throw new MdmaiException(MdmaiErrorCode.RemoteAccess,
                "No S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with the shared credentials file.", ex);
        }
    }

    /// <summary>The bucket.</summary>
    public string Bucket { get; }

    /// <summary>The prefix under which the repository's items are (no leading or trailing '/'; may be empty).</summary>
    public string Prefix { get; }

    /// <summary>The endpoint requests go to (no secret in it).</summary>
    public string Endpoint { get; }

    /// <summary>The repository's URL, <c>s3://BUCKET/PREFIX</c>.</summary>
    public string Location => Prefix.Length == 0 ? $"s3://{Bucket}" : $"s3://{Bucket}/{Prefix}";

    BackendRequests? IBackupBackend.Requests => Requests;

    /// <summary>The requests sent so far.</summary>
    public BackendRequests Requests => new(Interlocked.Read(ref _put), Interlocked.Read(ref _get), Interlocked.Read(ref _list), Interlocked.Read(ref _head), Interlocked.Read(ref _delete));

    /// <inheritdoc/>
    public int ConcurrentWrites => _options.ConcurrentUploads;

    /// <summary>Seeded jitter for tests; shared randomness otherwise.</summary>
    internal Random Jitter { get; init; } = Random.Shared;

    /// <inheritdoc/>
    public async IAsyncEnumerable<BackendItem> ListAsync(string folder, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(folder);
        var prefix = _prefix + folder.Trim('/') + "/";
        string? token = null;
        do
        {
            var request = new ListObjectsV2Request { BucketName = Bucket, Prefix = prefix, ContinuationToken = token, MaxKeys = 1000 };
            var page = await SendAsync(RequestKind.List, folder, (_, ct) => _client.ListObjectsV2Async(request, ct), cancellationToken).ConfigureAwait(false);
            foreach (var item in page.S3Objects ?? [])
            {
                yield return new BackendItem(item.Key[_prefix.Length..], item.Size ?? 0) { Modified = item.LastModified is { } modified ? new DateTimeOffset(modified.ToUniversalTime(), TimeSpan.Zero) : null };
            }

            token = page.IsTruncated == true ? page.NextContinuationToken : null;
        }
        while (token is not null);
    }

    /// <inheritdoc/>
    public async Task<long?> LengthAsync(string name, CancellationToken cancellationToken = default)
    {
        var key = Key(name);
        try
        {
            var head = await SendAsync(RequestKind.Head, name, (_, ct) => _client.GetObjectMetadataAsync(Bucket, key, ct), cancellationToken).ConfigureAwait(false);
            return head.ContentLength;
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound && ex.ErrorCode != "NoSuchBucket")
        {
            return null;
        }
    }

    /// <inheritdoc/>
    public async Task<int> ReadAsync(string name, long offset, Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        var key = Key(name);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if (destination.Length == 0)
        {
            // A zero-length range cannot be asked for; the item must still exist.
            return await LengthAsync(name, cancellationToken).ConfigureAwait(false) is null ? throw Missing(name) : 0;
        }

        try
        {
            return await SendAsync(RequestKind.Get, name, async (watchdog, ct) =>
            {
                var request = new GetObjectRequest { BucketName = Bucket, Key = key, ByteRange = new ByteRange(offset, offset + destination.Length - 1) };
                using var response = await _client.GetObjectAsync(request, ct).ConfigureAwait(false);
                var total = 0;
                while (total < destination.Length)
                {
                    var n = await response.ResponseStream.ReadAsync(destination[total..], ct).ConfigureAwait(false);
                    if (n == 0)
                    {
                        break;
                    }

                    watchdog.Kick();
                    total += n;
                }

                // A range past the object's end comes back shorter; a connection cut mid-body comes back short too.
                if (total < destination.Length && response.ContentLength > total)
                {
                    throw new IOException($"The read of '{name}' ended after {total} of {response.ContentLength} bytes.");
                }

                return total;
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
        {
            return 0; // the offset is at or past the end
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound && ex.ErrorCode != "NoSuchBucket")
        {
            throw Missing(name);
        }
    }

    /// <inheritdoc/>
    /// <remarks>
    /// One ranged GET, read as it arrives. A read that fails or stalls mid-way (a dropped connection, the watchdog) asks
    /// again from where it broke off, with the same backoff and number of tries as any request.
    /// </remarks>
    public Task<Stream> OpenReadAsync(string name, long offset, long length, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        return Task.FromResult<Stream>(new RangeStream(this, name, Key(name), offset, length));
    }

    /// <summary>A ranged GET's body, resumed from where it broke off.</summary>
    private sealed class RangeStream(S3Backend owner, string name, string key, long offset, long length) : Stream
    {
        private GetObjectResponse? _response;
        private long _position;
        private int _failures;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => length;

        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var want = (int)Math.Min(buffer.Length, length - _position);
            if (want == 0)
            {
                return 0;
            }

            while (true)
            {
                _response ??= await OpenAsync(cancellationToken).ConfigureAwait(false);
                using var stall = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                stall.CancelAfter(owner._options.StallTimeout);
                Exception failure;
                try
                {
                    var n = await _response.ResponseStream.ReadAsync(buffer[..want], stall.Token).ConfigureAwait(false);
                    if (n > 0)
                    {
                        _position += n;
                        return n;
                    }

                    failure = new IOException($"The read of '{name}' ended {length - _position} bytes early.");
                }
                catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
                {
                    failure = new TimeoutException($"No byte moved for {owner._options.StallTimeout.TotalSeconds:0.#} s.", ex);
                }
                catch (Exception ex) when (IsTransient(ex, cancellationToken))
                {
                    failure = ex;
                }

                _response.Dispose();
                _response = null;
                if (++_failures >= owner._options.MaxAttempts)
                {
                    throw new MdmaiException(MdmaiErrorCode.RemoteUnavailable,
                        $"The object store at {owner.Endpoint} kept breaking off the read of '{name}' ({_failures} tries): {Describe(failure)}. Try again when the connection is back.", failure);
                }

                await Task.Delay(owner.Backoff(_failures), cancellationToken).ConfigureAwait(false);
            }
        }

        private async Task<GetObjectResponse> OpenAsync(CancellationToken cancellationToken)
        {
            try
            {
                return await owner.SendAsync(RequestKind.Get, name, (_, ct) => owner._client.GetObjectAsync(
                    new GetObjectRequest { BucketName = owner.Bucket, Key = key, ByteRange = new ByteRange(offset + _position, offset + length - 1) }, ct), cancellationToken).ConfigureAwait(false);
            }
            catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound && ex.ErrorCode != "NoSuchBucket")
            {
                throw Missing(name);
            }
            catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
            {
                throw new EndOfStreamException($"'{name}' ends before byte {offset + _position}.", ex);
            }
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _response?.Dispose();
            }

            base.Dispose(disposing);
        }
    }

    /// <inheritdoc/>
    /// <remarks>One GET (the default would HEAD first).</remarks>
    public async Task<byte[]> ReadAllAsync(string name, CancellationToken cancellationToken = default)
    {
        var key = Key(name);
        try
        {
            return await SendAsync(RequestKind.Get, name, async (watchdog, ct) =>
            {
                using var response = await _client.GetObjectAsync(new GetObjectRequest { BucketName = Bucket, Key = key }, ct).ConfigureAwait(false);
                if (response.ContentLength is < 0 or > int.MaxValue)
                {
                    throw new InvalidDataException($"'{name}' is {response.ContentLength} bytes: too large to read whole.");
                }

                var bytes = new byte[response.ContentLength];
                var total = 0;
                while (total < bytes.Length)
                {
                    var n = await response.ResponseStream.ReadAsync(bytes.AsMemory(total), ct).ConfigureAwait(false);
                    if (n == 0)
                    {
                        throw new IOException($"The read of '{name}' ended after {total} of {bytes.Length} bytes.");
                    }

                    watchdog.Kick();
                    total += n;
                }

                return bytes;
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound && ex.ErrorCode != "NoSuchBucket")
        {
            throw Missing(name);
        }
    }

    /// <inheritdoc/>
    public async Task WriteAsync(string name, Func<Stream, CancellationToken, Task> write, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(write);
        var key = Key(name);
        await using var spool = new SpoolStream(_options.SpoolFolder ?? Path.GetTempPath());
        await write(spool, cancellationToken).ConfigureAwait(false);
        spool.Rewind();
        var md5 = Convert.ToBase64String(spool.Md5);
        var etag = $"\"{Convert.ToHexStringLower(spool.Md5)}\"";
        var attempt = 0;
        try
        {
            await SendAsync(RequestKind.Put, name, async (watchdog, ct) =>
            {
                spool.Rewind();
                var request = new PutObjectRequest
                {
                    BucketName = Bucket,
                    Key = key,
                    InputStream = new WatchedStream(spool, watchdog),
                    AutoCloseStream = false,
                    MD5Digest = md5,
                    IfNoneMatch = "*",
                    ContentType = "application/octet-stream",
                    // Credentials other than the bucket owner's (append-only ones, granted by a bucket policy) would
                    // otherwise own what they write, and the owner's maintenance could not read it.
                    CannedACL = _options.BucketOwnerFullControl ? S3CannedACL.BucketOwnerFullControl : null,
                };

                // A plain PUT with a Content-Length (aws-chunked uploads are not understood by every S3-compatible
                // store), and no second MD5 pass by the SDK: the Content-MD5 computed while spooling is the check,
                // and the store verifies it. Over TLS the payload is not hashed again for the signature either.
                request.UseChunkEncoding = false;
                request.DisableDefaultChecksumValidation = true;
                request.DisablePayloadSigning = _https ? true : null;

                if (Retention is { } retention && !name.StartsWith(Internal.RepositoryNames.Locks + "/", StringComparison.Ordinal))
                {
                    // Locks stay deletable: they must go when their holder ends.
                    request.ObjectLockMode = retention.Compliance ? ObjectLockMode.Compliance : ObjectLockMode.Governance;
                    request.ObjectLockRetainUntilDate = DateTime.UtcNow.AddDays(retention.Days);
                }

                attempt++;
                return await _client.PutObjectAsync(request, ct).ConfigureAwait(false);
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.PreconditionFailed)
        {
            // After a retry the name may be taken by our own first attempt, which the store did receive whole: the
            // same content's MD5 says so. Otherwise another writer has it.
            if (attempt > 1 && await ETagAsync(name, key, cancellationToken).ConfigureAwait(false) == etag)
            {
                return;
            }

            throw new MdmaiException(MdmaiErrorCode.AlreadyExists, $"The repository already has '{name}'; items are written once and never replaced.", ex);
        }
    }

    private async Task<string?> ETagAsync(string name, string key, CancellationToken cancellationToken)
    {
        try
        {
            return (await SendAsync(RequestKind.Head, name, (_, ct) => _client.GetObjectMetadataAsync(Bucket, key, ct), cancellationToken).ConfigureAwait(false)).ETag;
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    /// <inheritdoc/>
    /// <remarks>Uploads are single PUTs, which the store makes visible only whole; what a crash can leave is multipart uploads another tool began under the prefix, which are aborted.</remarks>
    public async Task<int> DeleteIncompleteAsync(CancellationToken cancellationToken = default)
    {
        var aborted = 0;
        string? keyMarker = null, uploadMarker = null;
        do
        {
            var request = new ListMultipartUploadsRequest { BucketName = Bucket, Prefix = _prefix, KeyMarker = keyMarker, UploadIdMarker = uploadMarker };
            var page = await SendAsync(RequestKind.List, "uploads", (_, ct) => _client.ListMultipartUploadsAsync(request, ct), cancellationToken).ConfigureAwait(false);
            foreach (var upload in page.MultipartUploads ?? [])
            {
                await SendAsync(RequestKind.Delete, upload.Key, (_, ct) => _client.AbortMultipartUploadAsync(Bucket, upload.Key, upload.UploadId, ct), cancellationToken).ConfigureAwait(false);
                aborted++;
            }

            (keyMarker, uploadMarker) = page.IsTruncated == true ? (page.NextKeyMarker, page.NextUploadIdMarker) : (null, null);
        }
        while (keyMarker is not null);

        return aborted;
    }

    /// <inheritdoc/>
    public Task DeleteAsync(string name, CancellationToken cancellationToken = default)
    {
        var key = Key(name);
        return SendAsync(RequestKind.Delete, name, (_, ct) => _client.DeleteObjectAsync(Bucket, key, ct), cancellationToken);
    }

    /// <inheritdoc/>
    public ObjectLockSettings? Retention { get; set; }

    /// <inheritdoc/>
    public Task ExtendRetentionAsync(string name, DateTimeOffset until, CancellationToken cancellationToken = default)
    {
        var key = Key(name);
        var mode = Retention?.Compliance == true ? ObjectLockRetentionMode.Compliance : ObjectLockRetentionMode.Governance;
        return SendAsync(RequestKind.Put, name, (_, ct) => _client.PutObjectRetentionAsync(new PutObjectRetentionRequest
        {
            BucketName = Bucket,
            Key = key,
            Retention = new ObjectLockRetention { Mode = mode, RetainUntilDate = until.UtcDateTime },
        }, ct), cancellationToken);
    }

    /// <summary>
    /// Makes sure the bucket exists, creating it when it does not (with Object Lock, and so versioning, when
    /// <paramref name="objectLock"/>); a bucket that exists must be this account's, and have Object Lock when asked.
    /// </summary>
    public async Task EnsureBucketAsync(bool objectLock, CancellationToken cancellationToken = default)
    {
        try
        {
            // A bucket of this account that exists may be "made" again without an error (us-east-1's rule, Ceph's too):
            // success says nothing about Object Lock, which is asked below.
            await SendAsync(RequestKind.Put, Bucket, (_, ct) => _client.PutBucketAsync(new PutBucketRequest { BucketName = Bucket, ObjectLockEnabledForBucket = objectLock ? true : null }, ct), cancellationToken).ConfigureAwait(false);
        }
        catch (AmazonS3Exception ex) when (ex.ErrorCode == "BucketAlreadyExists")
        {
            throw new MdmaiException(MdmaiErrorCode.RemoteAccess, $"The bucket '{Bucket}' belongs to another account: choose another name ({Endpoint}).", ex);
        }
        catch (AmazonS3Exception ex) when (ex.ErrorCode == "BucketAlreadyOwnedByYou")
        {
            // ours already
        }

        if (objectLock)
        {
            GetObjectLockConfigurationResponse configuration;
            try
            {
                configuration = await SendAsync(RequestKind.Get, Bucket, (_, ct) => _client.GetObjectLockConfigurationAsync(new GetObjectLockConfigurationRequest { BucketName = Bucket }, ct), cancellationToken).ConfigureAwait(false);
            }
            catch (AmazonS3Exception ex) when (ex.ErrorCode is "ObjectLockConfigurationNotFoundError" or "ObjectLockConfigurationNotFound" || ex.StatusCode == HttpStatusCode.NotFound)
            {
                configuration = new GetObjectLockConfigurationResponse();
            }

            if (configuration.ObjectLockConfiguration?.ObjectLockEnabled != ObjectLockEnabled.Enabled)
            {
                throw new MdmaiException(MdmaiErrorCode.InvalidArgument,
                    $"The bucket '{Bucket}' exists without Object Lock, which can only be turned on when a bucket is made: use a new bucket for --object-lock-days.");
            }
        }
        else
        {
            await ProbeAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Checks that the bucket answers to these credentials (one LIST), failing with what is wrong.</summary>
    public async Task ProbeAsync(CancellationToken cancellationToken = default)
    {
        var request = new ListObjectsV2Request { BucketName = Bucket, Prefix = _prefix, MaxKeys = 1 };
        await SendAsync(RequestKind.List, "", (_, ct) => _client.ListObjectsV2Async(request, ct), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Closes the connections.</summary>
    public void Dispose() => _client.Dispose();

    private enum RequestKind
    {
        Put,
        Get,
        List,
        Head,
        Delete,
    }

    /// <summary>
    /// One request with its retries: each attempt counted, given a watchdog that cancels it when no byte moved for
    /// the stall timeout, and retried after a jittered backoff when the failure is transient. What the store refuses
    /// for good (credentials, permission, bucket) becomes <see cref="MdmaiErrorCode.RemoteAccess"/> at once; other
    /// refusals (404, 412, 416) go to the caller as they are.
    /// </summary>
    private async Task<T> SendAsync<T>(RequestKind kind, string name, Func<Watchdog, CancellationToken, Task<T>> attempt, CancellationToken cancellationToken)
    {
        for (var tries = 1; ; tries++)
        {
            Count(kind);
            using var watchdog = new Watchdog(_options.StallTimeout, cancellationToken);
            Exception failure;
            try
            {
                return await attempt(watchdog, watchdog.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested && watchdog.Fired)
            {
                failure = new TimeoutException($"No byte moved for {_options.StallTimeout.TotalSeconds:0.#} s.", ex);
            }
            catch (AmazonS3Exception ex) when (Refusal(ex) is { } refusal)
            {
                throw new MdmaiException(MdmaiErrorCode.RemoteAccess, $"{refusal} ({Endpoint}, {Location}: {ex.ErrorCode}).", ex);
            }
            catch (AmazonClientException ex) when (ex.Message.Contains("credentials", StringComparison.OrdinalIgnoreCase))
            {
                throw new MdmaiException(MdmaiErrorCode.RemoteAccess,
                    $"No credentials for {Location}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with the shared credentials file.", ex);
            }
            catch (Exception ex) when (IsTransient(ex, cancellationToken))
            {
                failure = ex;
            }

            if (tries >= _options.MaxAttempts)
            {
                throw new MdmaiException(MdmaiErrorCode.RemoteUnavailable,
                    $"The object store at {Endpoint} did not complete a {kind.ToString().ToUpperInvariant()} of '{name}' in {tries} tries: {Describe(failure)}. Nothing half-written is left; try again when the connection is back.", failure);
            }

            await Task.Delay(Backoff(tries), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Full jitter: a uniform delay up to base·2^(tries-1), capped at 20 s.</summary>
    internal TimeSpan Backoff(int tries)
    {
        var ceiling = Math.Min(20_000, _options.RetryBaseDelay.TotalMilliseconds * Math.Pow(2, Math.Min(tries - 1, 16)));
        return TimeSpan.FromMilliseconds(Jitter.NextDouble() * ceiling);
    }

    private void Count(RequestKind kind)
    {
        switch (kind)
        {
            case RequestKind.Put: Interlocked.Increment(ref _put); break;
            case RequestKind.Get: Interlocked.Increment(ref _get); break;
            case RequestKind.List: Interlocked.Increment(ref _list); break;
            case RequestKind.Head: Interlocked.Increment(ref _head); break;
            default: Interlocked.Increment(ref _delete); break;
        }
    }

    /// <summary>What a refusal for good says, or null for a failure that may pass or that the caller handles.</summary>
    private string? Refusal(AmazonS3Exception ex) => ex.ErrorCode switch
    {
        "InvalidAccessKeyId" => "The object store does not know this access key (AWS_ACCESS_KEY_ID)",
        "SignatureDoesNotMatch" => "The object store refused the secret key (AWS_SECRET_ACCESS_KEY)",
        "ExpiredToken" or "TokenRefreshRequired" or "InvalidToken" => "The credentials' session token has expired or is invalid (AWS_SESSION_TOKEN)",
        "AccessDenied" or "AllAccessDisabled" => "These credentials are not allowed to do this on the bucket",
        "NoSuchBucket" => $"There is no bucket '{Bucket}'",
        "InvalidBucketName" => $"'{Bucket}' is not a valid bucket name",
        _ when ex.StatusCode == HttpStatusCode.Forbidden => "The object store refused these credentials",
        _ => null,
    };

    private static bool IsTransient(Exception ex, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return false;
        }

        if (ex is AmazonS3Exception s3)
        {
            var status = (int)s3.StatusCode;
            return status >= 500 || status is 408 or 429 || s3.ErrorCode is "SlowDown" or "RequestTimeout" or "Throttling" or "OperationAborted" or "ConditionalRequestConflict"
                || (status == 0 && s3.InnerException is not null && IsTransient(s3.InnerException, cancellationToken));
        }

        return ex switch
        {
            HttpRequestException or IOException or System.Net.Sockets.SocketException or TimeoutException => true,
            OperationCanceledException => true, // HttpClient's own timeout, the caller's token being live
            AmazonServiceException { InnerException: { } inner } => IsTransient(inner, cancellationToken),
            AmazonClientException { InnerException: { } inner } => IsTransient(inner, cancellationToken),
            _ => false,
        };
    }

    private static string Describe(Exception ex) => ex switch
    {
        AmazonS3Exception s3 => $"{(int)s3.StatusCode} {s3.ErrorCode}",
        _ when ex.InnerException is { } inner && ex is AmazonServiceException => Describe(inner),
        _ => ex.Message,
    };

    private string Key(string name)
    {
        BackendNames.Validate(name);
        return _prefix + name;
    }

    private static FileNotFoundException Missing(string name) => new($"The repository has no '{name}'.", name);

    private static (string Bucket, string Prefix) ParseLocation(string location)
    {
        ArgumentNullException.ThrowIfNull(location);
        if (!Configuration.RepositoryLocations.IsS3(location))
        {
            throw new MdmaiException(MdmaiErrorCode.InvalidArgument, $"'{location}' is not an S3 repository URL (s3://BUCKET/PREFIX).");
        }

        var rest = location["s3://".Length..].Trim('/');
        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        var bucket = slash < 0 ? rest : rest[..slash];
        var prefix = slash < 0 ? "" : rest[(slash + 1)..].Trim('/');
        if (bucket.Length is < 3 or > 63 || !bucket.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-' or '.'))
        {
            throw new MdmaiException(MdmaiErrorCode.InvalidArgument, $"'{location}': the bucket name must be 3 to 63 lowercase letters, digits, '-' or '.'.");
        }

        if (prefix.Length > 0)
        {
            BackendNames.Validate(prefix);
        }

        return (bucket, prefix);
    }
}
