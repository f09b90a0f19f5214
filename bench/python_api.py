#!/usr/bin/env python3
"""The Python side, side by side: how long a receiver takes from the call to
its return, with the callback sent as soon as its port answers, for the
installed `oauth_callback` wheel (in-process), google-auth-oauthlib's
`InstalledAppFlow.run_local_server` (token exchange stubbed out), MSAL's
`AuthCodeReceiver`, and the Python `callback.py` module (Flask); over plain HTTP, and over
HTTPS with an ad hoc certificate where the receiver can. Interleaved run by
run in one process (Python start-up excluded). Run by bench/run.py inside its
virtual environment (the reference's packages, the peers, the wheel).

    python_api.py REFERENCE_CALLBACK_PY RUNS
"""
import importlib.util
import io
import logging
import socket
import ssl
import statistics
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import redirect_stdout

INSECURE = ssl._create_unverified_context()  # ad hoc certificates, loopback only
CODE = "bench"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def browser(url, form):
    """Send the callback as soon as the port answers, as a browser would: in
    the query, or as a form post (`response_mode=form_post`)."""
    while True:
        try:
            with urllib.request.urlopen(url, data=form, context=INSECURE, timeout=5) as response:
                response.read()
                return
        except urllib.error.HTTPError:
            return  # answered: the receiver refused it (the assertion below says so)
        except OSError:
            time.sleep(0.001)


def timed(subject, scheme, path, form_post):
    port = free_port()
    response = f"code={CODE}&state=s"
    url = f"{scheme}://127.0.0.1:{port}{path}" + ("" if form_post else f"?{response}")
    form = response.encode() if form_post else None
    sender = threading.Thread(target=browser, args=(url, form), daemon=True)
    sender.start()
    start = time.perf_counter()
    result = subject(port)
    elapsed = time.perf_counter() - start
    sender.join(10)
    assert CODE in str(result), (subject, result)
    return elapsed


def google_receiver():
    """google-auth-oauthlib's loopback receiver, its token request stubbed:
    what `run_local_server` returns is then the authorization response."""
    from google_auth_oauthlib.flow import InstalledAppFlow

    class Stubbed(InstalledAppFlow):
        def fetch_token(self, **kwargs):
            self.response = kwargs["authorization_response"]

        @property
        def credentials(self):
            return self.response

    config = {"installed": {"client_id": "bench", "client_secret": "bench",
                            "auth_uri": "https://idp.example/auth", "token_uri": "https://idp.example/token",
                            "redirect_uris": ["http://127.0.0.1"]}}

    def run(port):
        flow = Stubbed.from_client_config(config, scopes=["openid"])
        return flow.run_local_server(host="127.0.0.1", port=port, open_browser=False,
                                     authorization_prompt_message=None, success_message="done")
    return run


def msal_receiver():
    from msal.oauth2cli.authcode import AuthCodeReceiver

    def run(port):
        with AuthCodeReceiver(port=port) as receiver:
            return receiver.get_auth_response(timeout=60, state="s")
    return run


def main():
    reference_path, runs = sys.argv[1], int(sys.argv[2])
    logging.disable(logging.CRITICAL)
    import oauth_callback
    spec = importlib.util.spec_from_file_location("reference_callback", reference_path)
    reference = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reference)
    google, msal = google_receiver(), msal_receiver()
    # name: (call, scheme, callback path, form post)
    subjects = {
        "oauth_callback (wheel), HTTP": (
            lambda port: oauth_callback.run_callback_server(port=port, timeout=60, force_https=False),
            "http", "/callback", False),
        "oauth_callback (wheel), HTTPS": (
            lambda port: oauth_callback.run_callback_server(port=port, timeout=60, adhoc_ssl=True),
            "https", "/callback", False),
        "google-auth-oauthlib run_local_server, HTTP": (google, "http", "/", False),
        # MSAL takes only form posts, and looks for the result once a second.
        "msal AuthCodeReceiver, HTTP": (msal, "http", "/", True),
        "callback.py (Flask), HTTP": (
            lambda port: reference.run_callback_server(port=port, timeout=60, force_https=False,
                                                  server="werkzeug"), "http", "/callback", False),
        "callback.py (Flask), HTTPS": (
            lambda port: reference.run_callback_server(port=port, timeout=60, adhoc_ssl=True,
                                                  server="werkzeug"), "https", "/callback", False),
    }
    times = {name: [] for name in subjects}
    with redirect_stdout(io.StringIO()):  # the peers print prompts
        for _ in range(runs):
            for name, (call, scheme, path, form_post) in subjects.items():
                times[name].append(timed(call, scheme, path, form_post))
    medians = {name: statistics.median(values) * 1000 for name, values in times.items()}
    google_http = medians["google-auth-oauthlib run_local_server, HTTP"]
    print(f"\n| receiver call to return, callback sent at once ({runs} runs, interleaved) | median (ms) "
          "| / google-auth-oauthlib HTTP |")
    print("|---|---:|---:|")
    for name, median in medians.items():
        print(f"| {name} | {median:.1f} | {median / google_http:.2f}x |")


if __name__ == "__main__":
    main()
