//! The engine settings that compiled handler code depends on. The build script
//! includes this file too (`#[path]`), so the embedded handler is precompiled
//! with exactly the settings the runtime engine loads it with.

/// WebAssembly stack a handler call may use.
const MAX_WASM_STACK: usize = 256 << 10;

/// Native stack of one handler call (it runs on a fiber): the wasm stack plus
/// room for the host functions it calls.
const ASYNC_STACK: usize = MAX_WASM_STACK + (256 << 10);

/// Settings for compiling and running handlers: epoch interruption (a long
/// call yields to the server, which enforces the deadline), small stacks
/// (calls run on fibers), and linear memory initialised by copying the data
/// segments into each instance rather than mapping a copy-on-write image:
/// a handler's segments are a few tens of KiB, and the image (a memfd
/// written on the first instantiation) cost every start about 0.4 ms on the
/// way to its first answer, for no measurable gain per request. No address
/// map (a trap names the handler's function, not its byte offset) and no
/// native unwind tables (wasmtime walks wasm frames by frame pointer; only
/// Windows requires them): 13% less to load, and nothing to register with
/// the system's unwinder at start.
///
/// `target` names the triple to compile for with the baseline CPU features of
/// its architecture (the build script's artifact loads on every machine of
/// that architecture); `None` compiles for this machine.
pub fn compilation_config(target: Option<&str>) -> wasmtime::Result<wasmtime::Config> {
    let mut config = wasmtime::Config::new();
    config
        .epoch_interruption(true)
        .max_wasm_stack(MAX_WASM_STACK)
        .async_stack_size(ASYNC_STACK)
        .memory_init_cow(false)
        .generate_address_map(false)
        .native_unwind_info(target.map_or(cfg!(windows), |t| t.contains("windows")));
    if let Some(target) = target {
        config.target(target)?;
    }
    Ok(config)
}
