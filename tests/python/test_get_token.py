"""`get_token`, `get_token_async` and `sign_out`: staying signed in from
Python against the end-to-end suite's OpenID provider (refresh tokens
rotated at each use, revocation) in headless Chromium, each test with a
token folder of its own (`XDG_DATA_HOME`)."""

import asyncio
import json
import logging
import os
import stat
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple
from urllib.parse import urlencode

import pytest

from oauth_callback import SignInConfigError, get_token, get_token_async, sign_out

from conftest import JsonHandler, StandInServer
from test_sign_in import CLIENT_ID, provider, sign_in_in_chromium  # noqa: F401 (a fixture)


@pytest.fixture
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data folder of this test's own: where the token folder is made."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path / "data" / "oauth-callback" / "tokens"


def never_opened(url: str) -> None:
    raise AssertionError(f"no browser should open, but one was sent to {url}")


def refresh_at(issuer: str, refresh_token: str) -> Dict[str, Any]:
    """The provider's answer to a refresh with `refresh_token`."""
    body = urlencode({"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": CLIENT_ID})
    request = urllib.request.Request(f"{issuer}/token", data=body.encode(),
                                     headers={"content-type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            answer: Dict[str, Any] = json.load(response)
    except urllib.error.HTTPError as refused:
        answer = json.load(refused)
    return answer


@pytest.mark.chromium
def test_get_token_signs_in_then_caches_refreshes_and_signs_out(
        provider: Tuple[str, int], data_home: Path) -> None:  # noqa: F811
    issuer, port = provider
    settings: Dict[str, Any] = dict(issuer=issuer, client_id=CLIENT_ID, scopes=["openid", "email"])

    def start(open_browser: Callable[[str], None]) -> Dict[str, Any]:
        return get_token(**settings, port=port, open_browser=open_browser, timeout=60)

    first = sign_in_in_chromium(issuer, start)
    assert first["source"] == "sign-in"
    assert first["id_token_claims"]["sub"] == "alice"
    assert stat.S_IMODE(os.stat(data_home).st_mode) == 0o700
    [entry] = list(data_home.glob("*.json"))
    assert stat.S_IMODE(os.stat(entry).st_mode) == 0o600

    cached = get_token(**settings, port=port, open_browser=never_opened)
    assert cached["source"] == "cache"
    assert cached["access_token"] == first["access_token"]

    refreshed = get_token(**settings, port=port, open_browser=never_opened, min_valid=86400)
    assert refreshed["source"] == "refresh"
    assert refreshed["refresh_token"] != first["refresh_token"]
    assert json.loads(entry.read_text())["tokens"]["refresh_token"] == refreshed["refresh_token"]

    again = asyncio.run(get_token_async(**settings, port=port, open_browser=never_opened))
    assert again["source"] == "cache"
    assert again["access_token"] == refreshed["access_token"]

    assert sign_out(**settings) == "revoked"
    assert refresh_at(issuer, refreshed["refresh_token"])["error"] == "invalid_grant"
    assert list(data_home.glob("*.json")) == []
    assert sign_out(**settings) == "nothing-cached"


@pytest.mark.chromium
def test_threads_at_once_share_one_sign_in(provider: Tuple[str, int], data_home: Path) -> None:  # noqa: F811
    issuer, port = provider
    results: List[Dict[str, Any]] = []
    lock = threading.Lock()

    def start(open_browser: Callable[[str], None]) -> None:
        def one() -> None:
            tokens = get_token(issuer=issuer, client_id=CLIENT_ID, port=port, open_browser=open_browser, timeout=60)
            with lock:
                results.append(tokens)
        threads = [threading.Thread(target=one) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)

    sign_in_in_chromium(issuer, start)
    assert len(results) == 4
    assert len({tokens["access_token"] for tokens in results}) == 1
    assert sorted(tokens["source"] for tokens in results) == ["cache", "cache", "cache", "sign-in"]


def test_cache_none_keeps_nothing_and_bad_options_are_config_errors(data_home: Path) -> None:
    settings: Dict[str, Any] = dict(issuer="https://id.example", client_id="cli")
    with pytest.raises(SignInConfigError, match="min_valid"):
        get_token(**settings, min_valid="soon")  # type: ignore[arg-type]
    with pytest.raises(SignInConfigError, match="min_valid"):
        get_token(**settings, min_valid=-1)
    with pytest.raises(SignInConfigError, match='cache must be "file", "keyring" or None'):
        get_token(**settings, cache="keyring-please")  # type: ignore[arg-type]
    assert sign_out(**settings, cache=None) == "nothing-cached"
    assert sign_out(**settings) == "nothing-cached"
    assert not data_home.exists()


class DeviceStandIn(StandInServer):
    """A plain OAuth provider with RFC 8414 metadata and a device
    authorization endpoint, whose token endpoint answers
    `authorization_pending` once, then tokens."""

    def __init__(self) -> None:
        stand_in = self
        self.polls = 0

        class Handler(JsonHandler):
            def do_GET(self) -> None:
                self.send_json({"issuer": stand_in.issuer, "authorization_endpoint": f"{stand_in.issuer}/auth",
                                "token_endpoint": f"{stand_in.issuer}/token",
                                "device_authorization_endpoint": f"{stand_in.issuer}/device/auth"})

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["content-length"]))
                if self.path == "/device/auth":
                    return self.send_json({"device_code": "dc", "user_code": "WDJB-MJHT", "expires_in": 60,
                                           "verification_uri": f"{stand_in.issuer}/device", "interval": 1})
                stand_in.polls += 1
                if stand_in.polls == 1:
                    return self.send_json({"error": "authorization_pending"}, 400)
                return self.send_json({"access_token": "at-device", "token_type": "Bearer", "expires_in": 60})

        super().__init__(Handler)


def test_get_token_device_shows_the_code_on_stderr_and_polls(capfd: pytest.CaptureFixture[str]) -> None:
    stand_in = DeviceStandIn()
    try:
        tokens = get_token(issuer=stand_in.issuer, client_id="cli", device=True, cache=None,
                           open_browser=never_opened)
    finally:
        stand_in.close()
    assert tokens["access_token"] == "at-device"
    assert tokens["source"] == "sign-in"
    assert stand_in.polls == 2
    err = capfd.readouterr().err
    assert f"to sign in, open {stand_in.issuer}/device and enter the code WDJB-MJHT" in err


def test_get_token_keyring_without_a_secret_service_warns_once_and_keeps_files(
        data_home: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    stand_in = DeviceStandIn()
    try:
        with caplog.at_level(logging.WARNING, logger="oauth_callback"):
            tokens = get_token(issuer=stand_in.issuer, client_id="cli", device=True, cache="keyring",
                               open_browser=never_opened)
        assert tokens["access_token"] == "at-device"
        warnings = [r.getMessage() for r in caplog.records if "keyring cannot be used" in r.getMessage()]
        assert len(warnings) == 1, caplog.records
        [entry] = list(data_home.glob("*.json"))
        assert json.loads(entry.read_text())["tokens"]["access_token"] == "at-device"
        assert sign_out(issuer=stand_in.issuer, client_id="cli", cache="keyring") == "no-revocation-endpoint"
        assert list(data_home.glob("*.json")) == []
    finally:
        stand_in.close()
