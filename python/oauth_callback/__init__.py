"""Receive the one OAuth redirect that ends a native app's sign-in on a
loopback address: the original `callback.py` API (`run_callback_server`,
`CallbackServer`), served in this process by the oauth-callback Rust library,
plus an asyncio face (`AsyncCallbackServer`).

    from oauth_callback import run_callback_server

    res = run_callback_server(port=8080, path="/callback", timeout=180, adhoc_ssl=True)
    if res is None:
        raise TimeoutError("Callback did not arrive in time")
    print(res["params"])
"""

from ._asyncio import AsyncCallbackServer
from ._errors import CertificateNotFoundError, ConfigError, PortInUseError
from ._server import CallbackServer, run_callback_server
from ._trust import StoreOutcome, TrustError, TrustReport, export_root, trust, trust_status, untrust

__all__ = [
    "AsyncCallbackServer",
    "CallbackServer",
    "CertificateNotFoundError",
    "ConfigError",
    "PortInUseError",
    "StoreOutcome",
    "TrustError",
    "TrustReport",
    "export_root",
    "run_callback_server",
    "trust",
    "trust_status",
    "untrust",
]
