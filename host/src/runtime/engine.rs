//! The engine settings that compiled handler code depends on. The build script
//! includes this file too (`#[path]`), so the embedded handler is precompiled
//! with exactly the settings the runtime engine loads it with.

/// WebAssembly stack a handler call may use.
const MAX_WASM_STACK: usize = 256 << 10;

/// Native stack of one handler call (it runs on a fiber): the wasm stack plus
/// room for the host functions it calls.
const ASYNC_STACK: usize = MAX_WASM_STACK + (256 << 10);

/// Settings for compiling and running handlers: epoch interruption (a long
/// call yields to the server, which enforces the deadline) and small stacks
/// (calls run on fibers).
///
/// `target` names the triple to compile for with the baseline CPU features of
/// its architecture (the build script's artifact loads on every machine of
/// that architecture); `None` compiles for this machine.
pub fn compilation_config(target: Option<&str>) -> wasmtime::Result<wasmtime::Config> {
    let mut config = wasmtime::Config::new();
    config
        .epoch_interruption(true)
        .max_wasm_stack(MAX_WASM_STACK)
        .async_stack_size(ASYNC_STACK);
    if let Some(target) = target {
        config.target(target)?;
    }
    Ok(config)
}
