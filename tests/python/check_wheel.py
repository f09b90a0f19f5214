"""Static checks of a built wheel (Linux, or Windows with --windows): what it
holds, what its extension links against, and (Linux) the platform tag
auditwheel finds. Exits non-zero, saying why, on the first failure.

    check_wheel.py WHEEL [--windows]
"""

import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import List, NoReturn

PACKAGE_FILES = ["__init__.py", "__main__.py", "_asyncio.py", "_errors.py", "_server.py",
                 "_native.pyi", "_trust.py", "py.typed"]
LINUX_LIBRARIES = {"libc.so.6", "libm.so.6", "libgcc_s.so.1", "libpthread.so.0", "libdl.so.2",
                   "librt.so.1", "ld-linux-x86-64.so.2"}
"""What an extension may link against (manylinux's base, no libpython)."""
WINDOWS_PYTHON_DLLS = {"python3.dll"}


def fail(why: str) -> NoReturn:
    sys.exit(f"check_wheel: {why}")


def run(command: List[str]) -> str:
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def main() -> None:
    wheel, windows = Path(sys.argv[1]), "--windows" in sys.argv[2:]
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        for name in PACKAGE_FILES:
            if f"oauth_callback/{name}" not in names:
                fail(f"{wheel.name} lacks oauth_callback/{name}")
        [entry_points] = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        declared = archive.read(entry_points).decode().replace(" ", "").splitlines()
        if "oauth-callback=oauth_callback.__main__:main" not in declared:
            fail("the oauth-callback console script is not declared")
        suffix = ".pyd" if windows else ".abi3.so"
        extensions = [n for n in names if n.startswith("oauth_callback/_native") and n.endswith(suffix)]
        if len(extensions) != 1:
            fail(f"expected one oauth_callback/_native*{suffix}, found {extensions}")
        with tempfile.TemporaryDirectory() as scratch:
            extension = Path(archive.extract(extensions[0], scratch))
            (check_windows if windows else check_linux)(wheel, extension)
    print(f"check_wheel: {wheel.name}: {extensions[0]} checked")


def check_linux(wheel: Path, extension: Path) -> None:
    header = run(["readelf", "-h", str(extension)])
    if "Advanced Micro Devices X86-64" not in header:
        fail(f"{extension.name} is not an x86-64 ELF file")
    needed = set(re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", run(["readelf", "-d", str(extension)])))
    if any(library.startswith("libpython") for library in needed):
        fail(f"{extension.name} links against libpython: {sorted(needed)}")
    if not needed <= LINUX_LIBRARIES:
        fail(f"{extension.name} links against {sorted(needed - LINUX_LIBRARIES)}")
    shown = run(["auditwheel", "show", str(wheel)])
    tag = re.search(r'"(manylinux_\d+_\d+_x86_64)"', shown)
    if tag is None or tag.group(1) != "manylinux_2_17_x86_64":
        fail(f"auditwheel finds no manylinux_2_17 (manylinux2014) tag:\n{shown}")
    print(f"check_wheel: auditwheel: {tag.group(1)}; links against {sorted(needed)}")


def check_windows(wheel: Path, extension: Path) -> None:
    if not wheel.name.endswith("-win_amd64.whl"):
        fail(f"{wheel.name} is not tagged win_amd64")
    dump = run(["x86_64-w64-mingw32-objdump", "-p", str(extension)])
    if "pei-x86-64" not in dump:
        fail(f"{extension.name} is not an x86-64 PE file")
    imported = {name.lower() for name in re.findall(r"DLL Name: (\S+)", dump)}
    pythons = {name for name in imported if name.startswith("python")}
    if pythons != WINDOWS_PYTHON_DLLS:
        fail(f"{extension.name} imports {sorted(pythons)} instead of python3.dll alone (abi3)")
    if not re.search(r"\bPyInit__native\b", dump):
        fail(f"{extension.name} does not export PyInit__native")
    print(f"check_wheel: imports {sorted(imported)}; exports PyInit__native")


if __name__ == "__main__":
    main()
