"""Static checks of a built wheel for one Rust target: what it holds, the
extension's architecture, what it links against (no libpython; on Linux only
the libraries its platform tag allows), and (Linux) the platform tag
auditwheel finds (glibc). Exits non-zero, saying why, on the first failure.

    check_wheel.py WHEEL [--target TRIPLE]   (default x86_64-unknown-linux-gnu)
"""

import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Dict, FrozenSet, List, NamedTuple, NoReturn, Set

PACKAGE_FILES = ["__init__.py", "__main__.py", "_asyncio.py", "_errors.py", "_server.py",
                 "_native.pyi", "_trust.py", "py.typed"]
GLIBC_LIBRARIES = {"libc.so.6", "libm.so.6", "libgcc_s.so.1", "libpthread.so.0", "libdl.so.2", "librt.so.1"}
"""What a manylinux extension may link against besides the loader (no libpython)."""
WINDOWS_PYTHON_DLLS = {"python3.dll"}


class Linux(NamedTuple):
    """What a Linux target's wheel must be."""
    machine: str
    """readelf's name of the ELF machine."""
    libraries: FrozenSet[str]
    """The shared libraries the extension may link against."""
    tag: str
    """The platform tag auditwheel must find (PEP 600 manylinux, PEP 656 musllinux)."""


LINUX: Dict[str, Linux] = {
    "x86_64-unknown-linux-gnu": Linux("Advanced Micro Devices X86-64",
                                      frozenset(GLIBC_LIBRARIES | {"ld-linux-x86-64.so.2"}), "manylinux_2_17_x86_64"),
    "aarch64-unknown-linux-gnu": Linux("AArch64", frozenset(GLIBC_LIBRARIES | {"ld-linux-aarch64.so.1"}),
                                       "manylinux_2_17_aarch64"),
    # musl's loader answers for libc.so (zig's name) and libc.musl-ARCH.so.1 (Alpine's) itself.
    "x86_64-unknown-linux-musl": Linux("Advanced Micro Devices X86-64",
                                       frozenset({"libc.so", "libc.musl-x86_64.so.1"}), "musllinux_1_2_x86_64"),
    "aarch64-unknown-linux-musl": Linux("AArch64", frozenset({"libc.so", "libc.musl-aarch64.so.1"}),
                                        "musllinux_1_2_aarch64"),
}
WINDOWS = "x86_64-pc-windows-gnu"


def fail(why: str) -> NoReturn:
    sys.exit(f"check_wheel: {why}")


def run(command: List[str]) -> str:
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def main() -> None:
    arguments = sys.argv[1:]
    if len(arguments) not in (1, 3) or (len(arguments) == 3 and arguments[1] != "--target"):
        fail("usage: check_wheel.py WHEEL [--target TRIPLE]")
    wheel, target = Path(arguments[0]), arguments[2] if len(arguments) == 3 else "x86_64-unknown-linux-gnu"
    if target != WINDOWS and target not in LINUX:
        fail(f"no expectations for {target}: {sorted(LINUX) + [WINDOWS]}")
    windows = target == WINDOWS
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
            if windows:
                check_windows(wheel, extension)
            else:
                check_linux(wheel, extension, LINUX[target])
    print(f"check_wheel: {wheel.name}: {extensions[0]} checked")


def elf_needs(path: Path, machine: str) -> Set[str]:
    """The shared libraries an ELF file needs, after checking it is one for
    `machine` (readelf's name); tests/binaries/check.py uses it too.

    Raises ValueError when it is not, each caller reporting it its own way."""
    header = run(["readelf", "-h", str(path)])
    if not re.search(rf"Machine:\s+{re.escape(machine)}\n", header):
        raise ValueError(f"{path.name} is not an ELF file for {machine}:\n{header}")
    return set(re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", run(["readelf", "-d", str(path)])))


def check_linux(wheel: Path, extension: Path, expected: Linux) -> None:
    try:
        needed = elf_needs(extension, expected.machine)
    except ValueError as error:
        fail(str(error))
    if any(library.startswith("libpython") for library in needed):
        fail(f"{extension.name} links against libpython: {sorted(needed)}")
    if not needed <= expected.libraries:
        fail(f"{extension.name} links against {sorted(needed - expected.libraries)}")
    if not wheel.name.endswith(f"{expected.tag}.whl"):
        fail(f"{wheel.name} is not tagged {expected.tag}")
    if expected.tag.startswith("musllinux"):
        # pypa's auditwheel wants Alpine's name for musl (libc.musl-ARCH.so.1)
        # and looks it up on this glibc machine; zig names it libc.so, which
        # musl's loader answers itself, as it does every name of its own, and
        # which maturin's audit (the tag above) and the musllinux policy allow
        # (musl's ldso/dynlink.c, load_library: the reserved names).
        print(f"check_wheel: {expected.tag} (maturin's audit); links against {sorted(needed)}")
        return
    shown = run(["auditwheel", "show", str(wheel)])
    if f'"{expected.tag}"' not in shown:
        fail(f"auditwheel does not find the {expected.tag} tag consistent:\n{shown}")
    print(f"check_wheel: auditwheel: {expected.tag}; links against {sorted(needed)}")


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
