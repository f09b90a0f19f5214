//! What one request costs the handler: a free instance slot, a fresh sandboxed
//! instance from the `InstancePre`, one async call with a typical callback
//! under its deadline, the instance dropped;
//! next to the same logic called natively (the guest crate built for the host).
//!
//! `cargo bench -p oauth-callback --bench handler`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use oauth_callback::runtime::{Runtime, wit};
use oauth_callback_guest::http as native;

const QUERY: &str =
    "code=4%2F0AbCdEfGhIjKlMnOpQrStUvWxYz&state=af0ifjsldkj&iss=https%3A%2F%2Fidp.example";
const HEADERS: [(&str, &str); 3] = [
    ("host", "127.0.0.1:8080"),
    ("accept", "text/html,application/xhtml+xml"),
    ("user-agent", "Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0"),
];

fn wasm(c: &mut Criterion) {
    let runtime = Runtime::embedded().expect("the embedded handler loads");
    // Calls are async (fibers, a deadline); a current-thread runtime drives them.
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let settings = wit::Settings {
        callback_path: "/callback".into(),
        success_page: None,
        error_page: None,
        expected_state: None,
        expected_issuer: None,
        issuer_required: false,
        form_post_only: false,
    };
    let request = wit::Request {
        method: "GET".into(),
        path: "/callback".into(),
        query: Some(QUERY.into()),
        headers: HEADERS
            .iter()
            .map(|(name, value)| wit::Header {
                name: (*name).into(),
                value: value.as_bytes().to_vec(),
            })
            .collect(),
        body: Vec::new(),
    };
    c.bench_function("callback/wasm: instantiate + handle + drop", |b| {
        b.iter(|| {
            tokio
                .block_on(runtime.handle(black_box(&settings), black_box(&request)))
                .unwrap()
        })
    });
    let stray = wit::Request {
        path: "/favicon.ico".into(),
        query: None,
        ..request.clone()
    };
    c.bench_function("stray 404/wasm: instantiate + handle + drop", |b| {
        b.iter(|| {
            tokio
                .block_on(runtime.handle(black_box(&settings), black_box(&stray)))
                .unwrap()
        })
    });
}

fn native(c: &mut Criterion) {
    let settings = native::Settings::default();
    let request = native::Request {
        method: "GET".into(),
        path: "/callback".into(),
        query: Some(QUERY.into()),
        headers: HEADERS
            .iter()
            .map(|(n, v)| native::Header::new(n, v))
            .collect(),
        body: Vec::new(),
    };
    c.bench_function("callback/native: handle", |b| {
        b.iter(|| oauth_callback_guest::handle(black_box(&settings), black_box(&request)))
    });
}

criterion_group!(benches, wasm, native);
criterion_main!(benches);
