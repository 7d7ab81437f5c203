#!/usr/bin/env bash
# The reliability suite at full size (docs/reliability.md): SIGKILL crash trials, seeded corruption sweeps and the
# 16-client load test run longer than in CI. Prints each trial and case, then the figures.
#
#   scripts/reliability.sh                 # 50 crash trials, 5 sweep rounds (150 cases), 30 s of load
#   TRIALS=200 SWEEP_SEEDS=20 LOAD_SECONDS=60 SEED=3 scripts/reliability.sh
#
# Builds and runs under the shared build lock (MDMAI_BUILD_LOCK, default /tmp/mdmai-build.lock) so it never
# competes with a benchmark or another build on the same machine. Exit status 0 only when every trial is ok, no
# acknowledged write is lost, every corruption is detected and repaired or reported, and the load test passes.
set -euo pipefail
cd "$(dirname "$0")/.."

TRIALS=${TRIALS:-50}
SEED=${SEED:-1}
SWEEP_SEEDS=${SWEEP_SEEDS:-5}
LOAD_SECONDS=${LOAD_SECONDS:-30}
LOCK=${MDMAI_BUILD_LOCK:-/tmp/mdmai-build.lock}
PROJECT=tests/Mdmai.DataManager.Tests
DLL=$PROJECT/bin/Debug/net10.0/Mdmai.DataManager.Tests.dll
OUT=$(mktemp -d -t mdmai-reliability-XXXXXX)
trap 'rm -rf "$OUT"' EXIT

flock "$LOCK" dotnet build "$PROJECT" -v quiet -nologo
status=0

echo "== crash consistency: $TRIALS SIGKILL trials (seed $SEED)"
flock "$LOCK" dotnet "$DLL" crash-trials --trials "$TRIALS" --seed "$SEED" | tee "$OUT/crash.txt" || status=1

echo "== corruption sweep: $SWEEP_SEEDS round(s) of 30 cases (seed $SEED)"
flock "$LOCK" dotnet "$DLL" corruption-sweep --seeds "$SWEEP_SEEDS" --seed "$SEED" | tee "$OUT/sweep.txt" || status=1

echo "== load: 16 clients for $LOAD_SECONDS s"
MDMAI_LOAD_SECONDS=$LOAD_SECONDS flock "$LOCK" dotnet test "$PROJECT" --no-build --nologo \
    --filter "FullyQualifiedName~Reliability.LoadTests" --logger "console;verbosity=detailed" > "$OUT/load.txt" 2>&1 || status=1
grep -E "clients,|ops/s" "$OUT/load.txt" | sed 's/^ *//' || true
grep -E "^\s*(Passed|Failed)!?" "$OUT/load.txt" | tail -1 || true

echo "== figures"
echo "crash: $(grep -E '^trials=' "$OUT/crash.txt" || echo 'no summary')"
echo "sweep: $(grep -E '^cases=' "$OUT/sweep.txt" || echo 'no summary')"
echo "load:  $(grep -E 'clients,' "$OUT/load.txt" | sed 's/^ *//' || echo 'no summary')"
exit $status
