//! What trusting the local CA did or found, as data: the CA's state, and
//! one outcome per store; displayed, one line per fact, as the command
//! line prints it.

use std::fmt;
use std::path::PathBuf;
use std::time::SystemTime;

use super::stores;

/// What became of the root in one store.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreState {
    /// It holds the root (added now, when trusting).
    Trusted,
    /// It held the root already: nothing was done.
    AlreadyTrusted,
    /// The root was taken out of it.
    Removed,
    /// It does not hold the root.
    Missing,
    /// It cannot be used here, and why (e.g. `certutil is missing`).
    NotPresent(String),
    /// It could not be read or changed: why, and whether administrator rights
    /// (root) would do it. The other stores were still handled.
    Failed {
        /// What its program or the system said.
        reason: String,
        /// Whether the system refused for want of privileges.
        needs_privileges: bool,
    },
}

impl StoreState {
    /// Its name, without the reason: `trusted`, `already trusted`,
    /// `removed`, `missing`, `not present` or `failed`.
    pub fn name(&self) -> &'static str {
        match self {
            StoreState::Trusted => "trusted",
            StoreState::AlreadyTrusted => "already trusted",
            StoreState::Removed => "removed",
            StoreState::Missing => "missing",
            StoreState::NotPresent(_) => "not present",
            StoreState::Failed { .. } => "failed",
        }
    }
}

impl fmt::Display for StoreState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreState::NotPresent(why) => write!(f, "{} ({why})", self.name()),
            StoreState::Failed { reason, .. } => write!(f, "{}: {reason}", self.name()),
            _ => f.write_str(self.name()),
        }
    }
}

/// One store's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreOutcome {
    /// The store, e.g. `Firefox (/home/alice/.mozilla/firefox/x.default)`.
    pub store: String,
    /// What became of the root there.
    pub state: StoreState,
    /// Whether it is the system's store (for curl, Python...), which
    /// [`trust`] changes only when asked.
    pub system: bool,
}

impl fmt::Display for StoreOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.store, self.state)
    }
}

/// What became of the local CA itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CaState {
    /// Made now.
    Created,
    /// There already, and used.
    Kept,
    /// There (a status).
    Found,
    /// Deleted now.
    Deleted,
    /// There is none.
    Absent,
    /// There, and it cannot be used (a status; why in
    /// [`TrustReport::unusable`]): `trust` replaces it.
    Unusable,
}

/// The outcome of [`trust`], [`untrust`], [`trust_status`] or
/// [`export_root`]. Its `Display` is one line per fact, as the command line
/// prints it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TrustReport {
    /// The CA's folder ([`LocalCa::default_dir`]).
    pub dir: PathBuf,
    /// What became of the CA.
    pub ca: CaState,
    /// Why the CA that was there could not be used (a file missing or
    /// unreadable, parts that do not chain to the root): `trust` made a new
    /// one in its place; a status says so.
    pub unusable: Option<String>,
    /// When the CA stops being valid, when there is one.
    pub expires: Option<SystemTime>,
    /// A sentence saying when the CA ends and how to renew it, within
    /// [`RENEW_WITHIN`](super::RENEW_WITHIN) of its end.
    pub renewal_due: Option<String>,
    /// Where [`export_root`] wrote the public root.
    pub exported: Option<PathBuf>,
    /// One per store, in the catalogue's order.
    pub stores: Vec<StoreOutcome>,
}

impl TrustReport {
    /// Whether a store could not be read or changed ([`StoreState::Failed`]).
    pub fn failed(&self) -> bool {
        self.stores
            .iter()
            .any(|store| matches!(store.state, StoreState::Failed { .. }))
    }

    /// Whether a store refused for want of administrator rights.
    pub fn needs_privileges(&self) -> bool {
        self.stores.iter().any(|store| {
            matches!(
                store.state,
                StoreState::Failed {
                    needs_privileges: true,
                    ..
                }
            )
        })
    }
}

impl fmt::Display for TrustReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dir = self.dir.display();
        match (self.ca, &self.unusable) {
            (CaState::Created, Some(why)) => writeln!(
                f,
                "made a new local CA for loopback servers in {dir} (the one there could not \
                 be used: {why})"
            )?,
            (CaState::Created, None) => {
                writeln!(f, "created a local CA for loopback servers in {dir}")?
            }
            (CaState::Unusable, why) => writeln!(
                f,
                "local CA: {dir} cannot be used ({}); `oauth-callback trust` replaces it",
                why.as_deref().unwrap_or("unknown")
            )?,
            (CaState::Found, _) => match self.expires {
                Some(expires) => writeln!(
                    f,
                    "local CA: {dir} (valid until {})",
                    time::OffsetDateTime::from(expires).date()
                )?,
                None => writeln!(f, "local CA: {dir}")?,
            },
            (CaState::Absent, _) => writeln!(f, "local CA: none")?,
            (CaState::Kept | CaState::Deleted, _) => {}
        }
        if let Some(renew) = &self.renewal_due {
            writeln!(f, "{renew}")?;
        }
        if let Some(file) = &self.exported {
            let file = file.display();
            writeln!(
                f,
                "wrote the public root to {file}; on the machine with the browser, trust it for \
                 websites only, e.g.\n  certutil -d sql:$HOME/.pki/nssdb -A -t \"{}\" -n \"{}\" -i {file}",
                stores::NSS_TRUST_FLAGS,
                stores::NICKNAME
            )?;
        }
        for store in &self.stores {
            writeln!(f, "{store}")?;
        }
        if self.ca == CaState::Deleted {
            writeln!(f, "deleted the local CA in {dir}")?;
        }
        Ok(())
    }
}
