//! The default handler, embedded in the binary: the component as built from
//! `guest/`, and the same compiled by the build script for this target.
//!
//! On Linux the compiled handler runs where it lies. It is placed, page
//! aligned, in the binary's executable text segment, and an engine set up by
//! [`configure`] loads it in place (wasmtime's `deserialize_raw`): nothing
//! is copied into fresh memory and no page changes protection; its pages
//! come from the page cache as they are first run. Loading it so takes
//! 0.2 ms instead of 0.5 at each start. Elsewhere it is copied into memory
//! made executable, as any artifact is.

use wasmtime::component::Component;
use wasmtime::{Config, Engine};

/// The bytes of a file the build script wrote into `OUT_DIR`.
macro_rules! out_file {
    ($name:literal) => {
        include_bytes!(concat!(env!("OUT_DIR"), "/", $name))
    };
}

/// The default handler component: the same bytes run under `wasmtime serve`
/// and other wasi:http hosts (`oauth-callback export-handler` writes them out).
pub static HANDLER: &[u8] = out_file!("handler.wasm");

/// [`HANDLER`] compiled by the build script for this target's baseline CPU:
/// starting never runs Cranelift for it, nor reads a cache. Empty in a build
/// for another architecture than the builder's (see `build.rs`).
pub static COMPILED: &[u8] = &IN_TEXT.0;

/// Aligned to a 4 KiB page: the artifact's sections are aligned from its
/// start, and no code in it needs more (nothing is remapped: the artifact's
/// own 64 KiB text alignment on arm64 concerns mappings only).
#[repr(C, align(4096))]
struct PageAligned<T: ?Sized>(T);

/// The bytes of [`COMPILED`], in the executable text segment on Linux.
#[cfg_attr(
    target_os = "linux",
    unsafe(link_section = ".text.oauth_callback_handler")
)]
static IN_TEXT: PageAligned<[u8; out_file!("handler.cwasm").len()]> =
    PageAligned(*out_file!("handler.cwasm"));

/// Set up `config` for [`load`]: on Linux, code memory that is the binary's
/// own text (an engine so set up loads nothing else).
pub fn configure(config: &mut Config) {
    #[cfg(target_os = "linux")]
    config.with_custom_code_memory(Some(std::sync::Arc::new(InText)));
    #[cfg(not(target_os = "linux"))]
    let _ = config;
}

/// [`COMPILED`] as a component, on an engine set up by [`configure`].
pub fn load(engine: &Engine) -> wasmtime::Result<Component> {
    // SAFETY: the artifact was made by the build script with
    // `engine::compilation_config` and this wasmtime version; wasmtime still
    // checks its header, settings and CPU features. In place, it is a static:
    // it lives as long as the binary (or the Python extension, which CPython
    // never unloads) is mapped, and nothing writes to it. It runs with the
    // binary's own protections: the binary is not marked for arm64's BTI,
    // for which the artifact is not built either.
    #[cfg(target_os = "linux")]
    unsafe {
        Component::deserialize_raw(engine, std::ptr::NonNull::from(COMPILED))
    }
    #[cfg(not(target_os = "linux"))]
    unsafe {
        Component::deserialize(engine, COMPILED)
    }
}

/// Code memory for the compiled handler in place: already executable and
/// never written, so publishing it is a check that the code is the
/// handler's, and there is nothing to undo.
#[cfg(target_os = "linux")]
struct InText;

#[cfg(target_os = "linux")]
impl wasmtime::CustomCodeMemory for InText {
    fn required_alignment(&self) -> usize {
        // Nothing is remapped: any address will do.
        1
    }

    fn publish_executable(&self, code: *const u8, len: usize) -> wasmtime::Result<()> {
        let in_text = COMPILED.as_ptr_range();
        wasmtime::ensure!(
            in_text.start <= code && code.wrapping_add(len) <= in_text.end,
            "this engine runs only the embedded handler's code, in place"
        );
        Ok(())
    }

    fn unpublish_executable(&self, _code: *const u8, _len: usize) -> wasmtime::Result<()> {
        Ok(())
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use wasmtime::CustomCodeMemory;

    use super::*;

    /// The mapping of this process that holds `address`, as /proc/self/maps
    /// lists it (`start-end perms offset dev inode path`).
    fn mapping_of(address: *const u8) -> String {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let address = address as usize;
        maps.lines()
            .find(|line| {
                let range = line.split_whitespace().next().unwrap();
                let (start, end) = range.split_once('-').unwrap();
                let start = usize::from_str_radix(start, 16).unwrap();
                let end = usize::from_str_radix(end, 16).unwrap();
                (start..end).contains(&address)
            })
            .unwrap()
            .to_string()
    }

    #[test]
    fn the_compiled_handler_lies_in_executable_text_and_loads_there() {
        assert!(!COMPILED.is_empty());
        assert_eq!(COMPILED.as_ptr() as usize % 4096, 0);
        let mapping = mapping_of(COMPILED.as_ptr());
        let perms = mapping.split_whitespace().nth(1).unwrap();
        assert_eq!(&perms[..3], "r-x", "{mapping}");
        let mut config = crate::runtime::engine::compilation_config(None).unwrap();
        configure(&mut config);
        let engine = Engine::new(&config).unwrap();
        let component = load(&engine).unwrap();
        assert!(component.component_type().exports(&engine).count() > 0);
    }

    #[test]
    fn in_place_publishing_refuses_code_elsewhere() {
        let in_text = COMPILED.as_ptr_range();
        assert!(
            InText
                .publish_executable(in_text.start, COMPILED.len())
                .is_ok()
        );
        let elsewhere = [0u8; 16];
        assert!(InText.publish_executable(elsewhere.as_ptr(), 16).is_err());
        assert!(
            InText
                .publish_executable(in_text.start, COMPILED.len() + 1)
                .is_err()
        );
    }
}
