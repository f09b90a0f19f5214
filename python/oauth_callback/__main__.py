"""`python -m oauth_callback ...` is the `oauth-callback` command: same flags,
same output, same exit codes."""

import os
import subprocess
import sys

from ._binary import find_binary


def main() -> None:
    binary = find_binary()
    if sys.platform == "win32":
        sys.exit(subprocess.call([binary, *sys.argv[1:]]))
    os.execv(binary, [binary, *sys.argv[1:]])


if __name__ == "__main__":
    main()
