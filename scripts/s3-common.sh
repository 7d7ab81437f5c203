# Sourced by s3-start.sh and s3-stop.sh.
# A PID that is alive and not a zombie: a daemon that has exited stays a zombie until its parent reaps it, and where
# that parent is an init that never does, kill -0 alone calls it alive (the stop then waited 30 s for each daemon,
# long enough for a test host's own wait to run out and the daemons to be left running).
alive() {
  kill -0 "$1" 2>/dev/null || return 1
  local state
  state=$(sed -E 's/^[0-9]+ \(.*\) ([A-Za-z]).*/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
  [ "$state" != Z ]
}
