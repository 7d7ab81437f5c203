#!/usr/bin/env bash
# Adds every public symbol the build reports as undeclared (RS0016) to PublicAPI.Unshipped.txt.
# Review the diff: it is the change to the library's public surface.
set -euo pipefail
cd "$(dirname "$0")/../src/Mdmai.DataManager"
new=$(dotnet build --no-incremental 2>&1 | grep "error RS0016" | sed -E "s/.*Symbol '(.*)' is not part of the declared public API.*/\1/" | sort -u || true)
[ -n "$new" ] || { echo "public API file is up to date"; exit 0; }
{ echo "#nullable enable"; { tail -n +2 PublicAPI.Unshipped.txt; printf '%s\n' "$new"; } | sort -u; } > PublicAPI.Unshipped.txt.new
mv PublicAPI.Unshipped.txt.new PublicAPI.Unshipped.txt
printf 'added %s symbol(s)\n' "$(printf '%s\n' "$new" | wc -l)"
