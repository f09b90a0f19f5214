"""The Python `callback.py` module's documented examples, with only the import line changed (and a
free port, files made for the test, and a "browser" thread sending the
callback)."""

import logging
import secrets
import webbrowser
from typing import Any, Tuple
from urllib.parse import parse_qs, quote_plus, urlsplit

import pytest

from conftest import Browser, free_port

from oauth_callback import run_callback_server


def test_quick_start_with_pem_certificates(pem_pair: Tuple[str, str], pages: Tuple[str, str]) -> None:
    cert, key = pem_pair
    success, error = pages
    port = free_port()
    browser = Browser(f"https://127.0.0.1:{port}", "/callback?code=abc&state=xyz")

    res = run_callback_server(
        host="127.0.0.1",
        port=port,
        path="/callback",
        timeout=180,
        ssl_cert=cert,
        ssl_key=key,
        server="auto",   # uses gevent if installed
        success_html_path=success,  # optional
        error_html_path=error,      # optional
    )

    if res is None:
        raise TimeoutError("Callback did not arrive in time")

    params = res["params"]
    assert params == {"code": "abc", "state": "xyz"}
    assert res["method"] == "GET" and res["path"] == "/callback"
    assert isinstance(res["received_at"], int)
    status, body = browser.join()
    assert status == 200 and "Custom success" in body


def test_quick_start_with_an_adhoc_certificate() -> None:
    port = free_port()
    browser = Browser(f"https://127.0.0.1:{port}", "/callback?code=dev")
    res = run_callback_server(
        host="127.0.0.1",
        port=port,
        path="/callback",
        timeout=180,
        adhoc_ssl=True,
        server="werkzeug",  # you'll see the dev warning; normal in tests
        # success_html_path / error_html_path are also valid here
    )
    assert res is not None and res["params"] == {"code": "dev"}
    assert browser.join()[0] == 200


def test_minimal_orchestration_example(
    monkeypatch: pytest.MonkeyPatch, pem_pair: Tuple[str, str], pages: Tuple[str, str], tmp_path: Any
) -> None:
    cert, key = pem_pair
    port = free_port()
    browsers = []

    def provider_redirects(url: str, new: int = 0) -> bool:
        # The "browser": the provider sends it back with a code and the state.
        query = parse_qs(urlsplit(url).query)
        redirect = query["redirect_uri"][0]
        browsers.append(Browser(redirect.rsplit("/", 1)[0], f"/callback?code=granted&state={query['state'][0]}"))
        return True

    monkeypatch.setattr(webbrowser, "open", provider_redirects)
    (tmp_path / "assets").mkdir()
    monkeypatch.chdir(tmp_path)
    for page, name in zip(pages, ("success.html", "error.html")):
        (tmp_path / "assets" / name).write_text(open(page).read())
    (tmp_path / "cert.pem").write_text(open(cert).read())
    (tmp_path / "key.pem").write_text(open(key).read())

    # oauth_flow.py (integration example)
    CLIENT_ID = "..."
    REDIRECT_URI = f"https://127.0.0.1:{port}/callback"
    SCOPE = "read"

    state = secrets.token_urlsafe(24)
    auth_url = (
        "https://api.schwabapi.com/v1/oauth/authorize"
        f"?response_type=code&client_id={CLIENT_ID}"
        f"&redirect_uri={quote_plus(REDIRECT_URI)}&scope={SCOPE}&state={state}"
    )
    webbrowser.open(auth_url, new=2)

    result = run_callback_server(
        host="127.0.0.1", port=port, path="/callback",
        timeout=180,
        ssl_cert="cert.pem", ssl_key="key.pem", server="auto",
        success_html_path="assets/success.html",
        error_html_path="assets/error.html",
    )

    if result is None:
        raise TimeoutError("Timeout waiting for callback")

    params = result["params"]
    if params.get("state") != state:
        raise ValueError("Invalid state")
    if "error" in params:
        raise RuntimeError(params.get("error_description") or params["error"])  # handle to fit your app
    assert params["code"] == "granted"
    status, body = browsers[0].join()
    assert status == 200 and "Custom success" in body


def test_logs_go_to_the_logger_and_nothing_to_the_terminal(
    caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    browser = Browser(f"https://127.0.0.1:{port}", "/callback?code=1")
    with caplog.at_level(logging.DEBUG, logger="oauth_callback"):
        assert run_callback_server(port=port, timeout=60) is not None
    browser.join()
    records = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "oauth_callback"]
    said = [m for level, m in records if "certificate" in m]
    assert len(said) == 1 and said[0].startswith("no certificate given: serving a "), records
    assert (logging.DEBUG, f"listening on https://127.0.0.1:{port}/callback") in records, records
    assert (logging.INFO, "callback received method=GET path=/callback") in records, records
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")
