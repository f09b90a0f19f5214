"""Where the `oauth-callback` binary the wheel installed lives."""

import os
import shutil
import sys
import sysconfig
from pathlib import Path
from typing import List

EXECUTABLE = "oauth-callback" + (".exe" if sys.platform == "win32" else "")


def find_binary() -> str:
    """The binary: `$OAUTH_CALLBACK_BIN`, else the scripts directory of this
    Python (virtual environment, user or system install), else the `PATH`."""
    override = os.environ.get("OAUTH_CALLBACK_BIN")
    if override:
        return override
    for directory in _script_directories():
        candidate = directory / EXECUTABLE
        if candidate.is_file():
            return str(candidate)
    found = shutil.which(EXECUTABLE)
    if found:
        return found
    raise FileNotFoundError(
        f"the {EXECUTABLE} binary is not installed beside this package; "
        "reinstall the wheel (pip install --force-reinstall oauth-callback) or set OAUTH_CALLBACK_BIN"
    )


def _script_directories() -> List[Path]:
    directories = [Path(sysconfig.get_path("scripts")), Path(sys.executable).parent]
    user_scheme = "nt_user" if os.name == "nt" else "posix_user"
    try:
        directories.append(Path(sysconfig.get_path("scripts", scheme=user_scheme)))
    except KeyError:
        pass
    return directories
