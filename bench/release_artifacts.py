#!/usr/bin/env python3
"""Figures for the release artifacts in dist/ (scripts/release builds them):
the ready time of each Linux binary (start to its `listening on` line), the
x86-64 ones run here and the arm64 ones under qemu-aarch64-static,
interleaved run by run; and, for scale, the arm64 glibc binary made to
compile a handler at start (`--handler`, the embedded one exported, with an
empty cache: what every first start would cost if the build had not
precompiled it for arm64). Then each artifact's size.

    bench/release_artifacts.py [--runs N]

Prints Markdown tables: medians, and ratios to the x86-64 glibc binary.
Emulation is slow; the point is that nothing compiles at start.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "dist"
GLIBC_ARM64 = "/usr/aarch64-linux-gnu"  # libc6-arm64-cross: the loader and libc of the arm64 glibc binary


def ready_seconds(command, env):
    """Seconds from spawning `command` to its ready line on stderr."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    try:
        for line in process.stderr:
            if line.startswith("listening on "):
                return time.perf_counter() - started
        raise RuntimeError(f"no ready line from {command}")
    finally:
        process.terminate()
        process.wait(timeout=30)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    options = parser.parse_args()
    qemu = shutil.which("qemu-aarch64-static")
    flags = ["--port", "0", "--timeout", "30", "--adhoc-ssl"]
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch)
        env = dict(os.environ, HOME=str(home), XDG_CACHE_HOME=str(home / "cache"), XDG_DATA_HOME=str(home / "data"))
        handler = home / "handler.wasm"
        subprocess.run([str(DIST / "x86_64-unknown-linux-gnu" / "oauth-callback"), "export-handler", str(handler)],
                       check=True)
        arm64_gnu = DIST / "aarch64-unknown-linux-gnu" / "oauth-callback"

        def uncached(command):
            def run():
                shutil.rmtree(home / "cache", ignore_errors=True)
                return command
            return run

        cases = {
            "x86_64-unknown-linux-gnu (here)":
                lambda: [str(DIST / "x86_64-unknown-linux-gnu" / "oauth-callback"), *flags],
            "x86_64-unknown-linux-musl (here)":
                lambda: [str(DIST / "x86_64-unknown-linux-musl" / "oauth-callback"), *flags],
            "aarch64-unknown-linux-gnu (qemu)":
                lambda: [qemu, "-L", GLIBC_ARM64, str(arm64_gnu), *flags],
            "aarch64-unknown-linux-musl (qemu)":
                lambda: [qemu, str(DIST / "aarch64-unknown-linux-musl" / "oauth-callback"), *flags],
            "aarch64-unknown-linux-gnu (qemu), compiling the handler at start":
                uncached([qemu, "-L", GLIBC_ARM64, str(arm64_gnu), *flags, "--handler", str(handler)]),
        }
        times = {name: [] for name in cases}
        for _ in range(options.runs):
            for name, command in cases.items():
                times[name].append(ready_seconds(command(), env))
    base = statistics.median(times["x86_64-unknown-linux-gnu (here)"])
    print(f"\nReady time, start to the ready line (median of {options.runs}, interleaved):\n")
    print("| binary | median | ratio to x86-64 glibc |\n|---|---:|---:|")
    for name, measured in times.items():
        median = statistics.median(measured)
        print(f"| {name} | {median * 1000:.1f} ms | {median / base:.1f}x |")
    print("\nSizes:\n\n| artifact | size |\n|---|---:|")
    for artifact in sorted(DIST.glob("*/*")):
        if artifact.name != "SHA256SUMS":
            print(f"| {artifact.parent.name}/{artifact.name} | {artifact.stat().st_size / 2**20:.1f} MiB |")


if __name__ == "__main__":
    main()
