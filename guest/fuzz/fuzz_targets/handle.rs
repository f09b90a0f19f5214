//! Fuzzes the handler's parsing, merging and routing with arbitrary requests.
//! Run: `cd guest && cargo fuzz run handle --sanitizer none`

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    oauth_callback_guest::fuzzing::check(data);
});
