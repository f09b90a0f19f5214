# Sourced by scripts/test and scripts/release: each step's time, printed as it
# ends and again, with the total, at the end (and the failed step's name); and
# one command in the background beside them.
#
#   step "What runs next"   ends the current step and starts this one
#   summary                 ends the last step and prints the table
TIMES=""
CURRENT=""
STARTED=0
end_step() {
  if [ -n "$CURRENT" ]; then
    local took=$((SECONDS - STARTED))
    printf '<== [%ss] %s: %dm%02ds\n' "$SECONDS" "$CURRENT" $((took / 60)) $((took % 60))
    TIMES="$TIMES$(printf '%6ds  %s' "$took" "$CURRENT")"$'\n'
  fi
}
step() {
  end_step
  CURRENT="$*"
  STARTED=$SECONDS
  printf '\n==> [%ss] %s\n' "$SECONDS" "$*"
}
summary() {
  end_step
  CURRENT=""
  printf '\nStep times (seconds):\n%s%6ds  total\n' "$TIMES" "$SECONDS"
}

# One command may run in the background beside the steps, its output in a log
# file; it is waited for, or stopped (its whole process group) when the script
# ends first.
#   background LOG COMMAND...   start it
#   await_background            wait for it (nothing when none was started);
#                               on failure print the end of its log and fail
BACKGROUND_PID=""
BACKGROUND_LOG=""
BACKGROUND_STARTED=0
background() {
  BACKGROUND_LOG=$1
  shift
  BACKGROUND_STARTED=$SECONDS
  mkdir -p "$(dirname "$BACKGROUND_LOG")"
  # A process group of its own (job control on while it starts), so that it
  # can be stopped whole; but not a session of its own (setsid): with the
  # kernel's autogroups, a new session would get a full share of the CPU
  # whatever its niceness.
  set -m
  "$@" >"$BACKGROUND_LOG" 2>&1 &
  BACKGROUND_PID=$!
  set +m
  echo "Running in the background (output in $BACKGROUND_LOG): $*"
}
await_background() {
  [ -n "$BACKGROUND_PID" ] || return 0
  local pid=$BACKGROUND_PID status=0
  BACKGROUND_PID=""
  wait "$pid" || status=$?
  if [ $status -ne 0 ]; then
    tail -n 40 "$BACKGROUND_LOG" >&2
    echo "The background command failed (exit $status); its output: $BACKGROUND_LOG" >&2
    return $status
  fi
  echo "The background command took $((SECONDS - BACKGROUND_STARTED)) s from its start."
}
stop_background() {
  [ -z "$BACKGROUND_PID" ] || kill -- "-$BACKGROUND_PID" 2>/dev/null || true
}
trap 'status=$?; failed=$CURRENT; stop_background; [ $status -eq 0 ] || { summary; echo "FAILED in: $failed" >&2; }' EXIT
