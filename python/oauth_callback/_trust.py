"""The local CA, for SDKs that offer it to their users: no certificate
warning on the callback page."""

from . import _native

__all__ = ["trust"]


def trust(*flags: str) -> None:
    """Make, once, a local CA that can vouch only for loopback TLS servers,
    and trust its root in this user's browsers for websites only, so that
    no server started afterwards (here or from the command line) shows a
    certificate warning. The same as `oauth-callback trust FLAGS`:
    `"--status"`, `"--system"`, `"--export", FILE`, `"--uninstall"`; what
    it does is printed on stdout. Raises `ConfigError` with the reason when
    it cannot (an unknown flag, no `certutil`, a store that refuses)."""
    _native.trust(list(flags))
