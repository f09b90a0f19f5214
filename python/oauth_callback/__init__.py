"""Receive the one OAuth redirect that ends a native app's sign-in on a
loopback address: the original `callback.py` API (`run_callback_server`,
`CallbackServer`), served in this process by the oauth-callback Rust library,
plus an asyncio face (`AsyncCallbackServer`), and the whole sign-in in one
call (`sign_in`, `sign_in_async`): discovery, PKCE, the code exchange and a
verified ID token; and a valid token every time (`get_token`,
`get_token_async`: the token cache, a refresh, or a sign-in) and `sign_out`.

    from oauth_callback import sign_in

    tokens = sign_in(issuer="https://id.example", client_id="my-cli", scopes=["openid", "email"])
    print(tokens["id_token_claims"]["sub"])

    from oauth_callback import run_callback_server

    res = run_callback_server(port=8080, path="/callback", timeout=180, adhoc_ssl=True)
    if res is None:
        raise TimeoutError("Callback did not arrive in time")
    print(res["params"])
"""

from ._asyncio import AsyncCallbackServer
from ._errors import CertificateNotFoundError, ConfigError, PortInUseError
from ._server import CallbackServer, run_callback_server
from ._sign_in import (
    CheckFailedError,
    ProviderError,
    ProviderUnreachableError,
    SignInConfigError,
    SignInError,
    SignInTimeoutError,
    get_token,
    get_token_async,
    sign_in,
    sign_in_async,
    sign_out,
)
from ._trust import StoreOutcome, TrustError, TrustReport, export_root, trust, trust_status, untrust

__all__ = [
    "AsyncCallbackServer",
    "CallbackServer",
    "CertificateNotFoundError",
    "CheckFailedError",
    "ConfigError",
    "PortInUseError",
    "ProviderError",
    "ProviderUnreachableError",
    "SignInConfigError",
    "SignInError",
    "SignInTimeoutError",
    "StoreOutcome",
    "TrustError",
    "TrustReport",
    "export_root",
    "get_token",
    "get_token_async",
    "run_callback_server",
    "sign_in",
    "sign_in_async",
    "sign_out",
    "trust",
    "trust_status",
    "untrust",
]
