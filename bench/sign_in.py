#!/usr/bin/env python3
"""The whole sign-in, side by side: against the end-to-end suite's OpenID
provider (oidc-provider, tests/e2e/provider.mjs) with a scripted headless
Chromium that signs in on the provider's pages every run, interleaved run by
run:

- `oauth-callback sign-in` (the command; discovery, PKCE, the exchange and
  the ID token's verification),
- `oauth_callback.sign_in` (the Python call, in this process),
- google-auth-oauthlib's `InstalledAppFlow.run_local_server` (PKCE and the
  exchange; no ID token check),
- MSAL's `acquire_token_interactive`, where it can run (it says why not),
- a minimal in-process flow: `http.server` on plain HTTP, PKCE, `urllib`
  for the exchange, nothing checked: the floor.

    bench/sign_in.py [--runs N]

Prints medians (ms) and ratios as Markdown: the whole sign-in (the call or
the start of the process to the tokens), the time from the redirect's
arrival to the tokens, the token endpoint's own time (the minimal flow's
exchange), and for the command the time from its line to its exit. Needs a
release build, the wheel (target/wheels, from scripts/test), tests/e2e's npm
packages and Chromium; installs playwright, google-auth-oauthlib and msal
into target/bench-sign-in-venv on first use.
"""
import argparse
import base64
import hashlib
import json
import os
import queue
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import webbrowser
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "target"
BINARY = Path(os.environ.get("OAUTH_CALLBACK_BIN", TARGET / "release" / "oauth-callback"))
VENV = TARGET / "bench-sign-in-venv"
PUBLIC = "oauth-callback-e2e"
CONFIDENTIAL, SECRET = "oauth-callback-bench", "bench-secret"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_venv():
    """Re-run inside target/bench-sign-in-venv, made on first use."""
    python = VENV / "bin" / "python"
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    wheels = sorted((TARGET / "wheels").glob("oauth_callback-*.whl"))
    if not wheels:
        sys.exit("no wheel in target/wheels: run scripts/test (or scripts/test-python) first")
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "playwright",
                        "google-auth-oauthlib", "msal"], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--force-reinstall", "--no-deps",
                    str(wheels[-1])], check=True)
    os.execv(str(python), [str(python), __file__, *sys.argv[1:]])


TOKEN_TIMES = []
"""Each token request's time at the provider (ms), in order (`token <ms>`)."""


def start_provider(redirect_uris):
    """The e2e provider for these redirect URIs, saying how long each token
    request took it; (issuer, process)."""
    process = subprocess.Popen(["node", "provider.mjs", *redirect_uris], cwd=ROOT / "tests" / "e2e",
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "OAUTH_CALLBACK_TOKEN_TIMES": "1"})
    line = process.stdout.readline()
    if not line.startswith("issuer "):
        sys.exit(f"the provider did not start: {line!r}")

    def read_times():
        for line in process.stdout:
            if line.startswith("token "):
                TOKEN_TIMES.append(float(line.split()[1]))

    threading.Thread(target=read_times, daemon=True).start()
    return line.split()[1], process


class Browser:
    """Headless Chromium: a fresh context per sign-in, the provider's login
    and consent pages filled in; records when the redirect left for the
    receiver."""

    def __init__(self, playwright):
        self.browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)

    def sign_in(self, url, redirect_prefix):
        """Sign in at `url`; the context (to close), and a list that holds
        the redirect's request once made (`arrival` reads its time)."""
        context = self.browser.new_context(ignore_https_errors=True)
        page = context.new_page()
        arrival = []
        page.on("request", lambda r: arrival.append(r)
                if r.url.startswith(redirect_prefix) and not arrival else None)
        page.goto(url)
        if not page.query_selector("input[name=login]"):
            sys.exit(f"the provider did not show its login page for {url}:\n{page.inner_text('body')[:500]}")
        page.fill("input[name=login]", "alice")
        page.fill("input[name=password]", "secret")
        page.click("button[type=submit]")
        page.click("button[type=submit]", no_wait_after=True)
        return context, (page, arrival)


def arrival(redirect):
    """When the browser sent the redirect to the receiver: Chromium's own
    start time of that request (wall clock, seconds). Playwright delivers
    its events late (while its calls run), so their arrival here says
    nothing: wait for the event, then read the browser's figure."""
    page, requests = redirect
    while not requests:
        page.wait_for_timeout(5)
    requests[0].response()
    return requests[0].timing["startTime"] / 1000


def stamp(argv):
    """Run the command `argv` and time its output from this separate
    process (the bench's own threads wait for Playwright's hold on the
    interpreter, which would make its readings late): pass the address to
    open on at once, then print one JSON object with the clock
    (`time.monotonic`, shared by the processes) at the start, at `callback received`
    (stderr), at the tokens' line (stdout) and at the exit, and the line."""
    import selectors
    start = time.monotonic()
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    times, buffers = {"start": start}, {child.stdout: b"", child.stderr: b""}
    selector = selectors.DefaultSelector()
    for stream in buffers:
        selector.register(stream, selectors.EVENT_READ)
    while selector.get_map():
        for key, _ in selector.select():
            chunk = os.read(key.fileobj.fileno(), 65536)
            now = time.monotonic()
            if not chunk:
                selector.unregister(key.fileobj)
                continue
            buffers[key.fileobj] += chunk
            if key.fileobj is child.stdout and b"\n" in buffers[child.stdout]:
                times.setdefault("line", now)
            elif key.fileobj is child.stderr:
                text = buffers[child.stderr]
                if b"callback received" in text:
                    times.setdefault("received", now)
                rest = text.split(b"open this page to sign in: ")[1:]
                if rest and b"\n" in rest[0] and "url" not in times:
                    url = rest[0].split(b"\n")[0].decode()
                    times["url"] = url
                    print(url, flush=True)
    child.wait()
    times["exit"] = time.monotonic()
    line = buffers[child.stdout].decode()
    print(json.dumps({**times, "stdout": line, "code": child.returncode}), flush=True)


def command(browser, issuer, port):
    """`oauth-callback sign-in`, timed by a separate process (`stamp`): from
    its start (not the stamper's) to its line."""
    stamper = subprocess.Popen([sys.executable, __file__, "--stamp", str(BINARY), "sign-in", "--issuer", issuer,
                                "--client-id", PUBLIC, "--port", str(port), "--no-browser", "--no-paste"],
                               stdout=subprocess.PIPE, text=True)
    url = stamper.stdout.readline().strip()
    context, redirect = browser.sign_in(url, f"https://127.0.0.1:{port}/callback")
    times = json.loads(stamper.stdout.readline())
    stamper.wait(30)
    sent = arrival(redirect)  # wall clock
    context.close()
    assert times["code"] == 0 and json.loads(times["stdout"])["id_token_claims"]["sub"] == "alice", times
    # The browser's wall-clock send time against the line's monotonic one:
    # both read now, their difference is the offset between the clocks.
    offset = time.time() - time.monotonic()
    # The provider says each token request's time as it answers it: this
    # run's is the last one by now (its line came after the answer).
    time.sleep(0.05)
    endpoint = TOKEN_TIMES[-1] / 1000
    received = times["line"] - times["received"]
    return {"total": times["line"] - times["start"], "after": times["line"] + offset - sent,
            "received": received, "beyond": received - endpoint, "exit": times["exit"] - times["line"]}


def in_process(browser, start_flow, redirect_prefix):
    """Run `start_flow(open)` on a thread (`open` gets the URL to visit);
    the whole call and the time from the redirect's arrival to its return."""
    urls = queue.Queue()
    done = queue.Queue()

    def run():
        start = time.perf_counter()
        tokens = start_flow(urls.put)
        done.put((tokens, start, time.perf_counter(), time.time()))

    threading.Thread(target=run, daemon=True).start()
    context, redirect = browser.sign_in(urls.get(timeout=30), redirect_prefix)
    tokens, start, end, end_wall = done.get(timeout=60)
    after = end_wall - arrival(redirect)
    context.close()
    assert tokens, "no tokens"
    return {"total": end - start, "after": after}


def ours(issuer, port):
    import oauth_callback

    def flow(open_url):
        tokens = oauth_callback.sign_in(issuer=issuer, client_id=PUBLIC, port=port, open_browser=open_url)
        assert tokens["id_token_claims"]["sub"] == "alice"
        return tokens
    return flow


class _Opener(webbrowser.BaseBrowser):
    """google-auth-oauthlib opens the URL with `webbrowser`: hand it over."""
    target = None

    def open(self, url, new=0, autoraise=True):
        _Opener.target(url)
        return True


def google(issuer, port):
    from google_auth_oauthlib.flow import InstalledAppFlow

    webbrowser.register("bench", None, _Opener("bench"))
    # oauthlib refuses http token endpoints but with this; the provider is
    # on 127.0.0.1, as the others are.
    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"

    def flow(open_url):
        _Opener.target = open_url
        config = {"installed": {"client_id": CONFIDENTIAL, "client_secret": SECRET,
                                "auth_uri": f"{issuer}/auth", "token_uri": f"{issuer}/token"}}
        app = InstalledAppFlow.from_client_config(config, scopes=["openid"])
        credentials = app.run_local_server(host="localhost", port=port, browser="bench",
                                           authorization_prompt_message="", open_browser=True)
        return credentials.token
    return flow


def minimal(issuer, port, exchanges):
    """The floor: a plain HTTP receiver, PKCE, the exchange; nothing checked."""

    def flow(open_url):
        received = queue.Queue()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                received.put(urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"done")

        server = HTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=server.handle_request, daemon=True).start()
        verifier = secrets.token_urlsafe(32)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        redirect_uri = f"http://127.0.0.1:{port}/callback"
        state = secrets.token_urlsafe(32)
        open_url(f"{issuer}/auth?" + urllib.parse.urlencode({
            "response_type": "code", "client_id": CONFIDENTIAL, "redirect_uri": redirect_uri, "scope": "openid",
            "state": state, "code_challenge": challenge, "code_challenge_method": "S256"}))
        params = received.get(timeout=60)
        server.server_close()
        body = urllib.parse.urlencode({"grant_type": "authorization_code", "code": params["code"][0],
                                       "redirect_uri": redirect_uri, "client_id": CONFIDENTIAL,
                                       "client_secret": SECRET, "code_verifier": verifier}).encode()
        started = time.perf_counter()
        with urllib.request.urlopen(f"{issuer}/token", data=body, timeout=10) as response:
            tokens = json.load(response)
        exchanges.append(time.perf_counter() - started)
        return tokens["access_token"]
    return flow


def msal_reason(issuer):
    """Why MSAL cannot sign in at this provider, or None when it can."""
    import msal
    try:
        msal.PublicClientApplication(PUBLIC, oidc_authority=issuer)
    except Exception as e:  # noqa: BLE001 - what MSAL says is the reason
        return f"{type(e).__name__}: {e}"
    return ("its loopback receiver takes the response as form_post only and oidc_authority wants an "
            "https issuer with a path; this provider is http on 127.0.0.1 without one")


def main():
    if sys.argv[1:2] == ["--stamp"]:
        return stamp(sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=11)
    args = parser.parse_args()
    ensure_venv()
    from playwright.sync_api import sync_playwright

    ports = {name: free_port() for name in ("command", "python", "minimal")}
    redirects = {
        "command": f"https://127.0.0.1:{ports['command']}/callback",
        "python": f"https://127.0.0.1:{ports['python']}/callback",
        "minimal": f"http://127.0.0.1:{ports['minimal']}/callback",
    }
    # google-auth-oauthlib's receiver does not reuse an address in
    # TIME_WAIT: a port of its own for every run, each registered.
    google_ports = [free_port() for _ in range(args.runs + 1)]
    google_redirects = [f"http://localhost:{port}/" for port in google_ports]
    google_runs = iter(range(len(google_ports)))
    issuer, provider = start_provider(list(redirects.values()) + google_redirects)
    exchanges = []
    subjects = {
        "oauth-callback sign-in (command)": lambda b: command(b, issuer, ports["command"]),
        "oauth_callback.sign_in (Python)": lambda b: in_process(b, ours(issuer, ports["python"]),
                                                                redirects["python"]),
        "google-auth-oauthlib run_local_server": lambda b: (lambda i: in_process(
            b, google(issuer, google_ports[i]), google_redirects[i]))(next(google_runs)),
        "minimal in-process flow (the floor)": lambda b: in_process(b, minimal(issuer, ports["minimal"], exchanges),
                                                                    redirects["minimal"]),
    }
    figures = {name: [] for name in subjects}
    try:
        with sync_playwright() as playwright:
            browser = Browser(playwright)
            names = list(subjects)
            for run in range(args.runs + 1):  # the first round warms up
                for name in names[run % len(names):] + names[:run % len(names)]:
                    measured = subjects[name](browser)
                    if run:
                        figures[name].append(measured)
    finally:
        provider.stdin.close()
        provider.wait(10)

    def median(name, key):
        values = [m[key] for m in figures[name] if key in m]
        return statistics.median(values) * 1000 if values else None

    floor = median("minimal in-process flow (the floor)", "total")
    print(f"Whole sign-in, {args.runs} interleaved runs each, medians (ms); a scripted Chromium signs in "
          "on the provider's pages every run.\n")
    print("| flow | whole sign-in | ratio to the floor | redirect sent to the tokens |")
    print("|---|---|---|---|")
    for name in subjects:
        total, after = median(name, "total"), median(name, "after")
        print(f"| {name} | {total:.0f} | {total / floor:.3f}x | {after:.1f} |")
    command_name = "oauth-callback sign-in (command)"
    print(f"\nThe command: from `callback received` (its log line, read as written) to the tokens' line "
          f"{median(command_name, 'received'):.1f} ms, of which beyond the token endpoint's own time (as the "
          f"provider measured it, the same run) {median(command_name, 'beyond'):.1f} ms; from the line to the "
          f"exit {median(command_name, 'exit'):.1f} ms.")
    print(f"The token endpoint's own time: {statistics.median(TOKEN_TIMES):.1f} ms at the provider; "
          f"{statistics.median(exchanges) * 1000:.1f} ms for the floor's exchange, as its thread saw it.")
    print(f"MSAL acquire_token_interactive: not run: {msal_reason(issuer)}.")


if __name__ == "__main__":
    main()
