//! The WebAssembly side of the host: one engine, the handler component linked
//! once into an `InstancePre`, and a fresh sandboxed instance per request.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{Engine, Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

use crate::error::{Error, Result};

mod cache;
pub mod sandbox;

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "callback-handler",
    });
}

/// The WIT types of `oauth:callback/handler`, as the host sees them.
pub mod wit {
    pub use super::bindings::exports::oauth::callback::handler::{
        Completion, Header, Reply, Request, Response, Settings,
    };
}

/// The default handler, built from `guest/` and embedded at compile time.
pub static EMBEDDED_HANDLER: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/handler.wasm"));

/// How often the epoch advances; the unit of the per-request deadline.
const EPOCH_TICK: Duration = Duration::from_millis(10);
/// A request may run for this many ticks (100 ms) before it is stopped.
const DEADLINE_TICKS: u64 = 10;
/// Linear memory a handler instance may use.
const MEMORY_LIMIT: usize = 16 << 20;

/// A loaded handler, ready to answer requests.
pub struct Runtime {
    engine: Engine,
    pre: bindings::CallbackHandlerPre<Sandbox>,
    _ticker: EpochTicker,
}

impl Runtime {
    /// Compile, check and link a handler component; `origin` names it in errors.
    pub fn new(component: &[u8], origin: &str) -> Result<Self> {
        let handler_error = |reason: String| Error::Handler {
            origin: origin.to_string(),
            reason,
        };
        check_is_component(component).map_err(|r| handler_error(r.into()))?;
        let engine = Engine::new(&engine_config()).map_err(|e| handler_error(format!("{e:#}")))?;
        let component =
            cache::load(&engine, component).map_err(|e| handler_error(format!("{e:#}")))?;
        sandbox::check_contract(&engine, &component).map_err(handler_error)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi_http::p2::add_to_linker_sync(&mut linker)
            .and_then(|()| linker.instantiate_pre(&component))
            .and_then(bindings::CallbackHandlerPre::new)
            .map(|pre| Runtime {
                _ticker: EpochTicker::start(engine.clone()),
                engine,
                pre,
            })
            .map_err(|e| handler_error(format!("{e:#}")))
    }

    /// A handler component from a file (`--handler`).
    pub fn from_file(path: &Path) -> Result<Self> {
        let origin = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| Error::Handler {
            origin: origin.clone(),
            reason: format!("cannot read the file: {e}"),
        })?;
        Runtime::new(&bytes, &origin)
    }

    /// The default handler.
    pub fn embedded() -> Result<Self> {
        Runtime::new(EMBEDDED_HANDLER, "embedded")
    }

    /// Run one request on a fresh instance. An error means the handler
    /// trapped, ran out of time or memory: the request gets a 500.
    pub fn handle(
        &self,
        settings: &wit::Settings,
        request: &wit::Request,
    ) -> wasmtime::Result<wit::Reply> {
        let mut store = Store::new(&self.engine, Sandbox::new());
        store.limiter(|sandbox| &mut sandbox.limits);
        store.set_epoch_deadline(DEADLINE_TICKS);
        let handler = self.pre.instantiate(&mut store)?;
        handler
            .oauth_callback_handler()
            .call_handle(&mut store, settings, request)
    }
}

/// Handler instances alive at once: calls are synchronous on the server's
/// worker threads, so a few suffice; the pool is sized with room to spare.
const POOLED_INSTANCES: u32 = 16;

/// Memory a pooled slot keeps mapped and zeroes with `memset` between
/// requests, instead of returning it to the kernel and faulting it back in.
const KEEP_RESIDENT: usize = 512 << 10;

/// The engine's settings: epoch interruption for the deadline, and a pooling
/// allocator so that a fresh instance per request costs microseconds.
fn engine_config() -> wasmtime::Config {
    let mut pool = wasmtime::PoolingAllocationConfig::new();
    pool.total_component_instances(POOLED_INSTANCES)
        .total_core_instances(4 * POOLED_INSTANCES)
        .total_memories(POOLED_INSTANCES)
        .total_tables(4 * POOLED_INSTANCES)
        .max_memory_size(MEMORY_LIMIT)
        .linear_memory_keep_resident(KEEP_RESIDENT)
        .table_keep_resident(KEEP_RESIDENT);
    let mut config = wasmtime::Config::new();
    config
        .epoch_interruption(true)
        .allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
    config
}

/// Refuses what is not a component before wasmtime gives a vaguer message.
fn check_is_component(bytes: &[u8]) -> std::result::Result<(), &'static str> {
    const MAGIC: &[u8] = b"\0asm";
    const CORE_MODULE_VERSION: &[u8] = &[1, 0, 0, 0];
    if !bytes.starts_with(MAGIC) {
        return Err("not a WebAssembly component (no `\\0asm` header)");
    }
    if bytes.get(4..8) == Some(CORE_MODULE_VERSION) {
        return Err(
            "a core WebAssembly module, not a component; build for wasm32-wasip2 \
             or wrap it with `wasm-tools component new`",
        );
    }
    Ok(())
}

/// Per-request state: the proxy world's contexts and nothing else (no
/// filesystem, environment, sockets or outgoing requests).
struct Sandbox {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    limits: StoreLimits,
    hooks: NoOutgoingRequests,
}

impl Sandbox {
    fn new() -> Self {
        Sandbox {
            wasi: WasiCtx::builder().build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            limits: StoreLimitsBuilder::new()
                .memory_size(MEMORY_LIMIT)
                .trap_on_grow_failure(true)
                .build(),
            hooks: NoOutgoingRequests,
        }
    }
}

impl WasiView for Sandbox {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for Sandbox {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

/// Refuses every `wasi:http/outgoing-handler` request: a handler answers, it
/// never calls out.
struct NoOutgoingRequests;

type OutgoingFuture<T> = Box<dyn Future<Output = wasmtime_wasi_http::Result<T>> + Send>;

impl WasiHttpHooks for NoOutgoingRequests {
    fn send_request(
        &mut self,
        _request: http::Request<wasmtime_wasi_http::WasiBody>,
        _options: Option<wasmtime_wasi_http::RequestOptions>,
        _response_errors: OutgoingFuture<()>,
    ) -> OutgoingFuture<(
        http::Response<wasmtime_wasi_http::WasiBody>,
        OutgoingFuture<()>,
    )> {
        Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) })
    }
}

/// Advances the engine's epoch on a background thread; stops when dropped.
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("epoch-ticker".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .expect("failed to spawn the epoch ticker thread");
        EpochTicker {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
