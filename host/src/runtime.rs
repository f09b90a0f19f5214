//! The WebAssembly side of the host: one engine, the handler component linked
//! once into an `InstancePre`, and a fresh sandboxed instance per request.

use std::path::Path;
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::Semaphore;
use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Store};

use crate::error::{Error, HandlerError, Result};
use sandbox::Sandbox;

mod cache;
mod contract;
mod embedded;
mod engine;
mod sandbox;

mod bindings {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "callback-handler",
        exports: { default: async },
    });
}

/// The WIT types of `oauth:callback/handler`, as the host sees them.
pub mod wit {
    pub use super::bindings::exports::oauth::callback::handler::{
        Completion, Header, Page, Reply, Request, Response, Settings,
    };
}

pub use embedded::HANDLER as EMBEDDED_HANDLER;

/// How often the epoch advances: a handler computing without pause yields
/// to the server this often, so that its deadline can pass.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Wall-clock time one handler call may take, instantiation and time blocked
/// in host calls included; past it the request gets 500.
pub const HANDLER_DEADLINE: Duration = Duration::from_secs(1);

/// How long a request may wait for a free handler instance.
pub const SLOT_WAIT: Duration = Duration::from_secs(10);

/// Linear memory a handler instance may use.
const MEMORY_LIMIT: usize = 16 << 20;

/// Handler instances alive at once; calls beyond it wait for a free one.
const POOLED_INSTANCES: u32 = 16;

/// Memory a pooled slot keeps mapped and zeroes with `memset` between
/// requests, instead of returning it to the kernel and faulting it back in;
/// what is written beyond it is returned.
const KEEP_RESIDENT: usize = 512 << 10;

/// Why a handler call produced no reply; every case costs only its request.
#[derive(Debug, thiserror::Error)]
pub enum Fault {
    /// Every instance stayed busy for [`SLOT_WAIT`].
    #[error("no handler instance became free within {SLOT_WAIT:?}")]
    Busy,
    /// The call ran past [`HANDLER_DEADLINE`]; its instance was dropped.
    #[error("the handler ran past its {HANDLER_DEADLINE:?} deadline")]
    Deadline,
    /// The handler trapped (a panic, running out of memory...).
    #[error("the handler trapped: {0:#}")]
    Trap(wasmtime::Error),
}

/// A loaded handler, ready to answer requests.
pub struct Runtime {
    loaded: Loaded,
    _ticker: EpochTicker,
}

/// A handler linked on its engine, and the engine's pool of instance slots
/// (shared by every server that uses the same `Loaded`).
#[derive(Clone)]
struct Loaded {
    pre: bindings::CallbackHandlerPre<Sandbox>,
    slots: Arc<Semaphore>,
}

/// The embedded handler, once loaded in this process: later servers (a
/// program that signs in again, each call of the Python package) reuse its
/// engine, compiled code and linked template instead of loading it anew.
static EMBEDDED_LOADED: Mutex<Option<Loaded>> = Mutex::new(None);

impl Runtime {
    /// `loaded`, with its engine's epoch ticking for as long as this lives.
    fn running(loaded: Loaded) -> Self {
        Runtime {
            _ticker: EpochTicker::start(loaded.pre.engine().clone()),
            loaded,
        }
    }

    /// Make an engine (for the embedded compiled handler: `in_place`), get
    /// the compiled handler from `compile`, check it against the contract
    /// and link it; `origin` names it in errors.
    fn load(
        origin: &str,
        in_place: bool,
        compile: impl FnOnce(&Engine) -> wasmtime::Result<Component>,
    ) -> Result<Loaded> {
        let failed = |e: wasmtime::Error| handler_error(origin, HandlerError::Load(e.into()));
        let engine = new_engine(in_place).map_err(failed)?;
        let component = compile(&engine).map_err(failed)?;
        contract::check_contract(&engine, &component)
            .map_err(|r| handler_error(origin, HandlerError::Contract(r)))?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi_http::p2::add_to_linker_async(&mut linker)
            .and_then(|()| linker.instantiate_pre(&component))
            .and_then(bindings::CallbackHandlerPre::new)
            .map(|pre| Loaded {
                slots: Arc::new(Semaphore::new(POOLED_INSTANCES as usize)),
                pre,
            })
            .map_err(failed)
    }

    /// Compile (or take from the cache), check and link a handler component.
    pub fn new(component: &[u8], origin: &str) -> Result<Self> {
        Runtime::compile(component, origin).map(Runtime::running)
    }

    /// Check a component, then compile it (or take it from the cache) and link it.
    fn compile(component: &[u8], origin: &str) -> Result<Loaded> {
        check_is_component(component)
            .map_err(|r| handler_error(origin, HandlerError::Contract(r.into())))?;
        Runtime::load(origin, false, |engine| cache::load(engine, component))
    }

    /// A handler component from a file (`--handler`).
    pub fn from_file(path: &Path) -> Result<Self> {
        let origin = path.display().to_string();
        let bytes = crate::files::read_bounded(path, crate::files::MAX_HANDLER)
            .map_err(|e| handler_error(&origin, HandlerError::Read(e)))?;
        Runtime::new(&bytes, &origin)
    }

    /// The default handler, precompiled at build time and loaded in place
    /// (see [`embedded`]; compiled here, and cached, only in a build for
    /// another architecture than the builder's: see `build.rs`); loaded on
    /// the first call in a process, reused after ([`EMBEDDED_LOADED`]).
    pub fn embedded() -> Result<Self> {
        let mut cached = EMBEDDED_LOADED
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(loaded) = &*cached {
            return Ok(Runtime::running(loaded.clone()));
        }
        let loaded = if embedded::COMPILED.is_empty() {
            Runtime::compile(embedded::HANDLER, "embedded")?
        } else {
            Runtime::load("embedded", true, embedded::load)?
        };
        *cached = Some(loaded.clone());
        Ok(Runtime::running(loaded))
    }

    /// Run one request on a fresh instance, waiting for a free one first.
    pub async fn handle(
        &self,
        settings: &wit::Settings,
        request: &wit::Request,
    ) -> std::result::Result<wit::Reply, Fault> {
        // A free slot is taken at once; only a wait needs a timer.
        let slots = &self.loaded.slots;
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => tokio::time::timeout(SLOT_WAIT, slots.clone().acquire_owned())
                .await
                .map_err(|_| Fault::Busy)?
                .expect("the slot semaphore is never closed"),
        };
        let mut store = self.loaded.store();
        // Dropping the call at the deadline drops its instance.
        let reply =
            tokio::time::timeout(HANDLER_DEADLINE, self.call(&mut store, settings, request))
                .await
                .map_err(|_| Fault::Deadline)
                .and_then(|called| called.map_err(Fault::Trap));
        // The store's drop resets the instance's memory in the pool: done
        // once the reply is on its way (the connection's task, woken when
        // the task answering its request ends, writes the reply before this
        // one, which yields first, goes on), and the slot freed then.
        tokio::spawn(async move {
            tokio::task::yield_now().await;
            drop(store);
            drop(slot);
        });
        reply
    }

    async fn call(
        &self,
        store: &mut Store<Sandbox>,
        settings: &wit::Settings,
        request: &wit::Request,
    ) -> wasmtime::Result<wit::Reply> {
        let handler = self.loaded.pre.instantiate_async(&mut *store).await?;
        handler
            .oauth_callback_handler()
            .call_handle(store, settings, request)
            .await
    }
}

impl Loaded {
    /// A store for one instance, in a fresh sandbox.
    fn store(&self) -> Store<Sandbox> {
        let mut store = Store::new(self.pre.engine(), Sandbox::new());
        store.limiter(|sandbox| &mut sandbox.limits);
        store.set_epoch_deadline(1);
        store.epoch_deadline_async_yield_and_update(1);
        store
    }
}

fn handler_error(origin: &str, source: HandlerError) -> Error {
    Error::Handler {
        origin: origin.to_string(),
        source,
    }
}

/// An engine for handlers: [`engine::compilation_config`] for this machine,
/// and a pooling allocator so that a fresh instance per request costs
/// microseconds. Between requests a slot's memory is reset: with Linux's
/// `PAGEMAP_SCAN` (kernel 6.7 and later) only the pages the instance wrote,
/// elsewhere the first [`KEEP_RESIDENT`] bytes whether written or not (on
/// the first request, faulting them in); see [`KEEP_RESIDENT`]. `in_place`:
/// an engine that loads only the embedded compiled handler, where it lies
/// ([`embedded::configure`]).
fn new_engine(in_place: bool) -> wasmtime::Result<Engine> {
    let mut pool = wasmtime::PoolingAllocationConfig::new();
    pool.total_component_instances(POOLED_INSTANCES)
        .total_core_instances(4 * POOLED_INSTANCES)
        .total_memories(POOLED_INSTANCES)
        .total_tables(4 * POOLED_INSTANCES)
        .total_stacks(POOLED_INSTANCES)
        .max_memory_size(MEMORY_LIMIT)
        .linear_memory_keep_resident(KEEP_RESIDENT)
        .table_keep_resident(KEEP_RESIDENT)
        .pagemap_scan(wasmtime::Enabled::Auto);
    let mut config = engine::compilation_config(None)?;
    config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
    if in_place {
        embedded::configure(&mut config);
    }
    Engine::new(&config)
}

/// Refuses what is not a component before wasmtime gives a vaguer message.
fn check_is_component(bytes: &[u8]) -> std::result::Result<(), &'static str> {
    use wasmparser::Parser;
    if Parser::is_component(bytes) {
        Ok(())
    } else if Parser::is_core_wasm(bytes) {
        Err(
            "a core WebAssembly module, not a component; build for wasm32-wasip2 \
             or wrap it with `wasm-tools component new`",
        )
    } else {
        Err("not a WebAssembly component (no component header)")
    }
}

/// Advances the engine's epoch on a background thread; stops when dropped,
/// at once (the thread waits for its next tick on a channel whose sender
/// the drop closes, not in a sleep the drop would have to sit out).
struct EpochTicker {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: Engine) -> Self {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("epoch-ticker".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(EPOCH_TICK) {
                    engine.increment_epoch();
                }
            })
            .expect("failed to spawn the epoch ticker thread");
        EpochTicker {
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
