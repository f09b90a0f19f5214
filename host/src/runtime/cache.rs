//! The compilation cache for `--handler` components: Cranelift runs once per
//! component, wasmtime build and machine; later starts map the compiled
//! artifact from disk instead. (The embedded handler is precompiled at build
//! time and never touches it.)
//!
//! Files live in the platform's cache directory (`$XDG_CACHE_HOME` when it is
//! an absolute path, else `~/.cache`; `~/Library/Caches` on macOS;
//! `%LOCALAPPDATA%` on Windows), under `oauth-callback/`, named after the
//! component's SHA-256 and the engine's compatibility hash. Loading a cache
//! entry runs it as native code, so only entries in a directory made by the
//! user, owned by them and writable by nobody else are trusted. Without such
//! a directory the component is compiled in memory.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

/// The folder inside the platform's cache directory.
const FOLDER: &str = "oauth-callback";

/// The compiled `component`, from the cache when possible.
pub fn load(engine: &Engine, component: &[u8]) -> wasmtime::Result<Component> {
    let Some(path) = entry(engine, component) else {
        return Component::new(engine, component);
    };
    if crate::files::trusted(&path) {
        // SAFETY: the file was written by `store` for an engine with the same
        // compatibility hash (it is in the name), in a directory only this
        // user can write; wasmtime still checks its header.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(compiled) => return Ok(compiled),
            Err(e) => tracing::debug!("ignoring cache entry {}: {e:#}", path.display()),
        }
    }
    let compiled = engine.precompile_component(component)?;
    if let Err(e) = store(&path, &compiled) {
        tracing::debug!("cannot write the compilation cache {}: {e}", path.display());
    }
    // SAFETY: `compiled` was produced by this engine just now.
    unsafe { Component::deserialize(engine, &compiled) }
}

/// The cache directory, if the platform names an absolute one.
fn directory() -> Option<PathBuf> {
    let base = directories::BaseDirs::new()?.cache_dir().to_path_buf();
    base.is_absolute().then(|| base.join(FOLDER))
}

/// Where the compiled form of `component` for `engine` lives.
fn entry(engine: &Engine, component: &[u8]) -> Option<PathBuf> {
    let mut engine_hash = std::collections::hash_map::DefaultHasher::new();
    engine
        .precompile_compatibility_hash()
        .hash(&mut engine_hash);
    let content = crate::files::name_for(component);
    let name = format!("{content}-{:016x}.cwasm", engine_hash.finish());
    Some(directory()?.join(name))
}

/// Write atomically through a fresh temporary file ([`crate::files::replace`]):
/// concurrent starts never see half a file, and nothing planted at a
/// predictable name is followed.
fn store(path: &Path, compiled: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().expect("cache entries live in a directory");
    crate::files::create_private_dir(dir)?;
    crate::files::replace(path, compiled)
}
