//! Turns arbitrary bytes into a request, and checks the invariants every
//! answer must keep. Shared by the `cargo fuzz` target (`guest/fuzz`) and the
//! test that replays its checked-in corpus.

use alloc::string::String;
use alloc::vec::Vec;

use crate::http::{Header, Request, Settings};

const METHODS: [&str; 4] = ["GET", "POST", "PUT", "OPTIONS"];
const CONTENT_TYPES: [&str; 4] = [
    "application/json",
    "application/x-www-form-urlencoded",
    "text/plain",
    "application/json; charset=utf-8",
];

/// Settings and a request from fuzzer bytes: the first byte picks the method,
/// content type and checks; then path, query and `Origin` lines; the rest is
/// the body, as raw bytes.
pub fn case_from_bytes(data: &[u8]) -> (Settings, Request) {
    let (&control, rest) = data.split_first().unwrap_or((&0, &[]));
    let mut lines = rest.splitn(4, |&b| b == b'\n');
    let mut text = || String::from_utf8_lossy(lines.next().unwrap_or_default()).into_owned();
    let (path, query, origin) = (text(), text(), text());
    let body: Vec<u8> = lines.next().unwrap_or_default().to_vec();
    let mut headers = alloc::vec![
        Header::new("content-type", CONTENT_TYPES[usize::from(control >> 2) % 4]),
        Header::new("host", "127.0.0.1:8080"),
    ];
    if !origin.is_empty() {
        headers.push(Header::new("origin", &origin));
    }
    if control & 0x10 != 0 {
        headers.push(Header::new("accept", "application/json"));
    }
    let settings = Settings {
        expected_state: (control & 0x20 != 0).then(|| "expected".into()),
        expected_issuer: (control & 0x40 != 0).then(|| "https://idp.example".into()),
        issuer_required: control & 0x80 != 0,
        form_post_only: control & 0x08 != 0,
        ..Settings::default()
    };
    let request = Request {
        method: METHODS[usize::from(control) % 4].into(),
        path: if path.is_empty() {
            "/callback".into()
        } else {
            path
        },
        query: (!query.is_empty()).then_some(query),
        headers,
        body,
    };
    (settings, request)
}

/// Run one case and assert what must hold for any input: no panic, a
/// hardened response, and a completion only with a JSON object of params.
pub fn check(data: &[u8]) {
    let (settings, request) = case_from_bytes(data);
    let reply = crate::handle(&settings, &request);
    assert!(reply.response.header("content-security-policy").is_some());
    if let Some(completion) = reply.completed {
        let params: serde_json::Value = serde_json::from_str(&completion.params).unwrap();
        assert!(params.is_object());
        assert_eq!(reply.response.status, 200);
    }
}

#[cfg(test)]
mod tests {
    /// Every input in the fuzz corpus (checked in under `guest/fuzz/corpus`)
    /// still runs without a panic.
    #[test]
    fn the_fuzz_corpus_replays_cleanly() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus/handle");
        let mut replayed = 0;
        for entry in std::fs::read_dir(dir).expect("the fuzz corpus is checked in") {
            let path = entry.unwrap().path();
            super::check(&std::fs::read(&path).unwrap());
            replayed += 1;
        }
        assert!(replayed >= 10, "only {replayed} corpus entries");
    }
}
