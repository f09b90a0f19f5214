//! Both schemes on one port. Browsers upgrade `http://` to `https://` (HSTS,
//! HTTPS-Only modes) or the other way round (a provider that registered the
//! other one): the first byte of a connection tells a TLS handshake (a
//! handshake record, 0x16) from plain HTTP. On a TLS server plain HTTP gets
//! `308 Permanent Redirect` to the same URL over `https://`; on a plain one
//! a handshake is served with an ad hoc certificate made on first need.
//! `one_scheme` turns both off.

use tokio::net::TcpStream;
use tokio::sync::OnceCell;
use tokio_rustls::TlsAcceptor;

use crate::config::Tls;

/// The first byte of a TLS handshake record.
const HANDSHAKE: u8 = 0x16;

/// What a connection is served with, by its first byte.
pub(crate) struct Schemes {
    /// The server's own TLS, or none for plain HTTP.
    tls: Option<TlsAcceptor>,
    /// Only the server's own scheme is spoken.
    one_scheme: bool,
    /// For handshakes on a plain-HTTP server, made on the first one.
    adhoc: OnceCell<Option<TlsAcceptor>>,
}

/// How to serve one connection.
pub(crate) enum Serve {
    /// HTTP over TLS, with this acceptor.
    Tls(TlsAcceptor),
    /// Plain HTTP.
    Plain,
    /// Plain HTTP on a TLS server: every request is sent to `https://`.
    ToHttps,
    /// Nothing to serve (closed early, or no certificate could be made).
    Close,
}

impl Schemes {
    /// For a server speaking `tls` (none: plain HTTP).
    pub(crate) fn new(tls: Option<TlsAcceptor>, one_scheme: bool) -> Self {
        Schemes {
            tls,
            one_scheme,
            adhoc: OnceCell::new(),
        }
    }

    /// How to serve `stream`, from its first byte (waited for).
    pub(crate) async fn choose(&self, stream: &TcpStream) -> Serve {
        if self.one_scheme {
            return self.tls.clone().map_or(Serve::Plain, Serve::Tls);
        }
        let handshake = match first_byte(stream).await {
            Some(byte) => byte == HANDSHAKE,
            None => return Serve::Close,
        };
        match (&self.tls, handshake) {
            (Some(tls), true) => Serve::Tls(tls.clone()),
            (Some(_), false) => Serve::ToHttps,
            (None, false) => Serve::Plain,
            (None, true) => self.adhoc().await.map_or(Serve::Close, Serve::Tls),
        }
    }

    /// The ad hoc certificate's acceptor, made once (on a blocking thread).
    async fn adhoc(&self) -> Option<TlsAcceptor> {
        let made = self.adhoc.get_or_init(|| async {
            let made = tokio::task::spawn_blocking(|| crate::tls::server_config(&Tls::Adhoc, crate::config::DEFAULT_TIMEOUT)).await;
            match made {
                Ok(Ok(Some((config, _)))) => {
                    tracing::info!(
                        "a browser asked for https on the http port: serving it with an ad hoc certificate"
                    );
                    Some(TlsAcceptor::from(config))
                }
                Ok(Err(e)) => {
                    tracing::warn!("cannot answer https on the http port: {e}");
                    None
                }
                _ => None,
            }
        });
        made.await.clone()
    }
}

/// The first byte the client sent, left unread; `None` once it closed
/// without sending one. Looked at in the socket first: a new stream's
/// readiness is known only once the I/O driver has polled.
async fn first_byte(stream: &TcpStream) -> Option<u8> {
    if let Some(byte) = byte_waiting(socket2::SockRef::from(stream)) {
        return Some(byte);
    }
    let mut first = [0; 1];
    match stream.peek(&mut first).await {
        Ok(1) => Some(first[0]),
        _ => None,
    }
}

/// The next byte waiting unread in `socket` (non-blocking), looked at
/// without reading it or waiting; `None` when nothing waits or the client
/// closed.
pub(super) fn byte_waiting(socket: socket2::SockRef<'_>) -> Option<u8> {
    let mut byte = [std::mem::MaybeUninit::uninit(); 1];
    match socket.peek(&mut byte) {
        // SAFETY: `peek` wrote the one byte it reports.
        Ok(1) => Some(unsafe { byte[0].assume_init() }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    use super::*;

    /// How `schemes` serves a connection whose first bytes are `first`.
    async fn served(schemes: &Schemes, first: &[u8]) -> &'static str {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        client.write_all(first).await.unwrap();
        match schemes.choose(&server).await {
            Serve::Tls(_) => "tls",
            Serve::Plain => "plain",
            Serve::ToHttps => "to https",
            Serve::Close => "close",
        }
    }

    fn tls() -> TlsAcceptor {
        let (config, _) = crate::tls::server_config(&Tls::Adhoc, crate::config::DEFAULT_TIMEOUT)
            .unwrap()
            .unwrap();
        TlsAcceptor::from(config)
    }

    #[tokio::test]
    async fn the_first_byte_tells_a_handshake_from_plain_http() {
        let handshake = [HANDSHAKE, 3, 1];
        let https = Schemes::new(Some(tls()), false);
        assert_eq!(served(&https, &handshake).await, "tls");
        assert_eq!(served(&https, b"GET / HTTP/1.1\r\n").await, "to https");
        let http = Schemes::new(None, false);
        assert_eq!(served(&http, b"GET / HTTP/1.1\r\n").await, "plain");
        assert_eq!(
            served(&http, &handshake).await,
            "tls",
            "an ad hoc certificate"
        );
    }

    #[tokio::test]
    async fn a_first_byte_not_there_yet_is_waited_for_and_a_silent_close_closes() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let mut late = TcpStream::connect(address).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let writer = tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            late.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
            late
        });
        assert_eq!(first_byte(&server).await, Some(b'G'));
        drop(writer.await.unwrap());
        let silent = TcpStream::connect(address).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        drop(silent);
        assert_eq!(first_byte(&server).await, None);
    }

    #[tokio::test]
    async fn one_scheme_serves_only_the_servers_own() {
        let https = Schemes::new(Some(tls()), true);
        assert_eq!(served(&https, b"GET / HTTP/1.1\r\n").await, "tls");
        let http = Schemes::new(None, true);
        assert_eq!(served(&http, &[HANDSHAKE]).await, "plain");
    }
}
