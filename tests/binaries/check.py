#!/usr/bin/env python3
"""A standalone oauth-callback binary, black-box, as a user runs it, driven
from the Linux side: help, the ready line, real HTTPS callbacks (ad hoc and
PEM certificates) answered to a Linux client, the JSON line on stdout, exit
codes 0 / 2 / 124, a port in use, file paths with spaces and non-ASCII
characters, `trust --status`, and (Linux) a first start that compiles
nothing: the embedded handler is precompiled for the binary's architecture,
so no compilation cache is written. With --target (Linux), first the ELF
file itself: its architecture, and static (musl) or needing nothing newer
than glibc 2.17 (gnu: manylinux2014's floor) and only glibc's libraries.

    check.py BINARY [--target TRIPLE]            runs it here
    check.py BINARY --qemu ARCH [--ld-prefix DIR]  under qemu-user (qemu-ARCH-static)
    check.py BINARY --wine                       a Windows .exe under Wine

scripts/release runs every artifact it builds: the Windows .exe under Wine,
the arm64 ones under qemu (a glibc one finding its loader and libc in
--ld-prefix, e.g. /usr/aarch64-linux-gnu from libc6-arm64-cross).

Wine 8.0 lacks bcryptprimitives.dll (Rust's std imports ProcessPrng from it):
a stand-in built from tests/windows/bcryptprimitives.c (mingw-w64) is put
beside the .exe, in the test's directory only.
"""
import argparse
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import sys
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))
from check_wheel import LINUX, elf_needs  # noqa: E402  (each Linux target's ELF machine and libraries)

GLIBC_FLOOR = (2, 17)

INSECURE = ssl._create_unverified_context()  # ad hoc and self-made certificates, loopback only
LIMIT = 120  # seconds for one process: Wine's first start sets up its prefix, qemu is slow


class Runner:
    """Runs the binary on this machine, with a home of its own (the local CA,
    the compilation cache) inside the test's directory."""

    name = "here"

    def __init__(self, scratch):
        self.home = Path(scratch) / "home"
        self.home.mkdir()
        self.env = dict(os.environ, HOME=str(self.home), XDG_CACHE_HOME=str(self.home / "cache"),
                        XDG_DATA_HOME=str(self.home / "data"), XDG_CONFIG_HOME=str(self.home / "config"))

    def command(self, exe, args):
        return [str(exe), *args]

    def path(self, path):
        return str(path)

    def install(self, built, folder):
        exe = folder / built.name
        shutil.copy(built, exe)
        return exe

    def compilation_cache(self):
        """The directory where a compiled handler would be cached."""
        return self.home / "cache" / "oauth-callback"

    def trust_status_lines(self):
        return ["local CA: none", "system ("]


class Qemu(Runner):
    """Another architecture's Linux binary under qemu-user, invoked directly."""

    def __init__(self, scratch, arch, ld_prefix):
        super().__init__(scratch)
        self.name = f"qemu-{arch}"
        self.emulator = shutil.which(f"qemu-{arch}-static") or f"qemu-{arch}-static"
        if ld_prefix:
            self.env["QEMU_LD_PREFIX"] = ld_prefix

    def command(self, exe, args):
        return [self.emulator, str(exe), *args]


class Wine(Runner):
    """A Windows .exe under Wine (its prefix in target/wine, kept between runs)."""

    name = "Wine"

    def __init__(self, scratch):
        self.env = dict(os.environ, WINEDEBUG="-all")
        self.env.setdefault("WINEPREFIX", str(Path(__file__).resolve().parents[2] / "target" / "wine"))

    def command(self, exe, args):
        return ["wine", str(exe), *args]

    def path(self, path):
        return subprocess.run(["winepath", "-w", str(path)], env=self.env, capture_output=True, text=True,
                              check=True).stdout.strip()

    def install(self, built, folder):
        source = Path(__file__).resolve().parents[1] / "windows" / "bcryptprimitives.c"
        subprocess.run(["x86_64-w64-mingw32-gcc", "-shared", "-O2", "-o", str(folder / "bcryptprimitives.dll"),
                        str(source), "-ladvapi32"], check=True)
        return super().install(built, folder)

    def compilation_cache(self):
        return None  # in Wine's %LOCALAPPDATA%; the .exe is built on its own architecture

    def trust_status_lines(self):
        # Wine has no certutil: the store is listed as not present, and the
        # command still answers (no local CA in Wine's %LOCALAPPDATA% yet).
        return ["local CA: none", "Windows, current user: "]


def elf_file(binary, target):
    """The binary's architecture, and what it needs of the system's libraries."""
    expected = LINUX[target]
    needed = elf_needs(binary, expected.machine)
    if target.endswith("-musl"):
        assert not needed, f"a musl binary must be static; it needs {sorted(needed)}"
        return "static"
    assert needed <= expected.libraries, f"needs {sorted(needed - expected.libraries)}"
    symbol_versions = subprocess.run(["readelf", "-V", str(binary)], capture_output=True, text=True,
                                     check=True).stdout
    versions = {tuple(int(n) for n in v.split(".")) for v in re.findall(r"Name: GLIBC_([0-9.]+)", symbol_versions)}
    newest = max(versions)
    assert newest <= GLIBC_FLOOR, f"needs glibc {'.'.join(map(str, newest))}, newer than 2.17"
    return f"needs glibc {'.'.join(map(str, newest))} or newer"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binary", type=Path)
    runners = parser.add_mutually_exclusive_group()
    runners.add_argument("--qemu", metavar="ARCH", help="run under qemu-ARCH-static (e.g. aarch64)")
    runners.add_argument("--wine", action="store_true", help="run a Windows .exe under Wine")
    parser.add_argument("--ld-prefix", metavar="DIR", help="QEMU_LD_PREFIX: the loader and libc of a glibc binary")
    parser.add_argument("--target", choices=sorted(LINUX), help="check the ELF file for this Linux target first")
    options = parser.parse_args()
    if options.target:
        print(f"ok   ELF file for {options.target}: {elf_file(options.binary, options.target)}", flush=True)

    with tempfile.TemporaryDirectory(prefix="binary check é ") as scratch:
        if options.wine:
            runner = Wine(scratch)
        elif options.qemu:
            runner = Qemu(scratch, options.qemu, options.ld_prefix)
        else:
            runner = Runner(scratch)
        folder = Path(scratch) / "Program Files é"
        folder.mkdir()
        exe = runner.install(options.binary, folder)

        def run(*args):
            return subprocess.run(runner.command(exe, args), env=runner.env, capture_output=True, text=True,
                                  timeout=LIMIT, stdin=subprocess.DEVNULL)

        def start(*args):
            process = subprocess.Popen(runner.command(exe, args), env=runner.env, stdin=subprocess.DEVNULL,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            deadline = time.monotonic() + LIMIT
            seen = []
            while time.monotonic() < deadline:
                line = process.stderr.readline()
                if not line:
                    break
                seen.append(line)
                if line.startswith("listening on "):
                    return process, line.split()[-1]
            process.kill()
            raise AssertionError(f"no ready line from {exe} {args}: {''.join(seen)}")

        def callback_completes(*tls_args):
            process, uri = start("--port", "0", "--timeout", "60", *tls_args)
            assert uri.startswith("https://127.0.0.1:") and uri.endswith("/callback"), uri
            with urllib.request.urlopen(f"{uri}?code=from-linux&state=s", context=INSECURE,
                                        timeout=30) as response:
                status, page = response.status, response.read().decode()
            assert status == 200 and "Credentials received successfully" in page, page
            stdout, stderr = process.communicate(timeout=LIMIT)
            assert process.returncode == 0, (process.returncode, stderr)
            result = json.loads(stdout.strip().splitlines()[-1])
            assert result["params"] == {"code": "from-linux", "state": "s"}, result
            assert result["method"] == "GET" and result["path"] == "/callback", result

        checks = []

        def check(name, test):
            started = time.monotonic()
            test()
            checks.append(f"ok   {name} ({time.monotonic() - started:.1f} s)")
            print(checks[-1], flush=True)

        def help_text():
            shown = run("--help")
            assert shown.returncode == 0 and "Usage: oauth-callback" in shown.stdout, shown

        def first_start_compiles_nothing():
            callback_completes("--adhoc-ssl")
            cache = runner.compilation_cache()
            if cache is not None:
                written = sorted(p.name for p in cache.iterdir()) if cache.exists() else []
                assert written == [], f"the first start compiled the handler: {written} in {cache}"

        def pem():
            cert, key = folder / "cert é.pem", folder / "key é.pem"
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                            "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
                            "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
            callback_completes("--ssl-cert", runner.path(cert), "--ssl-key", runner.path(key))

        def bad_usage():
            refused = run("--timeout", "0")
            assert refused.returncode == 2 and "invalid --timeout" in refused.stderr, refused
            missing = run("--ssl-cert", runner.path(folder / "none é.pem"), "--ssl-key", "k.pem")
            assert missing.returncode == 2 and "none é.pem" in missing.stderr, missing

        def timeout():
            waited = run("--port", "0", "--timeout", "1")
            assert waited.returncode == 124 and waited.stdout == "", waited

        def port_in_use():
            with socket.socket() as busy:
                busy.bind(("127.0.0.1", 0))
                busy.listen()
                taken = run("--port", str(busy.getsockname()[1]))
                assert taken.returncode == 2 and "already in use" in taken.stderr, taken

        def trust_status():
            status = run("trust", "--status")
            assert status.returncode == 0, status
            for line in runner.trust_status_lines():
                assert line in status.stdout, (line, status)

        check("--help", help_text)
        check("trust --status", trust_status)
        check("HTTPS callback, ad hoc certificate; the first start compiles nothing", first_start_compiles_nothing)
        check("HTTPS callback, PEM files (spaces and é in the paths)", pem)
        check("exit 2 on bad usage, one line naming the file", bad_usage)
        check("exit 124 after the timeout", timeout)
        check("a port in use is exit 2 with one line", port_in_use)
    print(f"{len(checks)} checks of {options.binary} passed ({runner.name})")


if __name__ == "__main__":
    main()
