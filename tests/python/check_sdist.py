"""What the sdist (pip's source build where no wheel fits) must hold: the
Python package, the extension's crate and every crate it builds from (the
library, the handler component's sources for its build script), the locked
workspace, and nothing of the repository beyond. Unpacks it and has cargo
resolve its workspace offline against its lock file. Exits non-zero, saying
why, on the first failure.

    check_sdist.py SDIST
"""

import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REQUIRED = [
    "pyproject.toml", "PKG-INFO", "Cargo.toml", "Cargo.lock",
    "oauth_callback/__init__.py", "oauth_callback/_native.pyi", "oauth_callback/py.typed",
    "python/Cargo.toml", "python/src/lib.rs", "python/src/server.rs",
    "host/Cargo.toml", "host/build.rs", "host/build/component.rs", "host/src/lib.rs",
    "host/src/cli.rs", "host/src/runtime/engine.rs", "host/wit/callback.wit",
    "guest/Cargo.toml", "guest/build.rs", "guest/src/lib.rs", "guest/rt/src/lib.rs",
    "guest/wit/callback.wit", "guest/assets/bridge.js",
]
FORBIDDEN_PARTS = {"target", ".git", "node_modules", "__pycache__"}
MAX_BYTES = 2 * 1024 * 1024


def fail(why: str) -> None:
    sys.exit(f"check_sdist: {why}")


def main() -> None:
    sdist = Path(sys.argv[1])
    if sdist.stat().st_size > MAX_BYTES:
        fail(f"{sdist.name} is {sdist.stat().st_size // 1024} KiB: more than the sources")
    with tarfile.open(sdist) as archive, tempfile.TemporaryDirectory() as scratch:
        members = archive.getnames()
        root = members[0].split("/")[0]
        names = {name[len(root) + 1:] for name in members}
        missing = [name for name in REQUIRED if name not in names]
        if missing:
            fail(f"{sdist.name} lacks {missing}")
        stray = sorted(name for name in names if FORBIDDEN_PARTS & set(name.split("/")))
        if stray:
            fail(f"{sdist.name} holds build or repository files: {stray[:5]}")
        archive.extractall(scratch, filter="data")
        manifest = Path(scratch, root, "python", "Cargo.toml")
        resolved = subprocess.run(
            ["cargo", "metadata", "--locked", "--offline", "--format-version", "1",
             "--manifest-path", str(manifest)],
            capture_output=True, text=True,
        )
        if resolved.returncode != 0:
            fail(f"cargo cannot resolve the sdist's workspace:\n{resolved.stderr}")
    print(f"check_sdist: {sdist.name}: {len(names)} files, {sdist.stat().st_size // 1024} KiB, "
          "workspace resolves offline against its lock file")


if __name__ == "__main__":
    main()
