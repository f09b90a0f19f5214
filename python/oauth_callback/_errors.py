"""The exceptions a server that cannot start raises, and `trust()`'s. Each
carries the library's message; `except ConfigError` catches them all."""

import errno
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from ._trust import TrustReport

__all__ = ["CertificateNotFoundError", "ConfigError", "PortInUseError", "TrustError"]


class ConfigError(ValueError):
    """The server refused its configuration (a setting out of range, an
    unreadable or invalid PEM file, a key that does not match, a port in
    use, an unusable handler...); nothing was left listening."""


class PortInUseError(OSError, ConfigError):
    """The port (each of them, given several) is taken by another program:
    an `OSError` with `errno.EADDRINUSE`, and a `ConfigError`."""

    def __init__(self, message: str) -> None:
        super().__init__(errno.EADDRINUSE, message)


class CertificateNotFoundError(FileNotFoundError, ConfigError):
    """The certificate or key file (`ssl_cert`, `ssl_key`) does not exist: a
    `FileNotFoundError` with its `filename`, and a `ConfigError`."""

    def __init__(self, message: str, filename: str) -> None:
        super().__init__(errno.ENOENT, message, filename)


class TrustError(ConfigError):
    """The local CA could not be made, trusted or removed (`trust()`,
    `untrust()`, `trust_status()`, `export_root()`): no `certutil`, no
    system store, a store that refused. The message says which, and what to
    do; when some stores were changed and others not, `report` is the
    `TrustReport` of what was done (else `None`)."""

    def __init__(self, message: str, report: "Optional[TrustReport]" = None) -> None:
        super().__init__(message)
        self.report = report
