//! Builds the example and test handler components for `wasm32-wasip2` and
//! writes their paths as constants for the tests.

use std::env;
use std::fmt::Write as _;
use std::path::PathBuf;

#[path = "../../host/build/component.rs"]
mod component;

/// (package, artifact) of each component the tests use.
const COMPONENTS: [(&str, &str); 3] = [
    ("branded-handler", "branded_handler"),
    ("misbehaving-handler", "misbehaving_handler"),
    ("uses-std-handler", "uses_std_handler"),
];

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let workspace = manifest_dir.parent().unwrap().parent().unwrap();
    for watched in [
        "examples/branded-handler",
        "tests/handlers",
        "guest/rt",
        "wit",
        "Cargo.lock",
    ] {
        println!(
            "cargo:rerun-if-changed={}",
            workspace.join(watched).display()
        );
    }
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    let mut paths = String::new();
    for (package, artifact) in COMPONENTS {
        let wasm = component::build(workspace, package, artifact);
        writeln!(
            paths,
            "/// The `{package}` component.\npub const {}: &str = {:?};",
            artifact.to_uppercase(),
            wasm.display().to_string()
        )
        .unwrap();
    }
    std::fs::write(out_dir.join("paths.rs"), paths).expect("writing paths.rs");
}
