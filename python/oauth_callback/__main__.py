"""`oauth-callback ...` (the script pip installs) and `python -m
oauth_callback ...`: the command line of the standalone binary, compiled into
the extension: the same flags, output, exit codes, signals and terminal
behaviour."""

import signal
import sys

from . import _native


def main() -> None:
    # The command line handles its own signals (Ctrl-C is exit 130, after a
    # result it still prints it): Python's KeyboardInterrupt must not.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    sys.exit(_native.run_cli(["oauth-callback", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
