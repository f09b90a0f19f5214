//! Builds the default handler (`guest/`) as a `wasm32-wasip2` component so the
//! binary can embed it, adding the Rust target first when it is missing (the
//! published crate ships the built component instead), and precompiles it
//! with the runtime's engine settings for the baseline CPU of the target, so
//! that no start ever runs Cranelift for it.

use std::env;
use std::path::{Path, PathBuf};

#[path = "build/component.rs"]
mod component;
#[path = "src/runtime/engine.rs"]
mod engine;

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    let workspace = manifest_dir.parent().unwrap();
    let wasm = if workspace.join("guest/Cargo.toml").is_file() {
        // In the repository: build the guest from its sources.
        for watched in ["guest", "wit", "assets", "Cargo.lock", "Cargo.toml"] {
            println!(
                "cargo:rerun-if-changed={}",
                workspace.join(watched).display()
            );
        }
        component::build(workspace, "oauth-callback-guest", "oauth_callback_guest")
    } else {
        // The published crate: the component it ships.
        let shipped = manifest_dir.join("component/handler.wasm");
        println!("cargo:rerun-if-changed={}", shipped.display());
        assert!(
            shipped.is_file(),
            "{} is missing: package with the test command, which exports it first",
            shipped.display()
        );
        shipped
    };
    copy(&wasm, &out_dir.join("handler.wasm"));
    precompile(&wasm, &out_dir.join("handler.cwasm"));
}

/// Compile the component for the target being built (not this machine's CPU).
///
/// Cranelift has only this machine's architecture's backend unless the
/// `precompile-for-any-target` feature adds the others (scripts/release turns
/// it on). Without it, for another architecture (an Apple Silicon `cargo
/// check` from x86-64 Linux) the artifact is left empty and the binary
/// compiles the handler on its first start instead; with it, failing to
/// precompile is an error.
fn precompile(wasm: &Path, cwasm: &Path) {
    let target = env::var("TARGET").expect("cargo sets TARGET for build scripts");
    let host = env::var("HOST").expect("cargo sets HOST for build scripts");
    let arch = |triple: &str| triple.split('-').next().unwrap_or_default().to_string();
    let component = std::fs::read(wasm).expect("reading the built component");
    let compiled = engine::compilation_config(Some(&target))
        .and_then(|config| wasmtime::Engine::new(&config))
        .and_then(|engine| engine.precompile_component(&component));
    let compiled = match compiled {
        Ok(compiled) => compiled,
        Err(e)
            if arch(&target) != arch(&host)
                && env::var_os("CARGO_FEATURE_PRECOMPILE_FOR_ANY_TARGET").is_none() =>
        {
            println!(
                "cargo:warning=not precompiling the handler for {target} on {host} ({e}); \
                 it will be compiled on first start; \
                 the precompile-for-any-target feature precompiles it"
            );
            Vec::new()
        }
        Err(e) => panic!("precompiling the handler for {target} failed: {e:#}"),
    };
    std::fs::write(cwasm, compiled)
        .unwrap_or_else(|e| panic!("failed to write {}: {e}", cwasm.display()));
}

fn copy(from: &Path, to: &Path) {
    std::fs::copy(from, to)
        .unwrap_or_else(|e| panic!("failed to copy {} to {}: {e}", from.display(), to.display()));
}
