//! Builds the default handler (`guest/`) as a `wasm32-wasip2` component so the
//! binary can embed it, adding the Rust target first when it is missing, and
//! precompiles it with the runtime's engine settings for the baseline CPU of
//! the target, so that no start ever runs Cranelift for it.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "src/runtime/engine.rs"]
mod engine;

const TARGET: &str = "wasm32-wasip2";
const GUEST_PACKAGE: &str = "oauth-callback-guest";

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let workspace = manifest_dir.parent().unwrap();
    for watched in ["guest", "wit", "assets", "Cargo.lock", "Cargo.toml"] {
        println!(
            "cargo:rerun-if-changed={}",
            workspace.join(watched).display()
        );
    }
    ensure_target_installed();

    let out_dir = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    let target_dir = out_dir.join("guest-target");
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(workspace)
        .args(["build", "--package", GUEST_PACKAGE, "--target", TARGET])
        .args(["--profile", "guest"])
        .arg("--target-dir")
        .arg(&target_dir)
        // The outer build's flags are for the host, not for the component.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .status()
        .expect("failed to run cargo to build the guest component");
    assert!(status.success(), "building the guest component failed");

    let wasm = target_dir
        .join(TARGET)
        .join("guest")
        .join("oauth_callback_guest.wasm");
    copy(&wasm, &out_dir.join("handler.wasm"));
    precompile(&wasm, &out_dir.join("handler.cwasm"));
}

/// Compile the component for the target being built (not this machine's CPU).
fn precompile(wasm: &Path, cwasm: &Path) {
    let target = env::var("TARGET").expect("cargo sets TARGET for build scripts");
    let component = std::fs::read(wasm).expect("reading the built component");
    let compiled = engine::compilation_config(Some(&target))
        .and_then(|config| wasmtime::Engine::new(&config))
        .and_then(|engine| engine.precompile_component(&component))
        .unwrap_or_else(|e| panic!("precompiling the handler for {target} failed: {e:#}"));
    std::fs::write(cwasm, compiled)
        .unwrap_or_else(|e| panic!("failed to write {}: {e}", cwasm.display()));
}

/// `RUSTUP_AUTO_INSTALL=0` machines do not add targets on demand: do it here.
fn ensure_target_installed() {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let sysroot = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .expect("failed to run rustc --print sysroot");
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    if sysroot.join("lib/rustlib").join(TARGET).exists() {
        return;
    }
    println!("cargo:warning=adding the {TARGET} Rust target with rustup");
    let status = Command::new("rustup")
        .args(["target", "add", TARGET])
        .status()
        .expect("the wasm32-wasip2 target is missing and rustup could not be run");
    assert!(status.success(), "`rustup target add {TARGET}` failed");
}

fn copy(from: &Path, to: &Path) {
    std::fs::copy(from, to)
        .unwrap_or_else(|e| panic!("failed to copy {} to {}: {e}", from.display(), to.display()));
}
