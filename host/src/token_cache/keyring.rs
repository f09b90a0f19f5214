//! The operating system's secret store (`--cache keyring`): the Secret
//! Service on Linux and BSD, the Keychain on macOS, the Credential Manager
//! on Windows, through the `keyring` crate. Each entry is one secret
//! (service `oauth-callback`, account its key's id); beside it, in the
//! token folder, a file naming its key (no token) for `--list`, and the
//! entry's lock. It reads the file store's entries too: `--list` and
//! `sign-out` see every entry wherever it is kept. Every call has a timeout: a keyring that does not answer
//! (a locked collection on a headless machine, no Secret Service on the
//! bus) or refuses the entry (the Credential Manager's size limit) is said
//! once in a warning, and the file store is used from then on.

use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use super::{CacheEntry, CacheKey, EntryLock, FileStore, TokenStore};

/// The keyring's service name for every entry.
const SERVICE: &str = "oauth-callback";
/// How long one keyring call may take.
pub const KEYRING_TIMEOUT: Duration = Duration::from_secs(5);
/// The extension of the files naming the keys kept in the keyring.
const MARKER: &str = "in-keyring";

/// Entries in the operating system's secret store, the file store beside
/// it for their names, their locks, and as the fallback.
#[derive(Debug, Clone)]
pub struct KeyringStore {
    files: FileStore,
    fell_back: Arc<AtomicBool>,
}

impl KeyringStore {
    /// Entries in the keyring, their names and locks (and the fallback) in
    /// `files`.
    pub fn new(files: FileStore) -> KeyringStore {
        KeyringStore {
            files,
            fell_back: Arc::new(AtomicBool::new(false)),
        }
    }

    fn marker(&self, key: &CacheKey) -> PathBuf {
        self.files.dir().join(format!("{}.{MARKER}", key.id()))
    }

    /// Run `call` on the keyring entry for `key`, on a thread of its own,
    /// within [`KEYRING_TIMEOUT`]; `None` once the keyring failed (said
    /// once: the file store is used from then on).
    fn call<T: Send + 'static>(
        &self,
        key: &CacheKey,
        call: impl FnOnce(&keyring::Entry) -> keyring::Result<T> + Send + 'static,
    ) -> Option<keyring::Result<T>> {
        if self.fell_back.load(Ordering::Relaxed) {
            return None;
        }
        let account = key.id();
        let (done, answer) = mpsc::sync_channel(1);
        let spawned = std::thread::Builder::new()
            .name("oauth-callback keyring".into())
            .spawn(move || {
                let _ = done.send(keyring::Entry::new(SERVICE, &account).and_then(|e| call(&e)));
            });
        let outcome = match spawned {
            Ok(_) => answer
                .recv_timeout(KEYRING_TIMEOUT)
                .map_err(|_| format!("it did not answer within {} s", KEYRING_TIMEOUT.as_secs())),
            Err(e) => Err(e.to_string()),
        };
        match outcome {
            Ok(Err(keyring::Error::NoEntry)) => Some(Err(keyring::Error::NoEntry)),
            Ok(Err(e)) => self.fall_back(&e.to_string()),
            Ok(answered) => Some(answered),
            Err(why) => self.fall_back(&why),
        }
    }

    /// Say once why the keyring is not used, and use the files from now on.
    fn fall_back<T>(&self, why: &str) -> Option<T> {
        if !self.fell_back.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "the keyring cannot be used ({}): keeping tokens in {} instead",
                crate::error::escaped_line(why, 300),
                self.files.describe()
            );
        }
        None
    }
}

impl TokenStore for KeyringStore {
    fn load(&self, key: &CacheKey) -> io::Result<Option<CacheEntry>> {
        // Only an entry named beside the files is asked of the keyring: a
        // keyring that cannot answer is not woken for entries it never held.
        if !self.marker(key).exists() {
            return self.files.load(key);
        }
        let Some(found) = self.call(key, |entry| entry.get_secret()) else {
            return self.files.load(key);
        };
        let Ok(bytes) = found else {
            return Ok(None);
        };
        match CacheEntry::parse(&bytes, Some(key)) {
            Ok(entry) => Ok(Some(entry)),
            Err(why) => {
                tracing::warn!(
                    "ignoring the keyring's entry {SERVICE}/{} ({why}): signing in as if it \
                     were absent",
                    key.id()
                );
                Ok(None)
            }
        }
    }

    fn save(&self, entry: &CacheEntry) -> io::Result<()> {
        let json = entry.to_json();
        match self.call(&entry.key, move |e| e.set_secret(&json)) {
            Some(Ok(())) => {
                // Its name for `--list`, and no copy of an older entry in a file.
                self.files.remove(&entry.key)?;
                let name = serde_json::to_vec(&entry.key).unwrap_or_default();
                crate::files::replace(&self.marker(&entry.key), &name)
            }
            Some(Err(e)) => Err(io::Error::other(e.to_string())),
            None => self.files.save(entry),
        }
    }

    fn remove(&self, key: &CacheKey) -> io::Result<bool> {
        let in_keyring = self.marker(key).exists()
            && matches!(
                self.call(key, |entry| entry.delete_credential()),
                Some(Ok(()))
            );
        match std::fs::remove_file(self.marker(key)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        Ok(self.files.remove(key)? || in_keyring)
    }

    fn list(&self) -> io::Result<Vec<CacheEntry>> {
        let mut entries = self.files.list()?;
        let names = match std::fs::read_dir(self.files.dir()) {
            Ok(names) => names,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(entries),
            Err(e) => return Err(e),
        };
        for name in names {
            let path = name?.path();
            if path.extension().is_none_or(|e| e != MARKER) || !crate::files::trusted(&path) {
                continue;
            }
            let key = crate::files::read_bounded(&path, 64 * 1024)
                .ok()
                .and_then(|bytes| serde_json::from_slice::<CacheKey>(&bytes).ok());
            if let Some(entry) = key.and_then(|key| self.load(&key).ok().flatten()) {
                entries.push(entry);
            }
        }
        Ok(entries)
    }

    fn try_lock(&self, key: &CacheKey) -> io::Result<Option<EntryLock>> {
        self.files.try_lock(key)
    }

    fn describe(&self) -> String {
        format!("the keyring (names and locks in {})", self.files.describe())
    }
}
