//! A store in this process's memory: nothing kept once it ends
//! (`--no-cache`), and the store of tests.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use super::{CacheEntry, CacheKey, EntryLock, TokenStore};

/// Entries in memory, locked per entry between this process's callers.
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    entries: Arc<Mutex<HashMap<String, CacheEntry>>>,
    locked: Arc<Mutex<HashSet<String>>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }
}

/// An entry's lock in a [`MemoryStore`]: its id, given back when dropped.
struct Held {
    id: String,
    locked: Arc<Mutex<HashSet<String>>>,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.locked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
    }
}

impl TokenStore for MemoryStore {
    fn load(&self, key: &CacheKey) -> std::io::Result<Option<CacheEntry>> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(entries.get(&key.id()).cloned())
    }

    fn save(&self, entry: &CacheEntry) -> std::io::Result<()> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.insert(entry.key.id(), entry.clone());
        Ok(())
    }

    fn remove(&self, key: &CacheKey) -> std::io::Result<bool> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(entries.remove(&key.id()).is_some())
    }

    fn list(&self) -> std::io::Result<Vec<CacheEntry>> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(entries.values().cloned().collect())
    }

    fn try_lock(&self, key: &CacheKey) -> std::io::Result<Option<EntryLock>> {
        let id = key.id();
        let mut locked = self.locked.lock().unwrap_or_else(PoisonError::into_inner);
        if !locked.insert(id.clone()) {
            return Ok(None);
        }
        let locked = Arc::clone(&self.locked);
        Ok(Some(EntryLock::new(Held { id, locked })))
    }

    fn describe(&self) -> String {
        "memory (nothing kept)".into()
    }
}
