//! The runtime pieces `std` would otherwise provide to a `no_std` handler
//! component on `wasm32-wasip2`: a global allocator, a panic handler (trap),
//! `cabi_realloc` backed by that allocator, and wasi-libc for `memcmp` and
//! friends. Without `std` the component imports nothing it does not use, so
//! plain `wasmtime serve` and strict plugin hosts accept it.
//!
//! Depend on it and write `use oauth_callback_guest_rt as _;` once. On other
//! targets it is empty.

#![no_std]

#[cfg(target_arch = "wasm32")]
mod wasm {
    extern crate alloc;

    use alloc::alloc::{Layout, alloc, realloc};

    #[global_allocator]
    static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

    #[panic_handler]
    fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
        core::arch::wasm32::unreachable()
    }

    // wasi-libc provides `memcmp`, `memcpy` and friends; nothing else of it is used.
    #[link(name = "c")]
    unsafe extern "C" {}

    /// The canonical ABI's allocation entry point, backed by the Rust
    /// allocator (wit-bindgen leaves it to wasi-libc on p2, which would bring
    /// a second malloc).
    ///
    /// # Safety
    /// Called only by the component model runtime, under the canonical ABI's
    /// contract: a valid alignment, and for a non-zero `old_len` a pointer this
    /// function returned with that size and alignment.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn cabi_realloc(
        old_ptr: *mut u8,
        old_len: usize,
        align: usize,
        new_len: usize,
    ) -> *mut u8 {
        if new_len == 0 {
            return align as *mut u8;
        }
        // SAFETY: guaranteed by the caller, see above.
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
}
