//! What a handler component may import and must export: the `wasi:http/proxy`
//! world's interfaces in, `oauth:callback/handler` out.

use wasmtime::Engine;
use wasmtime::component::Component;

/// The interface a handler must export (any 0.4.x version: a name that
/// starts with this).
pub const HANDLER_EXPORT: &str = "oauth:callback/handler@0.4";

/// The interfaces the host grants: the `wasi:http/proxy` world, without
/// filesystem, environment, sockets or exit.
pub const GRANTED_IMPORTS: [&str; 10] = [
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:clocks/wall-clock",
    "wasi:clocks/monotonic-clock",
    "wasi:random/random",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:http/types",
];

/// `wasi:http/outgoing-handler` is linked (it is in the proxy world) but
/// every request through it is refused.
const REFUSED_BUT_LINKED: &str = "wasi:http/outgoing-handler";

/// The names a component imports.
pub fn imports(engine: &Engine, component: &Component) -> Vec<String> {
    let ty = component.component_type();
    ty.imports(engine)
        .map(|(name, _)| name.to_string())
        .collect()
}

/// The names a component exports.
pub fn exports(engine: &Engine, component: &Component) -> Vec<String> {
    let ty = component.component_type();
    ty.exports(engine)
        .map(|(name, _)| name.to_string())
        .collect()
}

/// Whether an import name (e.g. `wasi:io/streams@0.2.12`) is granted.
pub fn is_granted(import: &str) -> bool {
    let unversioned = import.split('@').next().unwrap_or(import);
    unversioned == REFUSED_BUT_LINKED || GRANTED_IMPORTS.contains(&unversioned)
}

/// Check a component against the contract; the error names what is wrong.
pub fn check_contract(engine: &Engine, component: &Component) -> Result<(), String> {
    let exports = exports(engine, component);
    if !exports.iter().any(|e| e.starts_with(HANDLER_EXPORT)) {
        let found = if exports.is_empty() {
            "nothing".to_string()
        } else {
            exports.join(", ")
        };
        return Err(format!(
            "does not export `{HANDLER_EXPORT}.x` (it exports {found}); build it against wit/callback.wit"
        ));
    }
    if let Some(denied) = imports(engine, component)
        .into_iter()
        .find(|i| !is_granted(i))
    {
        return Err(format!(
            "imports `{denied}`, which the sandbox does not grant \
             (handlers get only the wasi:http proxy world: wasi:io, wasi:clocks, wasi:random, \
             wasi:cli/stdin|stdout|stderr, wasi:http)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn granted_imports_ignore_versions_and_refuse_the_rest() {
        assert!(is_granted("wasi:io/streams@0.2.12"));
        assert!(is_granted("wasi:http/types@0.2.0"));
        assert!(is_granted("wasi:http/outgoing-handler@0.2.0"));
        assert!(!is_granted("wasi:cli/environment@0.2.12"));
        assert!(!is_granted("wasi:filesystem/types@0.2.0"));
        assert!(!is_granted("wasi:sockets/tcp@0.2.0"));
    }

    #[test]
    fn the_embedded_handler_keeps_to_the_sandbox_and_exports_both_interfaces() {
        let engine = Engine::default();
        let component = Component::new(&engine, crate::runtime::EMBEDDED_HANDLER).unwrap();
        let imports = imports(&engine, &component);
        for import in &imports {
            assert!(is_granted(import), "the embedded handler imports {import}");
        }
        for plain_serve_refuses in ["wasi:cli/environment", "wasi:cli/exit", "wasi:cli/terminal"] {
            assert!(
                !imports.iter().any(|i| i.starts_with(plain_serve_refuses)),
                "{imports:?}"
            );
        }
        let exports = exports(&engine, &component);
        assert!(
            exports.iter().any(|e| e.starts_with(HANDLER_EXPORT)),
            "{exports:?}"
        );
        assert!(
            exports
                .iter()
                .any(|e| e.starts_with("wasi:http/incoming-handler@0.2")),
            "{exports:?}"
        );
        check_contract(&engine, &component).unwrap();
    }
}
