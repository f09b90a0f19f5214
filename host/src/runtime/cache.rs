//! The compilation cache: Cranelift runs once per handler, wasmtime build and
//! machine; later starts map the compiled artifact from disk instead.
//!
//! Files live in `$XDG_CACHE_HOME/oauth-callback` (else `~/.cache/...`),
//! named after the component's SHA-256 and the engine's compatibility hash.
//! Without a usable cache directory the component is compiled in memory.

use std::hash::{Hash, Hasher};
use std::path::PathBuf;

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// The compiled `component`, from the cache when possible.
pub fn load(engine: &Engine, component: &[u8]) -> wasmtime::Result<Component> {
    let Some(path) = entry(engine, component) else {
        return Component::new(engine, component);
    };
    if path.exists() {
        // SAFETY: the file was written by `precompile_component` of an engine
        // with the same compatibility hash (it is in the name), in the user's
        // own cache directory; wasmtime still checks its header.
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

/// Where the compiled form of `component` for `engine` lives.
fn entry(engine: &Engine, component: &[u8]) -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    let mut engine_hash = std::collections::hash_map::DefaultHasher::new();
    engine
        .precompile_compatibility_hash()
        .hash(&mut engine_hash);
    let content: String = Sha256::digest(component)
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect();
    let name = format!("{content}-{:016x}.cwasm", engine_hash.finish());
    Some(base.join("oauth-callback").join(name))
}

/// Write atomically: concurrent starts never see half a file.
fn store(path: &std::path::Path, compiled: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().expect("cache entries live in a directory");
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .expect("cache entries have a name")
        .to_string_lossy();
    let partial = dir.join(format!(".{name}.{}.partial", std::process::id()));
    std::fs::write(&partial, compiled)?;
    std::fs::rename(&partial, path)
}
