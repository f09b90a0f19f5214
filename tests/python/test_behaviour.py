"""What the original module's users rely on, through the installed package,
whose extension serves in this process."""

import importlib.machinery
import importlib.metadata
import importlib.util
import inspect
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import sysconfig
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest

from conftest import INSECURE, Browser, chromium_page, free_port, get, port_is_free, private_logger

import oauth_callback
from oauth_callback import CallbackServer, run_callback_server


def test_timeout_returns_none_and_frees_the_port() -> None:
    port = free_port()
    started = time.monotonic()
    assert run_callback_server(port=port, timeout=0.3) is None
    assert 0.3 <= time.monotonic() - started < 5
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
    logger, kept = private_logger("my.app")
    assert run_callback_server(port=free_port(), timeout=0.2, logger=logger) is None
    listening = [r for r in kept.records if r.getMessage().startswith("listening on https://127.0.0.1:")]
    assert listening and all(r.levelno == logging.DEBUG for r in listening), kept.messages()
    assert all(r.name == "my.app" for r in kept.records)


def test_a_logger_above_debug_gets_no_debug_records() -> None:
    logger, kept = private_logger("my.app.info", logging.INFO)
    with CallbackServer(port=0, force_https=False, timeout=60, logger=logger) as server:
        assert get(f"{server.redirect_uri}?code=i")[0] == 200
        assert server.wait(10) is not None
    assert kept.records, "the INFO record of the callback"
    assert all(r.levelno >= logging.INFO for r in kept.records), kept.messages()
    assert not any("listening on" in m for m in kept.messages())


def test_only_a_certificate_made_because_none_was_given_is_logged_as_such() -> None:
    said = "no certificate given: "
    implicit, implicit_kept = private_logger("my.app.implicit")
    with CallbackServer(port=0, timeout=60, logger=implicit):
        pass
    lines = [m for m in implicit_kept.messages() if "certificate" in m]
    assert len(lines) == 1 and lines[0].startswith(said + "serving a "), implicit_kept.messages()
    asked, asked_kept = private_logger("my.app.asked")
    with CallbackServer(port=0, timeout=60, logger=asked, adhoc_ssl=True):
        pass
    self_signed, self_signed_kept = private_logger("my.app.self_signed")
    with CallbackServer(port=0, timeout=60, logger=self_signed, self_signed=True):
        pass
    assert not any(m.startswith(said) for m in asked_kept.messages() + self_signed_kept.messages())
    assert any("listening on https://" in m for m in self_signed_kept.messages()), self_signed_kept.messages()


def test_low_level_start_wait_shutdown_and_context_manager() -> None:
    server = CallbackServer(port=0, timeout=60, force_https=False)
    with pytest.raises(RuntimeError):
        server.redirect_uri
    with pytest.raises(RuntimeError):
        server.wait(0)
    with server:
        assert server.redirect_uri == f"http://127.0.0.1:{server.port}/callback"
        with pytest.raises(RuntimeError, match="already started"):
            server.start()
        assert server.wait(timeout=0.05) is None, "nothing yet; the server keeps listening"
        status, _ = get(f"{server.redirect_uri}?code=low")
        assert status == 200
        res = server.wait(timeout=10)
        assert res is not None and res["params"] == {"code": "low"}
        server.shutdown()
        server.shutdown()  # idempotent
    assert port_is_free(server.port)


def test_a_result_completed_just_before_shutdown_is_returned_by_wait_afterwards() -> None:
    server = CallbackServer(port=0, timeout=60, force_https=False).start()
    assert get(f"{server.redirect_uri}?code=late")[0] == 200
    server.shutdown()  # nobody called wait() before
    assert port_is_free(server.port)
    res = server.wait()
    assert res is not None and res["params"] == {"code": "late"}
    assert server.wait(0) == res, "and again"


def raw_get(port: int, path_and_query: str) -> Any:
    """The status of a plain-HTTP GET sent at once on a new connection, or
    the name of the error that stopped it."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
            connection.sendall(f"GET {path_and_query} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                               "Connection: close\r\n\r\n".encode())
            answer = b""
            while chunk := connection.recv(65536):
                answer += chunk
        return int(answer.split(b" ", 2)[1]) if answer else "no answer"
    except OSError as error:
        return type(error).__name__


def test_a_callback_answered_200_while_shutting_down_is_never_lost() -> None:
    seen: Dict[Any, int] = {}
    for attempt in range(60):
        server = CallbackServer(port=0, timeout=60, force_https=False).start()
        stopping = threading.Thread(target=server.shutdown)
        stopping.start()
        time.sleep(attempt % 15 / 20000)  # 0 to 0.7 ms into the shutdown
        status = raw_get(server.port, f"/callback?code=race{attempt}")
        stopping.join(30)
        res = server.wait(0)
        seen[status] = seen.get(status, 0) + 1
        if status == 200:
            assert res is not None and res["params"] == {"code": f"race{attempt}"}, (attempt, res)
        else:
            assert res is None, (attempt, status, res)
        assert port_is_free(server.port)
    print(f"outcomes of a callback racing shutdown(): {seen}")


def test_wait_from_another_thread() -> None:
    server = CallbackServer(port=0, force_https=False).start()
    got: Dict[str, Optional[Dict[str, Any]]] = {}
    waiter = threading.Thread(target=lambda: got.update(res=server.wait(30)))
    waiter.start()
    time.sleep(0.05)  # the waiter is waiting
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


def test_two_servers_in_two_threads_each_log_to_their_own_logger() -> None:
    both_listening = threading.Barrier(2, timeout=30)
    uris: Dict[str, str] = {}
    results: Dict[str, Optional[Dict[str, Any]]] = {}
    loggers = {name: private_logger(f"two.threads.{name}") for name in ("a", "b")}

    def flow(name: str) -> None:
        logger = loggers[name][0]
        with CallbackServer(port=0, path=f"/{name}", force_https=False, timeout=60, logger=logger) as server:
            uris[name] = server.redirect_uri
            both_listening.wait()
            assert get(f"{server.redirect_uri}?code={name}")[0] == 200
            results[name] = server.wait(30)

    threads = [threading.Thread(target=flow, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for name, other in (("a", "b"), ("b", "a")):
        res = results[name]
        assert res is not None and res["params"] == {"code": name} and res["path"] == f"/{name}"
        records = loggers[name][1].records
        messages = [r.getMessage() for r in records]
        assert [r.levelno for r in records if r.getMessage() == f"listening on {uris[name]}"] == [logging.DEBUG], messages
        received = [r.levelno for r in records if r.getMessage().startswith("callback received")]
        assert received == [logging.INFO], messages
        assert any(m == f"callback received method=GET path=/{name}" for m in messages), messages
        other_port = uris[other].rsplit(":", 1)[1].split("/")[0]
        assert not any(other_port in m or f"path=/{other}" in m for m in messages), messages
        assert all(r.name == f"two.threads.{name}" for r in records)


def test_a_logging_handler_that_raises_costs_the_sign_in_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    raised: List[BaseException] = []

    class Broken(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            raise RuntimeError("this handler is broken")

    def keep(unraisable: Any) -> None:
        raised.append(unraisable.exc_value)

    monkeypatch.setattr(sys, "unraisablehook", keep)
    logger = logging.getLogger("broken.handler")
    logger.addHandler(Broken())
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    port = free_port()
    browser = Browser(f"https://127.0.0.1:{port}", "/callback?code=broken")
    started = time.monotonic()
    res = run_callback_server(port=port, timeout=60, logger=logger)
    took = time.monotonic() - started
    print(f"run_callback_server returned after {took:.3f} s")
    assert res is not None and res["params"] == {"code": "broken"}
    assert took < 5, took
    assert browser.join()[0] == 200
    assert raised and all(isinstance(e, RuntimeError) for e in raised), raised  # reported, not swallowed


def test_logs_never_hold_the_code_or_the_tokens() -> None:
    secrets = ["SECRETCODE", "SECRETTOKEN", "SECRETID", "SECRETREFRESH"]
    logger, kept = private_logger("no.secrets", 1)  # everything: TRACE and DEBUG included

    # A code in the query, a refused one (wrong state), and one after the end.
    with CallbackServer(port=0, timeout=60, expect_state="st", logger=logger) as server:
        assert get(f"{server.redirect_uri}?code=SECRETCODE&state=wrong")[0] == 400
        assert get(f"{server.redirect_uri}?code=SECRETCODE&state=st")[0] == 200
        assert server.wait(10) is not None
        try:  # 410 while the server stops, refused once it has
            assert get(f"{server.redirect_uri}?code=SECRETCODE&state=st")[0] == 410
        except OSError:
            pass
    # Tokens in a POST body, as the fragment bridge sends them.
    with CallbackServer(port=0, timeout=60, logger=logger) as server:
        body = b"access_token=SECRETTOKEN&id_token=SECRETID&refresh_token=SECRETREFRESH&token_type=Bearer"
        request = urllib.request.Request(server.redirect_uri, data=body)
        with urllib.request.urlopen(request, context=INSECURE, timeout=10) as response:
            assert response.status == 200
        res = server.wait(10)
        assert res is not None and res["params"]["access_token"] == "SECRETTOKEN"
    # Tokens after `#` in a pasted address, and refused pastes.
    with CallbackServer(port=0, timeout=60, expect_state="st", logger=logger) as server:
        with pytest.raises(ValueError):
            server.complete_from_url(f"{server.redirect_uri}#access_token=SECRETTOKEN&state=wrong")
        res = server.complete_from_url(f"{server.redirect_uri}#access_token=SECRETTOKEN&id_token=SECRETID&state=st")
        assert res["params"]["access_token"] == "SECRETTOKEN"
    messages = kept.messages()
    assert any(m.startswith("callback received method=POST") for m in messages), messages
    leaked = [m for m in messages if any(secret in m for secret in secrets)]
    assert not leaked, leaked


@pytest.mark.chromium
def test_the_fragment_bridge_in_headless_chromium() -> None:
    from playwright.sync_api import sync_playwright

    server = CallbackServer(port=0, timeout=60, adhoc_ssl=True).start()
    try:
        with sync_playwright() as playwright:
            browser, page = chromium_page(playwright)
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


def test_the_installed_package_is_the_one_under_test() -> None:
    from oauth_callback import _native

    assert sys.prefix != sys.base_prefix, "the tests run in a virtual environment"
    site_packages = Path(sysconfig.get_paths()["platlib"]).resolve()
    assert site_packages.name == "site-packages" and site_packages.is_relative_to(Path(sys.prefix).resolve())
    package = Path(oauth_callback.__file__).resolve().parent
    assert package == site_packages / "oauth_callback", package
    extension = Path(_native.__file__ or "").resolve()
    assert extension.parent == package, extension
    assert extension.name.startswith("_native.") and extension.is_file()
    assert any(extension.name.endswith(suffix) for suffix in importlib.machinery.EXTENSION_SUFFIXES), extension
    assert importlib.util.find_spec("oauth_callback._binary") is None, "no binary any more"
    assert not (package / "bin").exists() and not any(package.glob("oauth-callback*"))


def test_python_m_is_the_command_line() -> None:
    version = subprocess.run([sys.executable, "-m", "oauth_callback", "--version"], capture_output=True, text=True)
    assert version.returncode == 0
    assert version.stdout.strip() == f"oauth-callback {importlib.metadata.version('oauth-callback')}"
    bad = subprocess.run([sys.executable, "-m", "oauth_callback", "--timeout", "0"], capture_output=True, text=True)
    assert bad.returncode == 2 and "invalid --timeout" in bad.stderr


def console_script() -> str:
    script = os.path.join(os.path.dirname(sys.executable), "oauth-callback")
    with open(script) as first:
        shebang = first.readline()
    assert shebang.startswith("#!") and Path(shebang[2:].strip()).parent == Path(sys.executable).parent, shebang
    return script


def start_console_script(*args: str, env: Optional[Dict[str, str]] = None) -> Tuple["subprocess.Popen[str]", str]:
    """The `oauth-callback` script pip installed, and the redirect URI of
    its ready line."""
    cli = subprocess.Popen([console_script(), "--port", "0", "--no-https", *args], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert cli.stderr is not None
    ready = cli.stderr.readline()
    assert ready.startswith("listening on http://127.0.0.1:"), ready
    return cli, ready.split()[-1]


def test_the_console_script_runs_a_flow() -> None:
    version = subprocess.run([console_script(), "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.startswith("oauth-callback ")
    env = {**os.environ, "OAUTH_CALLBACK_EXPECT_STATE": "-abc"}
    cli, uri = start_console_script("--timeout", "30", env=env)
    assert uri.endswith("/callback")
    assert get(f"{uri}?code=cli&state=-other")[0] == 400
    assert get(f"{uri}?code=cli&state=-abc")[0] == 200
    out, err = cli.communicate(timeout=30)
    assert cli.returncode == 0, err
    [line] = out.splitlines()
    res = json.loads(line)
    assert res["params"] == {"code": "cli", "state": "-abc"} and res["method"] == "GET"
    assert "callback received" in err


def test_ctrl_c_ends_the_console_script_with_130() -> None:
    cli, uri = start_console_script("--timeout", "30")
    cli.send_signal(signal.SIGINT)
    _, err = cli.communicate(timeout=10)
    assert cli.returncode == 130, (cli.returncode, err)
    port = int(uri.rsplit(":", 1)[1].split("/")[0])
    assert port_is_free(port)


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
        with pytest.raises(ValueError, match="one address"):
            server.complete_from_url(f"{uri}?code=c&state=s1\n{uri}?code=d&state=s1")
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


def test_a_state_and_an_issuer_that_begin_with_a_dash_are_expected_values() -> None:
    # One `secrets.token_urlsafe()` state in 64 begins with `-`.
    state, issuer = "-abc", "-issuer"
    with CallbackServer(port=0, force_https=False, expect_state=state, expect_issuer=issuer) as server:
        uri = server.redirect_uri
        assert get(f"{uri}?code=c&state=-abd&iss={issuer}")[0] == 400
        assert get(f"{uri}?code=c&state={state}&iss=-issuers")[0] == 400
        assert get(f"{uri}?code=c&iss={issuer}")[0] == 400
        assert server.wait(timeout=0.05) is None, "refused: the flow goes on"
        assert get(f"{uri}?code=c&state={state}&iss={issuer}")[0] == 200
        res = server.wait(10)
    assert res is not None and res["params"] == {"code": "c", "state": state, "iss": issuer}


def test_an_expected_state_in_the_callers_environment_is_not_inherited(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OAUTH_CALLBACK_EXPECT_STATE", "inherited")
    monkeypatch.setenv("OAUTH_CALLBACK_EXPECT_ISSUER", "https://inherited.example")
    with CallbackServer(port=0, force_https=False) as server:
        status, _ = get(f"{server.redirect_uri}?code=c&state=other")
        assert status == 200
        res = server.wait()
    assert res is not None and res["params"] == {"code": "c", "state": "other"}


def test_both_entry_points_take_the_same_settings_with_the_librarys_defaults() -> None:
    server = [p for p in inspect.signature(CallbackServer.__init__).parameters.values() if p.name != "self"]
    run = list(inspect.signature(run_callback_server).parameters.values())
    assert server == run
    defaults = {p.name: p.default for p in run}
    # host and port: None is the library's default (127.0.0.1, 8080), or
    # what a loopback redirect_uri says.
    assert (defaults["host"], defaults["port"], defaults["path"], defaults["timeout"]) == (
        None,
        None,
        "/callback",
        180.0,
    )
    from oauth_callback import _native

    assert (_native.DEFAULT_HOST, _native.DEFAULT_PORT) == ("127.0.0.1", 8080)


def test_the_root_path_is_a_callback_route_as_installed_app_flows_register_it() -> None:
    # google-auth-oauthlib's InstalledAppFlow registers http://localhost:PORT/.
    with CallbackServer(port=0, path="/", force_https=False, timeout=60) as server:
        assert server.redirect_uri.endswith("/") and server.redirect_uri.count("/") == 3
        assert get(server.redirect_uri + "health")[0] == 200
        assert get(server.redirect_uri + "?code=root")[0] == 200
        result = server.wait(10)
    assert result is not None and result["path"] == "/" and result["params"] == {"code": "root"}


def test_a_loopback_redirect_uris_port_is_listened_on_when_no_port_is_given() -> None:
    port = free_port()
    with CallbackServer(redirect_uri=f"http://localhost:{port}/", force_https=False, timeout=60) as server:
        assert server.port == port
        assert get(f"http://[::1]:{port}/health")[0] == 200
        assert get(f"http://127.0.0.1:{port}/?code=p")[0] == 200
        result = server.wait(10)
    assert result is not None and result["params"] == {"code": "p"}


def test_a_refused_callback_reaches_the_logger_with_names_only() -> None:
    logger, kept = private_logger("my.app.refused")
    with CallbackServer(port=0, force_https=False, timeout=60, logger=logger,
                        expect_state="s3cret", expect_issuer="https://id.example") as server:
        assert get(server.redirect_uri + "?error=invalid_scope&state=s3cret")[0] == 400
        assert get(server.redirect_uri + "?code=c&state=guess&iss=https://id.example")[0] == 400
        assert server.wait(0.2) is None
    said = [m for m in kept.messages() if m.startswith("refused a callback")]
    assert said == [
        "refused a callback: no iss (the provider reported error=invalid_scope); still waiting",
        "refused a callback: a state other than the expected one; still waiting",
    ], kept.messages()
    assert all(r.levelno == logging.WARNING for r in kept.records if r.getMessage() in said)
