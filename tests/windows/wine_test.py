#!/usr/bin/env python3
"""The Windows build under Wine, driven from the Linux side: help, the ready
line, real HTTPS callbacks (ad hoc and PEM certificates) answered to a Linux
client, the JSON line on stdout, exit codes 0 / 2 / 124, a port in use, and
file paths with spaces and non-ASCII characters.

    wine_test.py OAUTH_CALLBACK_EXE BCRYPTPRIMITIVES_DLL

Wine 8.0 lacks bcryptprimitives.dll (Rust's std imports ProcessPrng from it):
the stand-in DLL built from bcryptprimitives.c is put beside the .exe here,
in the test's directory only.
"""
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

INSECURE = ssl._create_unverified_context()  # ad hoc and self-made certificates, loopback only
LIMIT = 120  # seconds for one Wine process; its first start sets up the prefix


def wine_env():
    env = dict(os.environ, WINEDEBUG="-all")
    env.setdefault("WINEPREFIX", str(Path(__file__).resolve().parents[2] / "target" / "wine"))
    return env


def windows_path(path):
    return subprocess.run(["winepath", "-w", str(path)], env=wine_env(), capture_output=True, text=True,
                          check=True).stdout.strip()


def run(exe, *args):
    return subprocess.run(["wine", str(exe), *args], env=wine_env(), capture_output=True, text=True,
                          timeout=LIMIT, stdin=subprocess.DEVNULL)


def start(exe, *args):
    process = subprocess.Popen(["wine", str(exe), *args], env=wine_env(), stdin=subprocess.DEVNULL,
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


def get(url):
    with urllib.request.urlopen(url, context=INSECURE, timeout=30) as response:
        return response.status, response.read().decode()


def callback_completes(exe, *tls_args):
    process, uri = start(exe, "--port", "0", "--timeout", "60", *tls_args)
    assert uri.startswith("https://127.0.0.1:") and uri.endswith("/callback"), uri
    status, page = get(f"{uri}?code=from-linux&state=s")
    assert status == 200 and "Credentials received successfully" in page, page
    stdout, stderr = process.communicate(timeout=LIMIT)
    assert process.returncode == 0, (process.returncode, stderr)
    result = json.loads(stdout.strip().splitlines()[-1])
    assert result["params"] == {"code": "from-linux", "state": "s"}, result
    assert result["method"] == "GET" and result["path"] == "/callback", result


def main():
    exe_built, dll = Path(sys.argv[1]), Path(sys.argv[2])
    with tempfile.TemporaryDirectory(prefix="wine test é ") as scratch:
        folder = Path(scratch) / "Program Files é"
        folder.mkdir()
        exe = folder / "oauth-callback.exe"
        shutil.copy(exe_built, exe)
        shutil.copy(dll, folder / "bcryptprimitives.dll")

        checks = []

        def check(name, test):
            started = time.monotonic()
            test()
            checks.append(f"ok   {name} ({time.monotonic() - started:.1f} s)")
            print(checks[-1], flush=True)

        def help_text():
            shown = run(exe, "--help")
            assert shown.returncode == 0 and "Usage: oauth-callback" in shown.stdout, shown

        def pem():
            cert, key = folder / "cert é.pem", folder / "key é.pem"
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                            "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
                            "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
            callback_completes(exe, "--ssl-cert", windows_path(cert), "--ssl-key", windows_path(key))

        def bad_usage():
            refused = run(exe, "--timeout", "0")
            assert refused.returncode == 2 and "invalid --timeout" in refused.stderr, refused
            missing = run(exe, "--ssl-cert", windows_path(folder / "none é.pem"), "--ssl-key", "k.pem")
            assert missing.returncode == 2 and "none é.pem" in missing.stderr, missing

        def timeout():
            waited = run(exe, "--port", "0", "--timeout", "1")
            assert waited.returncode == 124 and waited.stdout == "", waited

        def port_in_use():
            with socket.socket() as busy:
                busy.bind(("127.0.0.1", 0))
                busy.listen()
                port = str(busy.getsockname()[1])
                taken = run(exe, "--port", port)
                assert taken.returncode == 2 and "already in use" in taken.stderr, taken

        def trust_status():
            # Wine has no certutil: the store is listed as not present, and
            # the command still answers (the local CA lives in Wine's
            # %LOCALAPPDATA%, where there is none yet).
            status = run(exe, "trust", "--status")
            assert status.returncode == 0, status
            assert "local CA: none" in status.stdout, status
            assert "Windows, current user: " in status.stdout, status

        check("--help", help_text)
        check("trust --status", trust_status)
        check("HTTPS callback, ad hoc certificate", lambda: callback_completes(exe, "--adhoc-ssl"))
        check("HTTPS callback, PEM files (spaces and é in the paths)", pem)
        check("exit 2 on bad usage, one line naming the file", bad_usage)
        check("exit 124 after the timeout", timeout)
        check("a port in use is exit 2 with one line", port_in_use)
    print(f"{len(checks)} Windows checks passed under Wine")


if __name__ == "__main__":
    main()
