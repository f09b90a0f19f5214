"""The exceptions a server that cannot start raises. Each carries the
library's message; `except ConfigError` catches them all."""

import errno

__all__ = ["CertificateNotFoundError", "ConfigError", "PortInUseError"]


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
