"""What the original module's users rely on, through the installed package."""

import json
import logging
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from typing import Any, Dict, List, Optional, Tuple

import pytest

from conftest import Browser, free_port, get, port_is_free

from oauth_callback import CallbackServer, run_callback_server


def test_timeout_returns_none_and_frees_the_port() -> None:
    port = free_port()
    assert run_callback_server(port=port, timeout=0.3) is None
    assert port_is_free(port)


def test_an_error_callback_is_a_dict_with_the_error(pages: Tuple[str, str]) -> None:
    port = free_port()
    browser = Browser(f"https://127.0.0.1:{port}", "/callback?error=access_denied&error_description=no")
    res = run_callback_server(port=port, timeout=60, error_html_path=pages[1])
    assert res is not None
    assert res["params"] == {"error": "access_denied", "error_description": "no"}
    status, body = browser.join()
    assert status == 200 and "Custom error" in body


def test_a_missing_page_is_logged_as_an_error_and_the_fallback_served(caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    browser = Browser(f"https://127.0.0.1:{port}", "/callback?code=1")
    with caplog.at_level(logging.INFO, logger="oauth_callback"):
        res = run_callback_server(port=port, timeout=60, success_html_path="/nonexistent/success.html")
    assert res is not None
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert any("/nonexistent/success.html" in r.getMessage() for r in errors), caplog.records
    status, body = browser.join()
    assert status == 200 and "Credentials received successfully" in body


def test_json_mode_answers_json() -> None:
    port = free_port()
    browser = Browser(f"http://127.0.0.1:{port}", "/callback?code=j&format=json")
    res = run_callback_server(port=port, timeout=60, force_https=False)
    assert res is not None and res["params"] == {"code": "j"}
    status, body = browser.join()
    assert status == 200 and json.loads(body) == {"ok": True, "params": {"code": "j"}}


def test_a_custom_logger_receives_the_records() -> None:
    records: List[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("my.app")
    logger.addHandler(Keep())
    logger.setLevel(logging.DEBUG)
    assert run_callback_server(port=free_port(), timeout=0.2, logger=logger) is None
    assert any("listening on" in r.getMessage() for r in records)


def test_low_level_start_wait_shutdown_and_context_manager() -> None:
    server = CallbackServer(port=0, timeout=60, force_https=False)
    with pytest.raises(RuntimeError):
        server.redirect_uri
    with server:
        assert server.redirect_uri == f"http://127.0.0.1:{server.port}/callback"
        assert server.wait(timeout=0.05) is None, "nothing yet; the server keeps listening"
        status, _ = get(f"{server.redirect_uri}?code=low")
        assert status == 200
        res = server.wait(timeout=10)
        assert res is not None and res["params"] == {"code": "low"}
        server.shutdown()
        server.shutdown()  # idempotent
    assert port_is_free(server.port)


def test_wait_from_another_thread() -> None:
    server = CallbackServer(port=0, force_https=False).start()
    got: Dict[str, Optional[Dict[str, Any]]] = {}
    waiter = threading.Thread(target=lambda: got.update(res=server.wait(30)))
    waiter.start()
    assert get(f"{server.redirect_uri}?code=threaded")[0] == 200
    waiter.join(30)
    assert got["res"] is not None and got["res"]["params"] == {"code": "threaded"}
    server.shutdown()


def test_two_servers_at_once_on_port_zero() -> None:
    with CallbackServer(port=0) as first, CallbackServer(port=0) as second:
        assert first.port != second.port
        get(f"{second.redirect_uri}?code=two")
        get(f"{first.redirect_uri}?code=one")
        one, two = first.wait(10), second.wait(10)
        assert one is not None and one["params"] == {"code": "one"}
        assert two is not None and two["params"] == {"code": "two"}


def test_python_m_is_the_command_line() -> None:
    version = subprocess.run([sys.executable, "-m", "oauth_callback", "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.startswith("oauth-callback ")
    bad = subprocess.run([sys.executable, "-m", "oauth_callback", "--timeout", "0"], capture_output=True, text=True)
    assert bad.returncode == 2 and "invalid --timeout" in bad.stderr


def test_the_fragment_bridge_in_headless_chromium() -> None:
    from playwright.sync_api import sync_playwright

    server = CallbackServer(port=0, timeout=60, adhoc_ssl=True).start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium",
                args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                      "--disable-component-update", "--disable-sync"],
            )
            page = browser.new_context(ignore_https_errors=True).new_page()
            page.goto(f"{server.redirect_uri}#access_token=at&token_type=Bearer&state=s")
            page.wait_for_selector("text=Credentials received successfully")
            assert "#" not in page.url
            browser.close()
        res = server.wait(10)
        assert res is not None
        assert res["method"] == "POST"
        assert res["params"] == {"access_token": "at", "token_type": "Bearer", "state": "s"}
    finally:
        server.shutdown()


def test_the_installed_package_and_binary_are_the_ones_under_test() -> None:
    import os

    import oauth_callback
    from oauth_callback._binary import find_binary

    assert "site-packages" in oauth_callback.__file__, oauth_callback.__file__
    assert os.path.dirname(find_binary()) == os.path.dirname(sys.executable), find_binary()


def test_a_pasted_address_completes_the_flow_and_a_wrong_one_is_refused() -> None:
    with CallbackServer(port=0, expect_state="s1") as server:
        uri = server.redirect_uri
        origin = uri.rsplit("/", 1)[0]
        for wrong, reason in [
            (f"{origin}/elsewhere?code=c", "another path"),
            (f"{uri}?code=c&state=other", "state or issuer"),
            ("not an address", "not an address"),
        ]:
            with pytest.raises(ValueError, match=reason):
                server.complete_from_url(wrong)
        with pytest.raises(ValueError, match="one address"):
            server.complete_from_url("  ")
        res = server.complete_from_url(f"{uri}#access_token=at&state=s1")
        assert res["params"] == {"access_token": "at", "state": "s1"}
        assert res["method"] == "POST"
        assert server.wait() == res


def test_a_paste_after_the_browser_completed_is_refused() -> None:
    with CallbackServer(port=0) as server:
        status, _ = get(f"{server.redirect_uri}?code=browser")
        assert status == 200
        with pytest.raises(ValueError, match="ended|already complete"):
            server.complete_from_url(f"{server.redirect_uri}?code=pasted")
        res = server.wait()
        assert res is not None and res["params"] == {"code": "browser"}


def test_elsewhere_options_reach_the_server() -> None:
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    taken, free = busy.getsockname()[1], free_port()
    registered = f"http://127.0.0.1:{free}/signin"
    with busy, CallbackServer(port=[taken, free], force_https=False, redirect_uri=registered,
                              success_redirect="https://app.example/done", one_scheme=True) as server:
        assert server.redirect_uri == registered and server.port == free
        with pytest.raises(OSError):  # one scheme: no TLS on the http port
            get(f"https://127.0.0.1:{free}/signin?code=tls")
        request = urllib.request.Request(f"{registered}?code=r")
        opener = urllib.request.build_opener(NoRedirect())
        with pytest.raises(urllib.error.HTTPError) as sent_on:
            opener.open(request, timeout=10)
        assert sent_on.value.code == 303
        # An explicit empty fragment: the callback's own never follows (RFC 9110 10.2.2).
        assert sent_on.value.headers["Location"] == "https://app.example/done#"
        res = server.wait()
        assert res is not None and res["params"] == {"code": "r"}
    with pytest.raises(ValueError, match="port"):
        CallbackServer(port=[])


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """Shows a redirect instead of following it."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def test_expected_values_that_begin_with_a_dash_stay_out_of_the_arguments() -> None:
    # One `secrets.token_urlsafe()` state in 64 begins with `-`; and every
    # local user can read a process's arguments.
    state, issuer = "-s3cret-state", "-s3cret-issuer"
    with CallbackServer(port=0, force_https=False, expect_state=state, expect_issuer=issuer) as server:
        process = server._process
        assert process is not None
        with open(f"/proc/{process.pid}/cmdline", "rb") as cmdline:
            arguments = cmdline.read()
        assert b"s3cret" not in arguments, arguments
        status, _ = get(f"{server.redirect_uri}?code=c&state={state}&iss={issuer}")
        assert status == 200
        res = server.wait()
    assert res is not None and res["params"]["state"] == state


def test_an_expected_state_in_the_callers_environment_is_not_inherited(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OAUTH_CALLBACK_EXPECT_STATE", "inherited")
    with CallbackServer(port=0, force_https=False) as server:
        status, _ = get(f"{server.redirect_uri}?code=c&state=other")
        assert status == 200
        res = server.wait()
    assert res is not None and res["params"] == {"code": "c", "state": "other"}
