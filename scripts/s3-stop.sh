#!/usr/bin/env bash
# Stops the S3 server scripts/s3-start.sh started: the gateway, then the OSD, then the monitor, each by the PID in
# its pid file under $MDMAI_S3_DIR/run and only when that PID is still a Ceph daemon (TERM, KILL after 30 s).
# MDMAI_S3_PURGE=1 deletes the data as well.
set -uo pipefail
dir=${MDMAI_S3_DIR:-/var/tmp/mdmai-s3}
# Not while s3-start.sh works on the same folder (it holds this lock, and says so when it runs this script itself).
if [ -z "${MDMAI_S3_LOCK_HELD:-}" ] && [ -d "$(dirname "$dir")" ]; then
  exec 9>"$dir.lock"
  flock 9
fi

. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/s3-common.sh"

stop() {
  local file="$dir/run/ceph-$1.pid" pid i
  [ -s "$file" ] || return 0
  pid=$(cat "$file")
  if alive "$pid"; then
    case "$(cat "/proc/$pid/comm" 2>/dev/null)" in
      ceph-mon|ceph-osd|radosgw)
        echo "s3-stop: stopping $1 (pid $pid)" >&2
        kill -TERM "$pid" 2>/dev/null
        for ((i = 0; i < 150; i++)); do alive "$pid" || break; sleep 0.2; done
        alive "$pid" && kill -KILL "$pid" 2>/dev/null
        ;;
      *) echo "s3-stop: pid $pid of $file is no Ceph daemon now: left alone" >&2 ;;
    esac
  fi
  rm -f "$file"
}

if [ -d "$dir/run" ]; then
  stop client.rgw.a
  stop osd.0
  stop mon.a
fi
[ "${MDMAI_S3_PURGE:-0}" = 1 ] && rm -rf "$dir"
exit 0
