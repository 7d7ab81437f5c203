#!/usr/bin/env bash
# Starts the project's S3 server for tests and benchmarks: a real single-node Ceph cluster (one monitor, one
# OSD on a sparse bluestore file, no manager) with its RADOS Gateway, every socket on 127.0.0.1. Debian's Ceph
# 16.2 packages are installed when missing (needs root). Everything lives under $MDMAI_S3_DIR; nothing goes to
# /etc/ceph or /var/lib/ceph, no systemd. Findings behind each setting: docs/s3.md ("The test server").
#
# stdout: only shell assignments (eval them), the same as $MDMAI_S3_DIR/env:
#   MDMAI_TEST_S3_ENDPOINT, MDMAI_TEST_S3_ACCESS_KEY, MDMAI_TEST_S3_SECRET_KEY, MDMAI_TEST_S3_DIR, and the keys of a
#   second user that owns nothing (MDMAI_TEST_S3_APPEND_ACCESS_KEY/_SECRET_KEY): the tests grant it, by a bucket
#   policy, what append-only credentials may do.
# Progress goes to stderr. Running it again while the server answers only prints the lines again; a stopped
# cluster is restarted on its data; MDMAI_S3_FRESH=1 wipes and re-creates it. Stop it with scripts/s3-stop.sh.
#
# Settings: MDMAI_S3_DIR (/var/tmp/mdmai-s3), MDMAI_S3_PORT (7480), MDMAI_S3_MON_PORT (3300), MDMAI_S3_BLOCK_GB (64: the
# OSD's sparse block file; only what is stored takes disk space).
set -euo pipefail

dir=${MDMAI_S3_DIR:-/var/tmp/mdmai-s3}
port=${MDMAI_S3_PORT:-7480}
mon_port=${MDMAI_S3_MON_PORT:-3300}
# Fixed, test-only credentials: the server is reachable from this machine only and holds throwaway data.
access_key=MDMAITESTACCESSKEY01
secret_key=mdmai-test-secret-key-not-a-real-secret-0001
append_access_key=MDMAITESTAPPENDKEY01
append_secret_key=mdmai-test-append-only-key-not-a-secret-01
endpoint="http://127.0.0.1:$port"
conf="$dir/ceph.conf"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
started=$SECONDS

say() { echo "s3-start: $*" >&2; }
fail() { say "$*"; exit 1; }

install_missing() {
  local wanted=() pair
  for pair in ceph-mon:ceph-mon ceph-osd:ceph-osd radosgw:radosgw radosgw-admin:radosgw ceph:ceph-common \
              monmaptool:ceph-base ceph-authtool:ceph-common uuidgen:uuid-runtime curl:curl; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || wanted+=("${pair#*:}")
  done
  [ ${#wanted[@]} -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || fail "Ceph is not installed and installing it needs root: apt-get install ceph-mon ceph-osd radosgw"
  say "installing ${wanted[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 || true
  apt-get install -y -qq --no-install-recommends ceph-mon ceph-osd radosgw ceph-common ceph-base uuid-runtime curl >&2
}

. "$here/s3-common.sh"

# The live PID of a daemon from its pid file, only when that PID is still a Ceph daemon (not a reused PID).
daemon_pid() {
  local file="$dir/run/ceph-$1.pid" pid
  [ -s "$file" ] || return 1
  pid=$(cat "$file")
  alive "$pid" || return 1
  case "$(cat "/proc/$pid/comm" 2>/dev/null)" in ceph-mon|ceph-osd|radosgw) echo "$pid" ;; *) return 1 ;; esac
}

ceph_cli() { timeout 60 ceph -c "$conf" "$@"; }
answers() { curl -fsS -m 3 -o /dev/null "$endpoint/" 2>/dev/null; }
# Runs a probe until it succeeds or the seconds have passed (by the clock: a probe that hangs until its own timeout
# must not multiply the wait).
await() {
  local seconds=$1 end
  shift
  end=$((SECONDS + seconds))
  while ((SECONDS < end)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  return 1
}

# Probes that start their daemon again when it is gone: an s3-stop.sh still running (a test run that ended just
# before this one) may end a daemon that this script found alive and meant to use.
ceph_probe() { timeout 10 ceph -c "$conf" "$@"; }
# The daemons do not inherit the lock's descriptor (9): a daemon holding it would hold the lock for its lifetime.
mon_up() { daemon_pid mon.a >/dev/null || ceph-mon -c "$conf" -i a 9>&-; ceph_probe mon stat; }
osd_running_up() { daemon_pid osd.0 >/dev/null || ceph-osd -c "$conf" -i 0 9>&-; ceph_probe osd dump 2>/dev/null | grep -q '^osd\.0 up'; }
rgw_answers() { daemon_pid client.rgw.a >/dev/null || radosgw -c "$conf" -n client.rgw.a 9>&-; answers; }

print_env() {
  {
    echo "MDMAI_TEST_S3_ENDPOINT=$endpoint"
    echo "MDMAI_TEST_S3_ACCESS_KEY=$access_key"
    echo "MDMAI_TEST_S3_SECRET_KEY=$secret_key"
    echo "MDMAI_TEST_S3_DIR=$dir"
    echo "MDMAI_TEST_S3_APPEND_ACCESS_KEY=$append_access_key"
    echo "MDMAI_TEST_S3_APPEND_SECRET_KEY=$append_secret_key"
  } | tee "$dir/env"
}

write_conf() {
  # Pool sizes of one and few placement groups: RGW makes ~8 pools, and at Ceph's default of 32 PGs each they
  # exceed the per-OSD limit and pool creation fails. msgr2 only, IPv4 loopback only.
  cat >"$conf" <<EOF
[global]
fsid = $1
mon_host = v2:127.0.0.1:$mon_port
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
public_network = 127.0.0.0/8
ms_bind_msgr1 = false
ms_bind_ipv6 = false
run_dir = $dir/run
pid_file = $dir/run/\$cluster-\$name.pid
admin_socket = $dir/run/\$cluster-\$name.asok
log_file = $dir/log/\$cluster-\$name.log
crash_dir = $dir/crash
log_to_stderr = false
err_to_stderr = false
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
osd_crush_chooseleaf_type = 0
mon_allow_pool_size_one = true
mon_max_pg_per_osd = 1000
mon_warn_on_pool_no_redundancy = false
mon_warn_on_insecure_global_id_reclaim_allowed = false
mon_data_avail_warn = 5

[mon]
mon_data = $dir/mon/\$cluster-\$id
keyring = \$mon_data/keyring

[osd]
osd_data = $dir/osd/\$cluster-\$id
keyring = \$osd_data/keyring
osd_objectstore = bluestore
# A sparse file in the OSD's folder (do not set bluestore_block_path to it: that makes a symlink to itself).
bluestore_block_create = true
bluestore_block_size = ${MDMAI_S3_BLOCK_GB:-64}000000000
bluestore_fsck_on_mount = false
bluestore_fsck_on_mkfs = false
osd_memory_target = 1073741824

[client]
keyring = $dir/client.keyring

[client.rgw.a]
rgw_data = $dir/rgw
rgw_frontends = beast endpoint=127.0.0.1:$port
rgw_dns_name = 127.0.0.1
debug_rgw = 0/0
# One JSON line per request (operation, bucket, user, status, bytes) in log/ops.log: the benchmark counts every
# tool's requests by kind from it, restic's and rclone's included. Not into RADOS: that would cost a write per request.
rgw_enable_ops_log = true
rgw_ops_log_rados = false
rgw_ops_log_file_path = $dir/log/ops.log
# Deleted objects' space back within a minute instead of two hours: the benchmark writes and drops gigabytes per run.
rgw_gc_obj_min_wait = 30
rgw_gc_processor_period = 60
EOF
}

start_daemons() {
  await 60 mon_up || fail "the monitor did not come up (logs in $dir/log)"
  await 120 osd_running_up || fail "the OSD did not come up (logs in $dir/log)"
  await 120 rgw_answers || fail "the gateway did not answer on $endpoint (logs in $dir/log)"
}

create_user() {
  if ! timeout 60 radosgw-admin -c "$conf" user info --uid=mdmai >/dev/null 2>&1; then
    timeout 60 radosgw-admin -c "$conf" user create --uid=mdmai --display-name="mdmai tests" \
      --access-key="$access_key" --secret-key="$secret_key" >/dev/null || fail "radosgw-admin user create failed"
  fi
  if ! timeout 60 radosgw-admin -c "$conf" user info --uid=mdmai-append >/dev/null 2>&1; then
    timeout 60 radosgw-admin -c "$conf" user create --uid=mdmai-append --display-name="mdmai append-only tests" \
      --access-key="$append_access_key" --secret-key="$append_secret_key" >/dev/null || fail "radosgw-admin user create (append-only) failed"
  fi
}

install_missing

# One start or stop at a time on a folder (the lock file sits beside it, as the folder itself may be re-created): a
# test run starting while the last one's s3-stop.sh is still ending the daemons would otherwise find them alive,
# answer "ready", and be left with a gateway whose monitor and OSD are gone. s3-stop.sh, run from here, is told.
mkdir -p "$(dirname "$dir")"
exec 9>"$dir.lock"
flock 9
export MDMAI_S3_LOCK_HELD=1

if [ "${MDMAI_S3_FRESH:-0}" = 1 ]; then
  MDMAI_S3_DIR="$dir" bash "$here/s3-stop.sh" >&2
  rm -rf "$dir"
fi

if [ -f "$dir/ready" ] && daemon_pid mon.a >/dev/null && daemon_pid osd.0 >/dev/null && daemon_pid client.rgw.a >/dev/null && answers; then
  create_user
  print_env
  exit 0
fi

if [ -f "$dir/ready" ]; then
  say "restarting the cluster in $dir"
  start_daemons
  create_user
else
  MDMAI_S3_DIR="$dir" bash "$here/s3-stop.sh" >&2
  for p in "$port" "$mon_port"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      fail "127.0.0.1:$p is taken by another process: set MDMAI_S3_PORT / MDMAI_S3_MON_PORT"
    fi
  done
  rm -rf "$dir"
  mkdir -p "$dir"/{run,log,crash,rgw,mon/ceph-a,osd/ceph-0}
  fsid=$(uuidgen)
  write_conf "$fsid"
  say "creating a cluster in $dir"
  ceph-authtool --create-keyring "$dir/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool --create-keyring "$dir/client.keyring" --gen-key -n client.admin \
    --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' >/dev/null
  ceph-authtool "$dir/mon.keyring" --import-keyring "$dir/client.keyring" >/dev/null
  monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon_port]" "$dir/monmap" >/dev/null
  ceph-mon -c "$conf" --mkfs -i a --monmap "$dir/monmap" --keyring "$dir/mon.keyring"
  ceph-mon -c "$conf" -i a 9>&-
  await 60 ceph_cli mon stat || fail "the monitor did not come up (logs in $dir/log)"
  osd_uuid=$(uuidgen)
  [ "$(ceph_cli osd new "$osd_uuid")" = 0 ] || fail "ceph osd new did not give id 0"
  # --no-mon-config: the OSD has no key yet to fetch its config from the monitor with.
  ceph-osd -c "$conf" -i 0 --mkfs --mkkey --no-mon-config --osd-uuid "$osd_uuid" 2>>"$dir/log/osd-mkfs.log" \
    || fail "ceph-osd --mkfs failed (logs in $dir/log)"
  ceph_cli auth add osd.0 osd 'allow *' mon 'allow profile osd' mgr 'allow profile osd' -i "$dir/osd/ceph-0/keyring" >/dev/null 2>&1
  ceph_cli auth get-or-create client.rgw.a mon 'allow rw' osd 'allow rwx' mgr 'allow rw' >>"$dir/client.keyring"
  start_daemons
  create_user
  touch "$dir/ready"
fi
say "ready at $endpoint after $((SECONDS - started)) s"
print_env
