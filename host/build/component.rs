//! Building a workspace package as a `wasm32-wasip2` component from a build
//! script: the host's (the embedded handler) and the test artifacts' (the
//! handlers the tests swap in) include this file.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The components' target.
pub const TARGET: &str = "wasm32-wasip2";

/// Where components are built: one directory for the workspace, shared by
/// every host target and profile (a test build, a cross build, a check and
/// the lints build them once, not once each).
pub fn target_dir(workspace: &Path) -> PathBuf {
    workspace.join("target").join("components")
}

/// Build `package` of the workspace at `workspace` with the `guest` profile
/// into [`target_dir`], adding the Rust target first when it is missing, and
/// return the path of the component, `<artifact>.wasm`. One package per
/// call: features of one never leak into another.
pub fn build(workspace: &Path, package: &str, artifact: &str) -> PathBuf {
    let target_dir = target_dir(workspace);
    ensure_target_installed();
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(workspace)
        .args(["build", "--package", package, "--target", TARGET])
        .args(["--profile", "guest"])
        .arg("--target-dir")
        .arg(&target_dir)
        // The outer build's flags are for the host, not for the component.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        // Nor the lints' wrapper: the components are the same for every build.
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("RUSTC_WRAPPER")
        .status()
        .unwrap_or_else(|e| panic!("failed to run cargo to build {package}: {e}"));
    assert!(status.success(), "building the {package} component failed");
    target_dir
        .join(TARGET)
        .join("guest")
        .join(format!("{artifact}.wasm"))
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
