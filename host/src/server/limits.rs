//! The limits every connection and request is held to (the body's is the
//! handler crate's, `MAX_BODY`, shared with wasi:http hosts).

use std::time::Duration;

/// Largest request head (request line and headers) buffered.
pub(crate) const MAX_HEAD: usize = 16 << 10;
/// Time allowed for a TLS handshake, for each request head and each body.
pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(10);
