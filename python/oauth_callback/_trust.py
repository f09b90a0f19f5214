"""The local CA, for SDKs that offer it to their users: no certificate
warning on the callback page. Each call returns what it did as a
`TrustReport`, and prints nothing (`print(report)` shows it as the command
line's `oauth-callback trust` does)."""

import datetime
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Literal, Optional, Union, cast

from . import _native
from ._errors import ConfigError

__all__ = ["StoreOutcome", "TrustError", "TrustReport", "export_root", "trust", "trust_status", "untrust"]

StoreState = Literal["trusted", "already trusted", "removed", "missing", "not present", "failed"]
CaState = Literal["created", "kept", "found", "deleted", "absent", "unusable"]


@dataclass(frozen=True)
class StoreOutcome:
    """What became of the root in one store."""

    store: str
    """The store, e.g. `"Firefox (/home/alice/.mozilla/firefox/x.default)"`."""
    state: StoreState
    """`"trusted"` (it holds the root), `"already trusted"` (nothing was
    done), `"removed"`, `"missing"` (it does not hold the root), `"not
    present"` (it cannot be used here) or `"failed"` (it could not be
    changed): see `reason`."""
    reason: Optional[str]
    """Why a store is not present or failed, e.g. `"certutil is missing"`."""
    needs_privileges: bool
    """Whether it failed for want of administrator rights (root)."""
    system: bool
    """Whether it is the system's store (curl, Python's `ssl`...), changed
    only by `trust(system=True)`."""
    text: str
    """Its line of the command line's report, e.g. `"Firefox (...): trusted"`."""

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class TrustReport:
    """What `trust()`, `untrust()` or `trust_status()` found or did."""

    dir: str
    """The CA's folder (`~/.local/share/oauth-callback/ca` on Linux)."""
    ca: CaState
    """What became of the CA: `"created"` now, `"kept"` (it was there),
    `"found"` (a status), `"deleted"`, `"absent"`, or `"unusable"` (a
    status: it is there and cannot be used, see `unusable`)."""
    unusable: Optional[str]
    """Why the CA that was there cannot be used (a file missing or
    unreadable, parts that do not chain to its root): a status says so, and
    `trust()` made a new one in its place."""
    expires: Optional[datetime.datetime]
    """When the CA stops being valid (UTC), when there is one."""
    renewal_due: Optional[str]
    """A sentence saying to renew the CA, within 30 days of its end."""
    stores: List[StoreOutcome]
    """One per store."""
    text: str
    """The report as the command line prints it, one line per fact."""

    def __str__(self) -> str:
        return self.text.rstrip("\n")


class TrustError(ConfigError):
    """The local CA could not be made, trusted or removed (`trust()`,
    `untrust()`, `trust_status()`, `export_root()`): no `certutil`, no
    system store, a store that refused. The message says which, and what to
    do; when some stores were changed and others not, `report` is the
    `TrustReport` of what was done (else `None`)."""

    def __init__(self, message: str, report: Optional[TrustReport] = None) -> None:
        super().__init__(message)
        self.report = report


def trust(*, system: bool = False) -> TrustReport:
    """Make, once, a local CA that can vouch only for loopback TLS servers,
    and trust its root in this user's stores for websites only (Chrome and
    Firefox's NSS databases on Linux, the login keychain on macOS, the
    user's Root store on Windows and from WSL), so that no server started
    afterwards, here or from the command line, shows a certificate warning.
    With `system=True`, also the system's store, for curl and Python's
    `ssl` (needs root). Blocks while the stores' programs run. Raises
    `TrustError` (a `ConfigError`) saying why and what to do, with the
    report of what was done when only some stores could be changed;
    `OSError` when a file or program is refused."""
    return _checked(_report(_native.trust(system=system)))


def untrust(*, system: bool = False) -> TrustReport:
    """Take the root out of every store of this user that holds it (the
    system's too with `system=True`, needs root: only this CA's root), then
    delete the CA, whatever part of it is there (kept when a store could
    not be changed, or when the system's store holds the root and `system`
    was not asked). Raises as `trust()` does."""
    return _checked(_report(_native.untrust(system=system)))


def export_root(file: Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]) -> TrustReport:
    """Make the local CA once and write its public root (never a key) to
    `file` (a path as `open()` takes it: new, or a regular file), for a
    browser on another machine or a store added by hand. Raises
    `TrustError` or `OSError`."""
    return _report(_native.export_root(os.fsdecode(os.fspath(file))))


def trust_status() -> TrustReport:
    """The CA (folder, end of validity) and each store, holding the root or
    not; changes nothing. Raises `TrustError`."""
    return _report(_native.trust_status())


def _checked(report: TrustReport) -> TrustReport:
    """`report`, or `TrustError` carrying it when a store failed."""
    failed = [store for store in report.stores if store.state == "failed"]
    if not failed:
        return report
    fix = "; run this program as root (for instance with sudo)" if any(s.needs_privileges for s in failed) else ""
    said = "; ".join(str(store) for store in failed)
    raise TrustError(f"a store could not be read or changed ({said}){fix}", report)


def _report(native: Dict[str, Any]) -> TrustReport:
    expires = native["expires"]
    return TrustReport(
        dir=native["dir"],
        ca=cast(CaState, native["ca"]),
        unusable=native["unusable"],
        expires=None if expires is None else datetime.datetime.fromtimestamp(expires, datetime.timezone.utc),
        renewal_due=native["renewal_due"],
        stores=[
            StoreOutcome(
                store=store["store"],
                state=cast(StoreState, store["state"]),
                reason=store["reason"],
                needs_privileges=store["needs_privileges"],
                system=store["system"],
                text=store["text"],
            )
            for store in native["stores"]
        ],
        text=native["text"],
    )
