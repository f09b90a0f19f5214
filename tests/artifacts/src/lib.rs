//! Paths of the handler components the tests swap in with `--handler`,
//! built by this crate's build script: `BRANDED_HANDLER` (the example),
//! `MISBEHAVING_HANDLER` (loops, traps, sleeps on request) and
//! `USES_STD_HANDLER` (imports outside the sandbox).

include!(concat!(env!("OUT_DIR"), "/paths.rs"));
