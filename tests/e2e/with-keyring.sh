#!/bin/sh
# For the tests of `--cache keyring`: run inside `dbus-run-session`, it
# starts a Secret Service (gnome-keyring-daemon) with its login keyring
# unlocked (made on first use, under $XDG_DATA_HOME/keyrings), then runs
# the command it is given.
eval "$(printf 'e2e-only' | gnome-keyring-daemon --unlock --components=secrets)"
export GNOME_KEYRING_CONTROL
exec "$@"
