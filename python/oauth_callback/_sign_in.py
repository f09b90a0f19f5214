"""The whole sign-in in one call: discovery, PKCE, `state` and `nonce`, the
browser, the authorization response's checks, the code exchange and a
verified ID token, on the receiver (`oauth-callback sign-in`'s library); and
staying signed in: a valid token from the token cache, a refresh or a
sign-in (`get_token`, `oauth-callback token`'s), and the sign-out."""

import asyncio
import logging
from typing import Any, Callable, Dict, Literal, Mapping, Optional, Sequence, Union

from . import _native
from ._errors import ConfigError
from ._server import CallbackServer, FilePath

__all__ = [
    "CheckFailedError",
    "ProviderError",
    "ProviderUnreachableError",
    "SignInConfigError",
    "SignInError",
    "SignInTimeoutError",
    "get_token",
    "get_token_async",
    "sign_in",
    "sign_in_async",
    "sign_out",
]


class SignInError(Exception):
    """A sign-in ended without tokens; the subclasses say why. The message
    never holds a token, a code, a `state` or a `nonce`."""


class SignInConfigError(SignInError, ConfigError):
    """A setting is missing, malformed or impossible; nothing was sent."""


class ProviderError(SignInError):
    """The provider refused: an `error` in the authorization response (RFC
    6749 section 4.1.2.1) or from the token endpoint (section 5.2)."""

    def __init__(self, message: str, error: str, description: Optional[str]) -> None:
        super().__init__(message)
        #: The `error` code (`access_denied`, `invalid_grant`...), escaped.
        self.error = error
        #: The `error_description`, escaped and bounded, when given.
        self.description = description


class CheckFailedError(SignInError):
    """A check the specifications ask for failed (the metadata's issuer,
    PKCE support, the ID token's signature, issuer, audience, expiry,
    nonce...): what came back may be an attack, and none of it is used."""


class ProviderUnreachableError(SignInError):
    """The provider could not be reached (discovery, key set, token
    endpoint), or answered what cannot be used."""


class SignInTimeoutError(SignInError, TimeoutError):
    """No authorization response arrived within `timeout` seconds."""


# The arguments that set up the receiver, as `CallbackServer` takes them.
_RECEIVER = ("host", "port", "path", "timeout", "ssl_cert", "ssl_key", "adhoc_ssl", "self_signed",
             "force_https", "success_html_path", "error_html_path", "logger", "redirect_uri",
             "success_redirect", "error_redirect")
# The strings among the sign-in's own arguments.
_TEXTS = ("issuer", "resource", "authorization_endpoint", "token_endpoint", "client_secret",
          "browser_command", "client_id")


def _options(arguments: Dict[str, Any]) -> Dict[str, Any]:
    """The sign-in's own arguments among `arguments` (a call's parameters,
    by name), each one's type checked."""
    for name in _TEXTS:
        text = arguments.get(name)
        if text is not None and not isinstance(text, str):
            raise SignInConfigError(f"{name} must be a string, not {type(text).__name__}")
    scopes, client_name = arguments["scopes"], arguments["client_name"]
    open_browser = arguments.get("open_browser", False)
    if not isinstance(client_name, str):
        raise SignInConfigError(f"client_name must be a string, not {type(client_name).__name__}")
    if isinstance(scopes, str):
        scopes = scopes.split()
    if scopes is not None and not all(isinstance(scope, str) for scope in scopes):
        raise SignInConfigError(f"scopes must be strings, not {scopes!r}")
    pairs = list((arguments.get("params") or {}).items())
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in pairs):
        raise SignInConfigError("params must map names to strings")
    return {
        **{name: arguments.get(name) for name in _TEXTS},
        "client_name": client_name,
        "scopes": None if scopes is None else list(scopes),
        "params": pairs,
        "form_post": bool(arguments.get("form_post")),
        "par": bool(arguments.get("par")),
        "device": bool(arguments.get("device")),
        "open_browser": open_browser if callable(open_browser) else bool(open_browser),
    }


def _token_options(arguments: Dict[str, Any]) -> Dict[str, Any]:
    """`get_token`'s and `sign_out`'s own arguments, checked."""
    min_valid, cache = arguments.get("min_valid", 0), arguments["cache"]
    if isinstance(min_valid, bool) or not isinstance(min_valid, (int, float)):
        raise SignInConfigError(f"min_valid must be a number of seconds, not {min_valid!r}")
    if cache is not None and cache not in ("file", "keyring"):
        raise SignInConfigError(f'cache must be "file", "keyring" or None, not {cache!r}')
    return {"min_valid": float(min_valid), "cache": cache}


def _call(arguments: Dict[str, Any], token: bool = False) -> "_native.SignInCall":
    """The native call for `sign_in`'s (or with `token`, `get_token`'s)
    `arguments` (its parameters, by name), each one's type checked first:
    the receiver's as `CallbackServer` checks them (`port=None`: a free one,
    RFC 8252 section 7.3), then the sign-in's own."""
    receiver = CallbackServer(**{name: arguments[name] for name in _RECEIVER})
    options = _options(arguments)
    return _native.SignInCall(options, receiver._options, receiver._logger,
                              _token_options(arguments) if token else None)


async def _in_executor(call: "_native.SignInCall") -> Any:
    """Run `call` without blocking the loop; cancelling this stops it
    (nothing is left listening)."""
    running = asyncio.get_running_loop().run_in_executor(None, call.run)
    try:
        return await asyncio.shield(running)
    except asyncio.CancelledError:
        call.cancel()
        # The call ends at once; wait for it, so nothing stays behind.
        await asyncio.gather(running, return_exceptions=True)
        raise


def sign_in(
    *,
    client_id: Optional[str] = None,
    client_name: str = "oauth-callback",
    issuer: Optional[str] = None,
    resource: Optional[str] = None,
    authorization_endpoint: Optional[str] = None,
    token_endpoint: Optional[str] = None,
    client_secret: Optional[str] = None,
    scopes: Optional[Sequence[str]] = None,
    params: Optional[Mapping[str, str]] = None,
    form_post: bool = False,
    par: bool = False,
    device: bool = False,
    open_browser: Union[bool, Callable[[str], object]] = True,
    browser_command: Optional[str] = None,
    host: Optional[str] = None,
    port: Union[int, Sequence[int], None] = None,
    path: str = _native.DEFAULT_PATH,
    timeout: float = _native.DEFAULT_TIMEOUT,
    ssl_cert: Optional[FilePath] = None,
    ssl_key: Optional[FilePath] = None,
    adhoc_ssl: bool = False,
    self_signed: bool = False,
    force_https: bool = True,
    success_html_path: Optional[FilePath] = None,
    error_html_path: Optional[FilePath] = None,
    logger: Optional[logging.Logger] = None,
    redirect_uri: Optional[str] = None,
    success_redirect: Optional[str] = None,
    error_redirect: Optional[str] = None,
) -> Dict[str, Any]:
    """Sign in and return the tokens: every member of the provider's token
    response as sent, plus `expires_at` (Unix seconds), `issuer` (when
    known) and `id_token_claims` (only when an ID token came and passed
    every check) - the dict `oauth-callback sign-in` prints.

    The client: `client_id=`, or none to register one named `client_name`
    at the provider (RFC 7591), kept per provider and used again. The
    provider: `issuer=` (its metadata discovered, RFC 8414 / OpenID
    Connect Discovery), `resource=` (RFC 9728; also named in the requests,
    RFC 8707), or `authorization_endpoint=` with `token_endpoint=` (no
    metadata, no ID token). The receiver takes `CallbackServer`'s arguments;
    `port=None` picks a free port. `open_browser=` may be a function: it is
    called with the authorization request's URL once the receiver listens,
    instead of opening the browser (`False`, or no browser opens: the URL is
    written on the process's stderr, never to the logger, as it carries the
    request's `state`). `device=True` signs in with the device authorization
    grant (RFC 8628) instead: the user code and where to enter it are
    written on stderr, and nothing listens. The GIL is released while it runs;
    Ctrl-C raises `KeyboardInterrupt` with nothing left listening.

    Raises a `SignInError`: `SignInConfigError` (bad settings, before
    anything is sent), `ProviderError`, `CheckFailedError`,
    `ProviderUnreachableError` or `SignInTimeoutError`; the receiver's own
    refusals as `CallbackServer.start` raises them (`ConfigError`...)."""
    call = _call(locals())
    result: Dict[str, Any] = call.run()
    return result


async def sign_in_async(
    *,
    client_id: Optional[str] = None,
    client_name: str = "oauth-callback",
    issuer: Optional[str] = None,
    resource: Optional[str] = None,
    authorization_endpoint: Optional[str] = None,
    token_endpoint: Optional[str] = None,
    client_secret: Optional[str] = None,
    scopes: Optional[Sequence[str]] = None,
    params: Optional[Mapping[str, str]] = None,
    form_post: bool = False,
    par: bool = False,
    device: bool = False,
    open_browser: Union[bool, Callable[[str], object]] = True,
    browser_command: Optional[str] = None,
    host: Optional[str] = None,
    port: Union[int, Sequence[int], None] = None,
    path: str = _native.DEFAULT_PATH,
    timeout: float = _native.DEFAULT_TIMEOUT,
    ssl_cert: Optional[FilePath] = None,
    ssl_key: Optional[FilePath] = None,
    adhoc_ssl: bool = False,
    self_signed: bool = False,
    force_https: bool = True,
    success_html_path: Optional[FilePath] = None,
    error_html_path: Optional[FilePath] = None,
    logger: Optional[logging.Logger] = None,
    redirect_uri: Optional[str] = None,
    success_redirect: Optional[str] = None,
    error_redirect: Optional[str] = None,
) -> Dict[str, Any]:
    """`sign_in` for asyncio programs, awaited without blocking the loop;
    cancelling it stops the sign-in (nothing is left listening)."""
    result: Dict[str, Any] = await _in_executor(_call(locals()))
    return result


def get_token(
    *,
    client_id: Optional[str] = None,
    client_name: str = "oauth-callback",
    issuer: Optional[str] = None,
    resource: Optional[str] = None,
    authorization_endpoint: Optional[str] = None,
    token_endpoint: Optional[str] = None,
    client_secret: Optional[str] = None,
    scopes: Optional[Sequence[str]] = None,
    params: Optional[Mapping[str, str]] = None,
    form_post: bool = False,
    par: bool = False,
    device: bool = False,
    open_browser: Union[bool, Callable[[str], object]] = True,
    browser_command: Optional[str] = None,
    min_valid: float = 60,
    cache: Optional[Literal["file", "keyring"]] = "file",
    host: Optional[str] = None,
    port: Union[int, Sequence[int], None] = None,
    path: str = _native.DEFAULT_PATH,
    timeout: float = _native.DEFAULT_TIMEOUT,
    ssl_cert: Optional[FilePath] = None,
    ssl_key: Optional[FilePath] = None,
    adhoc_ssl: bool = False,
    self_signed: bool = False,
    force_https: bool = True,
    success_html_path: Optional[FilePath] = None,
    error_html_path: Optional[FilePath] = None,
    logger: Optional[logging.Logger] = None,
    redirect_uri: Optional[str] = None,
    success_redirect: Optional[str] = None,
    error_redirect: Optional[str] = None,
) -> Dict[str, Any]:
    """A valid token, as `oauth-callback token` gives it: from the token
    cache while it stays valid for `min_valid` more seconds, else refreshed
    with the cached refresh token (RFC 6749 section 6; a refreshed ID token
    must name the same user), else by `sign_in` with these arguments. What
    is new is kept before it is returned; callers in several threads or
    processes at once do one sign-in or refresh between them (a lock per
    entry).

    Returns `sign_in`'s dict plus `source`: `"cache"`, `"refresh"` or
    `"sign-in"`. `cache="file"` keeps tokens in the user's data folder
    (`~/.local/share/oauth-callback/tokens`, 0700, its files 0600);
    `"keyring"` in the operating system's secret store (Secret Service,
    Keychain, Credential Manager; the files, with one warning, when it does
    not answer within 5 s); `None` keeps nothing. Raises what `sign_in` raises; a token cache that cannot
    be used is a `SignInError` naming it."""
    result: Dict[str, Any] = _call(locals(), token=True).run()
    return result


async def get_token_async(
    *,
    client_id: Optional[str] = None,
    client_name: str = "oauth-callback",
    issuer: Optional[str] = None,
    resource: Optional[str] = None,
    authorization_endpoint: Optional[str] = None,
    token_endpoint: Optional[str] = None,
    client_secret: Optional[str] = None,
    scopes: Optional[Sequence[str]] = None,
    params: Optional[Mapping[str, str]] = None,
    form_post: bool = False,
    par: bool = False,
    device: bool = False,
    open_browser: Union[bool, Callable[[str], object]] = True,
    browser_command: Optional[str] = None,
    min_valid: float = 60,
    cache: Optional[Literal["file", "keyring"]] = "file",
    host: Optional[str] = None,
    port: Union[int, Sequence[int], None] = None,
    path: str = _native.DEFAULT_PATH,
    timeout: float = _native.DEFAULT_TIMEOUT,
    ssl_cert: Optional[FilePath] = None,
    ssl_key: Optional[FilePath] = None,
    adhoc_ssl: bool = False,
    self_signed: bool = False,
    force_https: bool = True,
    success_html_path: Optional[FilePath] = None,
    error_html_path: Optional[FilePath] = None,
    logger: Optional[logging.Logger] = None,
    redirect_uri: Optional[str] = None,
    success_redirect: Optional[str] = None,
    error_redirect: Optional[str] = None,
) -> Dict[str, Any]:
    """`get_token` for asyncio programs, awaited without blocking the loop;
    cancelling it stops it (nothing is left listening)."""
    result: Dict[str, Any] = await _in_executor(_call(locals(), token=True))
    return result


SignOutOutcome = Literal["revoked", "no-revocation-endpoint", "nothing-cached"]


def sign_out(
    *,
    client_id: Optional[str] = None,
    client_name: str = "oauth-callback",
    issuer: Optional[str] = None,
    resource: Optional[str] = None,
    authorization_endpoint: Optional[str] = None,
    token_endpoint: Optional[str] = None,
    client_secret: Optional[str] = None,
    scopes: Optional[Sequence[str]] = None,
    cache: Optional[Literal["file", "keyring"]] = "file",
    logger: Optional[logging.Logger] = None,
) -> SignOutOutcome:
    """Sign out of the entry `get_token` keeps for these arguments: revoke
    its refresh token (or access token) at the provider when it has a
    revocation endpoint (RFC 7009), then remove it. Returns `"revoked"`,
    `"no-revocation-endpoint"` (removed here only) or `"nothing-cached"`.

    Raises `ProviderUnreachableError` when the provider cannot be reached
    (the entry is kept, to sign out again later), `ProviderError` when it
    refuses (the entry is removed)."""
    arguments = locals()
    options = _options(arguments)
    logger = logger if logger is not None else logging.getLogger("oauth_callback")
    call = _native.SignInCall(options, None, logger, _token_options(arguments))
    outcome: SignOutOutcome = call.run()
    return outcome
