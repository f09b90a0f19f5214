#!/usr/bin/env python3
"""Side-by-side figures for oauth-callback, measured in one run on this machine.

Beside it: the Python `callback.py` module's Flask server, `wasmtime serve`
and a plain hyper+rustls server.

    bench/run.py --reference PATH [--runs N] [--seconds S]

PATH is the reference: the Python `callback.py` module (the original
Flask-based module oauth-callback rebuilds), which is not part of this
repository; `$OAUTH_CALLBACK_REFERENCE` gives it when `--reference` does not.

Prints medians and ratios as Markdown tables: ready (start to the first HTTPS
answer) warm, with an empty cache and home directory (a first start on a
machine), and of a plain hyper+rustls server, interleaved run by run; callback (a fresh HTTPS connection sending the callback and
reading the whole answer), whole one-shot flow (start to exit with the JSON
printed), peak RSS of that flow, keep-alive throughput (wrk, stray 404s),
the start-up and per-request cost of the Rust and JavaScript handlers, the
Python package's `run_callback_server` beside the reference's, and the binary size. Needs: a release build, wrk (Debian), Python 3 with venv.
Installs the reference's Python packages into target/bench-venv on first use.
"""
import argparse
import atexit
import http.client
import os
import re
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "target"


def scratch_dir(prefix):
    """A new folder under target/, removed when the script ends."""
    path = tempfile.mkdtemp(prefix=prefix, dir=TARGET)
    atexit.register(shutil.rmtree, path, True)
    return path
BINARY = TARGET / "release" / "oauth-callback"
BASELINE = TARGET / "release" / "examples" / "baseline_server"
REFERENCE_VARIABLE = "OAUTH_CALLBACK_REFERENCE"
"""The variable that names the reference `callback.py` when --reference does not."""
VENV = TARGET / "bench-venv"
INSECURE = ssl._create_unverified_context()  # ad hoc certificates, loopback only
QUERY = "/callback?code=4%2F0AbCdEf&state=af0ifjsldkj"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port, path, tls=True, timeout=2.0):
    """One request on a fresh connection; returns the status after reading the body."""
    cls = http.client.HTTPSConnection if tls else http.client.HTTPConnection
    kwargs = {"context": INSECURE} if tls else {}
    conn = cls("127.0.0.1", port, timeout=timeout, **kwargs)
    try:
        conn.request("GET", path, headers={"Host": f"127.0.0.1:{port}"})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def wait_ready(port, tls=True, limit=30.0, any_answer=False):
    """Poll until /health answers 200 (or anything, for the baseline server)."""
    deadline = time.perf_counter() + limit
    while time.perf_counter() < deadline:
        try:
            if get(port, "/health", tls) == 200 or any_answer:
                return
        except OSError:
            time.sleep(0.0005)
    raise RuntimeError(f"nothing answered on port {port}")


class Subject:
    """A server under test: how to start it on a port. `fresh_home` starts it
    with HOME and XDG_CACHE_HOME in a new empty directory each time; `health`
    says whether it serves /health (the baseline answers anything)."""

    def __init__(self, name, command, tls=True, fresh_home=False, health=True, home=None):
        self.name, self.command, self.tls = name, command, tls
        self.fresh_home, self.health, self.home = fresh_home, health, home
        self.truncated = 0

    def spawn(self, port):
        env = None
        home = scratch_dir("bench-home-") if self.fresh_home else self.home
        if home:
            env = dict(os.environ, HOME=home, XDG_CACHE_HOME=home)
        return subprocess.Popen(self.command(port), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)


def ready_time(subject):
    port = free_port()
    start = time.perf_counter()
    process = subject.spawn(port)
    wait_ready(port, subject.tls, any_answer=not subject.health)
    elapsed = time.perf_counter() - start
    process.kill()
    process.wait()
    return elapsed


def flow_times(subject):
    """(callback, whole flow, peak RSS in KiB) of one one-shot flow."""
    port = free_port()
    start = time.perf_counter()
    process = subject.spawn(port)
    wait_ready(port, subject.tls)
    sent = time.perf_counter()
    try:
        assert get(port, QUERY, subject.tls) == 200
    except http.client.IncompleteRead:
        subject.truncated += 1  # the server shut down mid-answer
    answered = time.perf_counter()
    line = process.stdout.readline()
    _, status, usage = os.wait4(process.pid, 0)
    done = time.perf_counter()
    process.returncode = os.waitstatus_to_exitcode(status)
    assert b'"code"' in line, line
    return answered - sent, done - start, usage.ru_maxrss


def throughput(subject, seconds):
    port = free_port()
    process = subject.spawn(port)
    try:
        wait_ready(port, subject.tls, limit=60, any_answer=True)
        scheme = "https" if subject.tls else "http"
        out = subprocess.run(
            ["wrk", "-t1", "-c16", f"-d{seconds}s", f"{scheme}://127.0.0.1:{port}/favicon.ico"],
            capture_output=True, text=True, check=True,
        ).stdout
        return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    finally:
        process.kill()
        process.wait()


def ensure_tools():
    """wrk from Debian, the wasmtime CLI (scripts/wasmtime-cli, pinned, in
    target/), and the release binaries this script measures; returns the
    wasmtime CLI's path."""
    if not shutil.which("wrk"):
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        subprocess.run(sudo + ["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    subprocess.run(["cargo", "build", "--release", "--locked", "--bin", "oauth-callback",
                    "--example", "baseline_server"], cwd=ROOT, check=True)
    return subprocess.run([str(ROOT / "scripts" / "wasmtime-cli")], check=True, capture_output=True,
                          text=True).stdout.strip()


PEERS = ["flask", "cryptography", "gevent", "requests", "google-auth-oauthlib", "msal"]
"""The reference's packages, and the Python peers the package is measured beside."""


def ensure_reference_venv():
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    present = subprocess.run([str(python), "-c", "import google_auth_oauthlib, msal, flask, gevent"],
                             capture_output=True)
    if present.returncode != 0:
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PEERS], check=True)
    return python


def median_ms(values):
    return statistics.median(values) * 1000


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="runs per latency figure (default 15)")
    parser.add_argument("--seconds", type=int, default=5, help="seconds per throughput run (default 5)")
    parser.add_argument("--reference", metavar="PATH", default=os.environ.get(REFERENCE_VARIABLE) or None,
                        help="the Python callback.py module measured beside oauth-callback (not in this "
                             f"repository; default ${REFERENCE_VARIABLE})")
    args = parser.parse_args()
    if not args.reference:
        parser.exit(2, f"bench/run.py: no reference callback.py: pass --reference PATH or set ${REFERENCE_VARIABLE}\n")
    reference_path = Path(args.reference).resolve()
    if not reference_path.is_file():
        parser.exit(2, f"bench/run.py: the reference callback.py {args.reference} is not a file\n")

    wasmtime = ensure_tools()
    reference_python = ensure_reference_venv()
    handler = TARGET / "bench-handler.wasm"
    subprocess.run([str(BINARY), "export-handler", str(handler)], check=True)
    serve = lambda p: [str(BINARY), "--port", str(p), "--timeout", "60", "-q"]  # noqa: E731
    ours = Subject("oauth-callback", lambda p: serve(p) + ["--adhoc-ssl"])
    reference = Subject("callback.py (Flask)", lambda p: [str(reference_python), str(reference_path), "--port", str(p),
                                                          "--adhoc-ssl", "--timeout", "60"])
    # One run first, so that any cache of the system's is warm.
    subprocess.run([str(BINARY), "--port", "0", "--timeout", "0.01", "-q"], stderr=subprocess.DEVNULL)

    starts = [
        ours,
        Subject("oauth-callback, empty cache and home", ours.command, fresh_home=True),
        Subject("hyper + rustls, HTTPS (no handler)", lambda p: [str(BASELINE), str(p)], health=False),
    ]
    readies = {subject.name: [] for subject in starts}
    for _ in range(args.runs):  # interleaved: machine noise hits all alike
        for subject in starts:
            readies[subject.name].append(ready_time(subject))
    baseline_ready = median_ms(readies[starts[-1].name])
    print("\n| start (interleaved) | ready (ms) | / baseline |")
    print("|---|---:|---:|")
    for subject in starts:
        ready = median_ms(readies[subject.name])
        print(f"| {subject.name} | {ready:.1f} | {ready / baseline_ready:.2f}x |")

    rows = []
    for subject in (ours, reference):
        ready = [ready_time(subject) for _ in range(args.runs)]
        flows = [flow_times(subject) for _ in range(args.runs)]
        rows.append((subject.name, median_ms(ready), median_ms([f[0] for f in flows]),
                     median_ms([f[1] for f in flows]), statistics.median(f[2] for f in flows) / 1024))

    print("\n| server | ready (ms) | callback (ms) | whole flow (ms) | peak RSS (MiB) |")
    print("|---|---:|---:|---:|---:|")
    for name, ready, callback, flow, rss in rows:
        print(f"| {name} | {ready:.1f} | {callback:.2f} | {flow:.1f} | {rss:.1f} |")
    (_, r1, c1, f1, m1), (_, r2, c2, f2, m2) = rows
    print(f"| callback.py / oauth-callback | {r2 / r1:.0f}x | {c2 / c1:.1f}x | {f2 / f1:.0f}x | {m2 / m1:.1f}x |")
    for subject in (ours, reference):
        if subject.truncated:
            print(f"\n{subject.name}: {subject.truncated} of {args.runs} callback answers were cut off by its shutdown")

    http_subjects = [
        Subject("oauth-callback, HTTPS", ours.command),
        Subject("oauth-callback, HTTP", lambda p: serve(p) + ["--no-https"], tls=False),
        Subject("wasmtime serve, HTTP (same component)",
                lambda p: [wasmtime, "serve", "--addr", f"127.0.0.1:{p}", str(handler)], tls=False),
        Subject("hyper + rustls, HTTPS (no handler)", lambda p: [str(BASELINE), str(p)]),
        Subject("hyper, HTTP (no handler)", lambda p: [str(BASELINE), str(p), "--no-https"], tls=False),
    ]
    print(f"\n| keep-alive 404s, wrk -c16, {args.seconds} s | requests/s |")
    print("|---|---:|")
    rates = {}
    for subject in http_subjects:
        rates[subject.name] = throughput(subject, args.seconds)
        print(f"| {subject.name} | {rates[subject.name]:.0f} |")
    ratio = rates["oauth-callback, HTTP"] / rates["wasmtime serve, HTTP (same component)"]
    print(f"| oauth-callback / wasmtime serve (HTTP) | {ratio:.2f}x |")
    handlers_table(args, serve, handler)
    python_table(args, reference_python, reference_path)
    print(f"\nbinary size: {BINARY.stat().st_size / 2**20:.1f} MiB ({BINARY})")


def handlers_table(args, serve, exported):
    """Start-up and per-request cost of the embedded Rust handler beside the
    same component and the JavaScript example swapped in with --handler
    (compiled on a first start, then loaded from the cache)."""
    js = ensure_js_handler()
    home = scratch_dir("bench-cache-")
    handlers = [
        ("Rust (default), embedded", []),
        ("Rust (default), --handler", ["--handler", str(exported)]),
        ("JavaScript (examples/js-handler), --handler", ["--handler", str(js)]),
    ]
    print(f"\n| handler | ready, cached (ms) | keep-alive 404s, HTTP (requests/s) | per request (µs, 1/rate) |")
    print("|---|---:|---:|---:|")
    for name, extra in handlers:
        https = Subject(name, lambda p, extra=extra: serve(p) + extra, home=home)
        plain = Subject(name, lambda p, extra=extra: serve(p) + extra + ["--no-https"], tls=False, home=home)
        ready_time(https)  # a first start compiles and caches the component
        ready = median_ms([ready_time(https) for _ in range(args.runs)])
        rate = throughput(plain, args.seconds)
        print(f"| {name} | {ready:.1f} | {rate:.0f} | {1e6 / rate:.0f} |")


def python_table(args, reference_python, reference_path):
    """The Python package beside the reference `callback.py` module, in the
    reference's venv with the wheel installed (scripts/test-python builds it
    into target/wheels)."""
    wheels = sorted((TARGET / "wheels").glob("*.whl"))
    if not wheels:
        subprocess.run([str(ROOT / "scripts" / "test-python")], check=True)
        wheels = sorted((TARGET / "wheels").glob("*.whl"))
    subprocess.run([str(reference_python), "-m", "pip", "install", "-q", "--force-reinstall", str(wheels[-1])],
                   check=True)
    subprocess.run([str(reference_python), str(ROOT / "bench" / "python_api.py"), str(reference_path),
                    str(max(args.runs, 15))],
                   check=True)


def ensure_js_handler():
    """The JavaScript example handler's component, built when missing."""
    js = TARGET / "js-handler" / "handler.wasm"
    if not js.exists():
        example = ROOT / "examples" / "js-handler"
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=example, check=True)
        subprocess.run(["npm", "run", "build"], cwd=example, check=True)
    return js


if __name__ == "__main__":
    main()
