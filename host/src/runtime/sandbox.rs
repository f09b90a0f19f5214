//! A request's sandbox: the store state of one instance, with the
//! `wasi:http/proxy` world's contexts and nothing else (no filesystem,
//! environment, sockets or outgoing requests), under a memory limit.

use wasmtime::component::ResourceTable;
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

use super::MEMORY_LIMIT;

/// Per-request state: the proxy world's contexts and nothing else (no
/// filesystem, environment, sockets or outgoing requests).
pub(super) struct Sandbox {
    /// How much the instance may grow.
    pub(super) limits: StoreLimits,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    hooks: NoOutgoingRequests,
}

impl Sandbox {
    pub(super) fn new() -> Self {
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
