//! The default store: one JSON file per entry in a folder only the user can
//! enter (0700, its files 0600; on Windows under the user's profile, whose
//! ACL admits only them), each written to a temporary file and renamed
//! over, each with a lock file beside it (an OS file lock: released when
//! its process ends, however it ends).

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use super::{CacheEntry, CacheKey, EntryLock, TokenStore};
use crate::sign_in::SignInError;

/// The largest entry read.
const MAX_ENTRY: u64 = 1 << 20;

/// Entries as files in a folder of their own.
#[derive(Debug, Clone)]
pub struct FileStore {
    dir: PathBuf,
}

impl FileStore {
    /// Entries in `dir` (made when first written).
    pub fn new(dir: impl Into<PathBuf>) -> FileStore {
        FileStore { dir: dir.into() }
    }

    /// The platform's local data directory, `tokens` in it
    /// (`~/.local/share/oauth-callback/tokens`, `~/Library/Application
    /// Support/oauth-callback/tokens`, `%LOCALAPPDATA%\oauth-callback\data\tokens`).
    /// `None` without a home directory.
    pub fn default_dir() -> Option<PathBuf> {
        directories::ProjectDirs::from("", "", "oauth-callback")
            .map(|dirs| dirs.data_local_dir().join("tokens"))
    }

    /// The user's token folder ([`FileStore::default_dir`]).
    ///
    /// # Errors
    /// [`SignInError::Cache`] when there is no home directory to keep
    /// tokens in.
    pub fn of_user() -> Result<FileStore, SignInError> {
        FileStore::default_dir()
            .map(FileStore::new)
            .ok_or_else(|| SignInError::Cache("no home directory to keep tokens in".into()))
    }

    /// The folder the entries are in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, key: &CacheKey, extension: &str) -> PathBuf {
        self.dir.join(format!("{}.{extension}", key.id()))
    }

    /// The folder, made private when it is not yet: refused when it is a
    /// link or another user's.
    fn private_dir(&self) -> io::Result<()> {
        crate::files::create_private_dir(&self.dir)?;
        let meta = std::fs::symlink_metadata(&self.dir)?;
        if !meta.is_dir() {
            return Err(io::Error::other(format!(
                "{} is not a folder",
                self.dir.display()
            )));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::{MetadataExt, PermissionsExt};
            // SAFETY: geteuid has no preconditions and cannot fail.
            if meta.uid() != unsafe { libc::geteuid() } {
                return Err(io::Error::other(format!(
                    "{} belongs to another user",
                    self.dir.display()
                )));
            }
            if meta.mode() & 0o077 != 0 {
                std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700))?;
            }
        }
        Ok(())
    }

    /// The entry in `path` (for `key`, when given), or why it is not to be
    /// trusted; `None` when there is no file.
    fn read(path: &Path, key: Option<&CacheKey>) -> Result<Option<CacheEntry>, String> {
        if std::fs::symlink_metadata(path).is_err_and(|e| e.kind() == io::ErrorKind::NotFound) {
            return Ok(None);
        }
        if !crate::files::trusted(path) {
            return Err("it is a link, or another user's, or others may write to it".into());
        }
        let bytes = crate::files::read_bounded(path, MAX_ENTRY).map_err(|e| e.to_string())?;
        CacheEntry::parse(&bytes, key).map(Some)
    }
}

/// Say once that the entry in `path` is not trusted, and why.
fn distrust(path: &Path, why: &str) {
    tracing::warn!(
        "ignoring the token cache file {} ({why}): signing in as if it were absent",
        path.display()
    );
}

impl TokenStore for FileStore {
    fn load(&self, key: &CacheKey) -> io::Result<Option<CacheEntry>> {
        let path = self.path(key, "json");
        Ok(Self::read(&path, Some(key)).unwrap_or_else(|why| {
            distrust(&path, &why);
            None
        }))
    }

    fn save(&self, entry: &CacheEntry) -> io::Result<()> {
        self.private_dir()?;
        let path = self.path(&entry.key, "json");
        // Not a file of ours (a folder, a link): out of the way first.
        if crate::files::unreplaceable(&path)?.is_some() {
            std::fs::remove_file(&path).or_else(|_| std::fs::remove_dir_all(&path))?;
        }
        crate::files::replace(&path, &entry.to_json())
    }

    fn remove(&self, key: &CacheKey) -> io::Result<bool> {
        match std::fs::remove_file(self.path(key, "json")) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn list(&self) -> io::Result<Vec<CacheEntry>> {
        let files = match std::fs::read_dir(&self.dir) {
            Ok(files) => files,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut entries = Vec::new();
        for file in files {
            let path = file?.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            match Self::read(&path, None) {
                Ok(Some(entry)) if self.path(&entry.key, "json") == path => entries.push(entry),
                Ok(Some(_)) => distrust(&path, "its name is not its key's"),
                Ok(None) => {}
                Err(why) => distrust(&path, &why),
            }
        }
        entries.sort_by(|a, b| a.key.provider_line().cmp(b.key.provider_line()));
        Ok(entries)
    }

    fn try_lock(&self, key: &CacheKey) -> io::Result<Option<EntryLock>> {
        self.private_dir()?;
        let mut options = std::fs::OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file: File = options.open(self.path(key, "lock"))?;
        match file.try_lock() {
            Ok(()) => Ok(Some(EntryLock::new(file))),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(e),
        }
    }

    fn describe(&self) -> String {
        self.dir.display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Map;

    use super::*;
    use crate::sign_in::{Provider, Tokens};
    use crate::token_cache::Source;

    fn entry(client: &str) -> CacheEntry {
        let mut members = Map::new();
        members.insert("access_token".into(), "at".into());
        let key = CacheKey::new(
            Provider::Issuer("https://id.example".into()),
            client,
            &[],
            None,
        );
        CacheEntry::new(key, Tokens::new(members, None, None, None), Source::SignIn)
    }

    #[test]
    fn entries_are_kept_private_listed_and_removed() {
        let home = tempfile::tempdir().unwrap();
        let store = FileStore::new(home.path().join("a/tokens"));
        let first = entry("one");
        assert_eq!(store.load(&first.key).unwrap(), None);
        store.save(&first).unwrap();
        store.save(&entry("two")).unwrap();
        assert_eq!(store.load(&first.key).unwrap(), Some(first.clone()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(store.dir()), 0o700);
            assert_eq!(mode(&store.path(&first.key, "json")), 0o600);
        }
        assert_eq!(store.list().unwrap().len(), 2);
        assert!(store.remove(&first.key).unwrap());
        assert!(!store.remove(&first.key).unwrap());
        assert_eq!(store.list().unwrap().len(), 1);
    }

    #[test]
    fn a_corrupt_or_foreign_entry_is_absent() {
        let home = tempfile::tempdir().unwrap();
        let store = FileStore::new(home.path());
        let first = entry("one");
        store.save(&first).unwrap();
        let path = store.path(&first.key, "json");
        let json = std::fs::read(&path).unwrap();
        std::fs::write(&path, &json[..json.len() / 2]).unwrap();
        assert_eq!(store.load(&first.key).unwrap(), None);
        assert!(store.list().unwrap().is_empty());
        // Another key's entry under this key's name.
        std::fs::write(&path, entry("two").to_json()).unwrap();
        assert_eq!(store.load(&first.key).unwrap(), None);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::write(&path, first.to_json()).unwrap();
            assert!(store.load(&first.key).unwrap().is_some());
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
            assert_eq!(store.load(&first.key).unwrap(), None);
        }
    }

    #[test]
    fn the_lock_is_held_until_dropped() {
        let home = tempfile::tempdir().unwrap();
        let store = FileStore::new(home.path());
        let key = entry("one").key;
        let held = store.try_lock(&key).unwrap().expect("free");
        assert!(store.try_lock(&key).unwrap().is_none());
        assert!(store.try_lock(&entry("two").key).unwrap().is_some());
        drop(held);
        assert!(store.try_lock(&key).unwrap().is_some());
    }
}
