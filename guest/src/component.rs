//! The wit-bindgen glue: exports [`crate::handle`] as `oauth:callback/handler`,
//! and supplies what `no_std` leaves out on `wasm32-wasip2` (allocator, panic
//! handler, `cabi_realloc`).

use crate::http;

wit_bindgen::generate!({
    path: "../wit",
    world: "callback-handler",
});

use exports::oauth::callback::handler as wit;

struct Handler;

impl wit::Guest for Handler {
    fn handle(settings: wit::Settings, request: wit::Request) -> wit::Reply {
        let settings = http::Settings {
            callback_path: settings.callback_path,
            success_page: settings.success_page,
            error_page: settings.error_page,
        };
        let request = http::Request {
            method: request.method,
            path: request.path,
            query: request.query,
            headers: request.headers.into_iter().map(from_wit).collect(),
            body: request.body,
        };
        let reply = crate::handle(&settings, &request);
        wit::Reply {
            response: wit::Response {
                status: reply.response.status,
                headers: reply.response.headers.into_iter().map(to_wit).collect(),
                body: reply.response.body,
            },
            completed: reply.completed.map(|c| wit::Completion {
                params: c.params,
                method: c.method,
                path: c.path,
            }),
        }
    }
}

fn from_wit(header: wit::Header) -> http::Header {
    http::Header {
        name: header.name,
        value: header.value,
    }
}

fn to_wit(header: http::Header) -> wit::Header {
    wit::Header {
        name: header.name,
        value: header.value,
    }
}

export!(Handler);

#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}

// wasi-libc provides `memcmp`, `memcpy` and friends; nothing else of it is used.
#[link(name = "c")]
unsafe extern "C" {}

/// The canonical ABI's allocation entry point, backed by the Rust allocator
/// (wit-bindgen leaves it to wasi-libc on p2, which would bring its own malloc).
///
/// # Safety
/// Called only by the component model runtime, with the canonical ABI's contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cabi_realloc(
    old_ptr: *mut u8,
    old_len: usize,
    align: usize,
    new_len: usize,
) -> *mut u8 {
    use alloc::alloc::{Layout, alloc, realloc};
    if new_len == 0 {
        return align as *mut u8;
    }
    // SAFETY: the caller passes a valid alignment and, for a non-zero
    // `old_len`, a pointer it got from this function with that layout.
    let ptr = unsafe {
        if old_len == 0 {
            alloc(Layout::from_size_align_unchecked(new_len, align))
        } else {
            realloc(
                old_ptr,
                Layout::from_size_align_unchecked(old_len, align),
                new_len,
            )
        }
    };
    if ptr.is_null() {
        core::arch::wasm32::unreachable();
    }
    ptr
}
