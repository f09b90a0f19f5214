//! Precomputes the CSP hash sources of the built-in pages' inline blocks
//! (`assets/style.css`, `assets/bridge.js`), so the handler does not hash them
//! on every request; custom pages are still hashed at run time.

use std::path::PathBuf;

use base64::Engine as _;
use sha2::{Digest, Sha256};

fn main() {
    let assets = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap()).join("assets");
    let mut code = String::new();
    for (name, file) in [
        ("STYLE_SOURCE", "style.css"),
        ("BRIDGE_SCRIPT_SOURCE", "bridge.js"),
        ("DONE_SCRIPT_SOURCE", "done.js"),
    ] {
        let path = assets.join(file);
        println!("cargo:rerun-if-changed={}", path.display());
        let text = std::fs::read(&path).unwrap();
        let digest = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&text));
        code.push_str(&format!(
            "pub const {name}: &str = \"'sha256-{digest}'\";\n"
        ));
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap()).join("known_hashes.rs");
    std::fs::write(out, code).unwrap();
}
