# Sourced by scripts/test and scripts/release: each step's time, printed as it
# ends and again, with the total, at the end (and the failed step's name).
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
trap 'status=$?; failed=$CURRENT; [ $status -eq 0 ] || { summary; echo "FAILED in: $failed" >&2; }' EXIT
