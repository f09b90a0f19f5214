"""`sign_in` and `sign_in_async`: the whole sign-in from Python, against the
end-to-end suite's OpenID provider in headless Chromium, and a stand-in
provider for the refusals and the errors' types."""

import asyncio
import json
import logging
import queue
import subprocess
import threading
import urllib.request
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Tuple
from urllib.parse import parse_qs, urlencode, urlparse

import pytest

import oauth_callback
from oauth_callback import (
    CheckFailedError,
    ConfigError,
    ProviderError,
    SignInConfigError,
    SignInError,
    SignInTimeoutError,
    sign_in,
    sign_in_async,
)

from conftest import INSECURE, JsonHandler, StandInServer, chromium_page, free_port

E2E = Path(__file__).resolve().parent.parent / "e2e"
CLIENT_ID = "oauth-callback-e2e"


@pytest.fixture
def provider() -> Iterator[Tuple[str, int]]:
    """The end-to-end suite's oidc-provider (node), for a receiver on the
    port it gives: (issuer, port)."""
    port = free_port()
    process = subprocess.Popen(
        ["node", "provider.mjs", f"https://127.0.0.1:{port}/callback"],
        cwd=E2E, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("issuer "), line
        yield line.split()[1], port
    finally:
        process.kill()
        process.wait()


def sign_in_in_chromium(issuer: str, start: Callable[[Callable[[str], None]], Any]) -> Any:
    """Run `start(open_browser)` on a thread; sign in at `issuer`'s pages
    in Chromium at the URL it is given; what `start` returned."""
    from playwright.sync_api import sync_playwright

    urls: "queue.Queue[str]" = queue.Queue()
    outcome: List[Any] = []
    thread = threading.Thread(target=lambda: outcome.append(start(urls.put)))
    thread.start()
    try:
        url = urls.get(timeout=30)
        assert url.startswith(f"{issuer}/auth?")
        with sync_playwright() as playwright:
            browser, page = chromium_page(playwright)
            page.goto(url)
            page.fill("input[name=login]", "alice")
            page.fill("input[name=password]", "secret")
            page.click("button[type=submit]")
            page.click("button[type=submit]")
            page.wait_for_selector("text=Credentials received successfully")
            browser.close()
    finally:
        thread.join(60)
    assert len(outcome) == 1
    return outcome[0]


def assert_works_at_userinfo(issuer: str, tokens: Dict[str, Any]) -> None:
    assert tokens["issuer"] == issuer
    assert tokens["id_token_claims"]["sub"] == "alice"
    assert tokens["id_token_claims"]["aud"] == CLIENT_ID
    request = urllib.request.Request(f"{issuer}/me", headers={"authorization": f"Bearer {tokens['access_token']}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert json.load(response) == {"sub": "alice", "email": "alice@example.org"}


@pytest.mark.chromium
def test_sign_in_with_a_real_provider_and_the_token_works(provider: Tuple[str, int]) -> None:
    issuer, port = provider

    def start(open_browser: Callable[[str], None]) -> Dict[str, Any]:
        return sign_in(issuer=issuer, client_id=CLIENT_ID, port=port, scopes=["openid", "email"],
                       open_browser=open_browser, timeout=60)

    assert_works_at_userinfo(issuer, sign_in_in_chromium(issuer, start))


@pytest.mark.chromium
def test_sign_in_async_with_a_real_provider(provider: Tuple[str, int]) -> None:
    issuer, port = provider

    def start(open_browser: Callable[[str], None]) -> Dict[str, Any]:
        return asyncio.run(sign_in_async(issuer=issuer, client_id=CLIENT_ID, port=port, scopes="openid email",
                                         open_browser=open_browser, timeout=60))

    assert_works_at_userinfo(issuer, sign_in_in_chromium(issuer, start))


class StandIn(StandInServer):
    """A plain OAuth provider with RFC 8414 metadata on 127.0.0.1, whose
    authorization endpoint redirects at once with `answer`."""

    def __init__(self, answer: Dict[str, str]) -> None:
        stand_in = self
        self.answer = answer
        self.tokens_asked = 0

        class Handler(JsonHandler):
            def do_GET(self) -> None:
                url = urlparse(self.path)
                if url.path == "/.well-known/oauth-authorization-server":
                    return self.send_json(stand_in.metadata())
                if url.path == "/auth":
                    query = {k: v[0] for k, v in parse_qs(url.query).items()}
                    back = {**stand_in.answer, "state": query["state"], "iss": stand_in.issuer}
                    self.send_response(302)
                    self.send_header("location", f"{query['redirect_uri']}?{urlencode(back)}")
                    self.end_headers()
                    return None
                self.send_error(404)

            def do_POST(self) -> None:
                stand_in.tokens_asked += 1
                self.rfile.read(int(self.headers["content-length"]))
                self.send_json({"access_token": "at-1", "token_type": "Bearer", "expires_in": 60})

        super().__init__(Handler)

    def metadata(self) -> Dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/auth",
            "token_endpoint": f"{self.issuer}/token",
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": True,
        }


def follow(url: str) -> None:
    """What a browser does with the authorization request: to the stand-in,
    then to the callback it redirects to (an ad hoc certificate)."""
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=INSECURE))
    with opener.open(url, timeout=10) as response:
        response.read()


@pytest.fixture
def stand_in() -> Iterator[Callable[[Dict[str, str]], StandIn]]:
    made: List[StandIn] = []

    def make(answer: Dict[str, str]) -> StandIn:
        made.append(StandIn(answer))
        return made[-1]

    yield make
    for each in made:
        each.close()


def test_a_plain_oauth_provider_signs_in_and_the_url_goes_to_the_callable(
    stand_in: Callable[[Dict[str, str]], StandIn],
) -> None:
    provider = stand_in({"code": "c-1"})
    tokens = sign_in(issuer=provider.issuer, client_id="cli", port=0, open_browser=follow, timeout=20)
    assert tokens["access_token"] == "at-1"
    assert tokens["issuer"] == provider.issuer
    assert "id_token_claims" not in tokens
    assert provider.tokens_asked == 1


def test_the_providers_refusal_is_a_provider_error_with_its_words(
    stand_in: Callable[[Dict[str, str]], StandIn],
) -> None:
    provider = stand_in({"error": "access_denied", "error_description": "The user said no"})
    with pytest.raises(ProviderError) as raised:
        asyncio.run(sign_in_async(issuer=provider.issuer, client_id="cli", open_browser=follow, timeout=20))
    assert raised.value.error == "access_denied"
    assert raised.value.description == "The user said no"
    assert isinstance(raised.value, SignInError)
    assert provider.tokens_asked == 0


def test_a_metadata_issuer_that_differs_is_a_failed_check(
    stand_in: Callable[[Dict[str, str]], StandIn],
) -> None:
    provider = stand_in({"code": "c-1"})
    # The issuer asked for, with a trailing slash: not the metadata's, byte for byte.
    with pytest.raises(CheckFailedError, match="names the issuer"):
        sign_in(issuer=provider.issuer + "/", client_id="cli", open_browser=follow)


def test_no_answer_in_time_is_a_timeout_error(
    stand_in: Callable[[Dict[str, str]], StandIn], caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    provider = stand_in({"code": "c-1"})
    with caplog.at_level(logging.DEBUG, logger="oauth_callback"):
        with pytest.raises(SignInTimeoutError) as raised:
            sign_in(issuer=provider.issuer, client_id="cli", open_browser=False, timeout=0.5)
    assert isinstance(raised.value, TimeoutError)
    # The address to open went to stderr, never to the logger (it carries
    # the state); nothing was sent to the token endpoint.
    shown = capfd.readouterr().err
    assert f"open this page to sign in: {provider.issuer}/auth?" in shown
    state = parse_qs(urlparse(shown.split("open this page to sign in: ")[1].split()[0]).query)["state"][0]
    assert all(state not in r.getMessage() for r in caplog.records)
    assert provider.tokens_asked == 0


@pytest.mark.parametrize("arguments, said", [
    ({}, "give issuer="),
    ({"issuer": "http://id.example"}, "must be https://"),
    ({"issuer": "https://id.example", "params": {"state": "x"}}, "set by the sign-in itself"),
    ({"issuer": "https://id.example", "client_secret": ""}, "client secret is empty"),
    ({"authorization_endpoint": "https://id.example/a"}, "go together"),
    ({"issuer": "https://id.example", "scopes": [1]}, "scopes must be strings"),
])
def test_bad_settings_are_refused_before_anything_is_sent(arguments: Dict[str, Any], said: str) -> None:
    with pytest.raises(SignInConfigError, match=said) as raised:
        sign_in(client_id="cli", open_browser=False, **arguments)
    assert isinstance(raised.value, ConfigError) and isinstance(raised.value, SignInError)


def test_the_names_are_exported() -> None:
    for name in ("sign_in", "sign_in_async", "SignInError", "ProviderError", "CheckFailedError",
                 "ProviderUnreachableError", "SignInTimeoutError", "SignInConfigError"):
        assert name in oauth_callback.__all__
