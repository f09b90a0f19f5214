#!/bin/sh
# For the tests of `--cache keyring`: run inside `dbus-run-session`, it
# starts a Secret Service (gnome-keyring-daemon) with its login keyring
# unlocked (made on first use, under $XDG_DATA_HOME/keyrings), waits until
# the daemon owns its name on the bus, then runs the command it is given.
#
# The wait matters: the daemon answers `--unlock` before it has claimed
# org.freedesktop.secrets, and a call made in between has the bus start a
# second daemon (its D-Bus activation file), which prints its environment
# on the bus's stdout, the command's own, after the command's output.
eval "$(printf 'e2e-only' | gnome-keyring-daemon --unlock --components=secrets)"
export GNOME_KEYRING_CONTROL
owned() {
  dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
    org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets | grep -q 'boolean true'
}
tries=0
until owned; do
  tries=$((tries + 1))
  if [ "$tries" -gt 200 ]; then
    echo "with-keyring.sh: gnome-keyring-daemon never owned org.freedesktop.secrets (10 s)" >&2
    exit 1
  fi
  sleep 0.05
done
exec "$@"
