#!/usr/bin/env bash
# Brings PublicAPI.Unshipped.txt in line with the code: adds every public symbol the build reports as
# undeclared (RS0016) and drops every declared one that no longer exists (RS0017).
# Review the diff: it is the change to the library's public surface.
set -euo pipefail
cd "$(dirname "$0")/../src/Mdmai.DataManager"
log=$(dotnet build --no-incremental 2>&1 || true)
added=$(printf '%s\n' "$log" | grep "error RS0016" | sed -E "s/.*Symbol '(.*)' is not part of the declared public API.*/\1/" | sort -u || true)
removed=$(printf '%s\n' "$log" | grep "error RS0017" | sed -E "s/.*Symbol '(.*)' is part of the declared API, but is either not public or could not be found.*/\1/" | sort -u || true)
{ echo "#nullable enable"; { tail -n +2 PublicAPI.Unshipped.txt | grep -vxF -f <(printf '%s\n' "$removed") || true; printf '%s\n' "$added"; } | grep -v '^$' | sort -u; } > PublicAPI.Unshipped.txt.new
mv PublicAPI.Unshipped.txt.new PublicAPI.Unshipped.txt
echo "added $(printf '%s' "$added" | grep -c . || true), removed $(printf '%s' "$removed" | grep -c . || true)"
