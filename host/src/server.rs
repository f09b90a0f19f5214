//! The HTTP(S) server's transport: the accept loops, the connection table
//! and the stop. What a connection becomes is [`connection`]'s; what a
//! request gets is [`app`]'s. It never parses parameters: every request
//! goes to the handler as it came.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

mod app;
mod connection;
mod connections;
mod limits;
mod paste;
mod responses;
mod schemes;
mod slot;

pub(crate) use app::{AfterCompletion, App};
pub use paste::{MAX_PASTED_URL, Mismatch, PasteBack, Pasted};
pub(crate) use schemes::Schemes;

use connection::stopped;
use connections::Connections;

/// How long in-flight connections may take to finish after the flow completes.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// Serve every listener until `stop` turns true, then let in-flight
/// connections finish (see [`connection`] for which). The connection limit
/// is shared by all listeners.
pub(crate) async fn serve(
    listeners: Vec<TcpListener>,
    schemes: Schemes,
    app: Arc<App>,
    stop: watch::Receiver<bool>,
) {
    let connections = Arc::new(Connections::default());
    let schemes = Arc::new(schemes);
    let loops: Vec<_> = listeners
        .into_iter()
        .map(|listener| {
            let (schemes, app, connections) = (schemes.clone(), app.clone(), connections.clone());
            tokio::spawn(accept_loop(
                listener,
                schemes,
                app,
                connections,
                stop.clone(),
            ))
        })
        .collect();
    for accept in loops {
        let _ = accept.await;
    }
}

/// Accept connections on one listener until `stop` turns true; then answer
/// those still waiting in its backlog (made before the stop: they get an
/// HTTP answer, not a reset) and give every connection the exit budget to
/// finish. What is left after it is closed.
async fn accept_loop(
    listener: TcpListener,
    schemes: Arc<Schemes>,
    app: Arc<App>,
    connections: Arc<Connections>,
    mut stop: watch::Receiver<bool>,
) {
    let mut open = Open {
        tasks: JoinSet::new(),
        schemes,
        app,
        connections,
        stop: stop.clone(),
    };
    // A client that connected while the server was being set up waits in
    // the backlog: taken at once, as a new listener's readiness is known
    // only once the I/O driver has polled (a wake-up of another thread).
    for stream in waiting(&listener) {
        open.add(stream);
    }
    loop {
        let stream = tokio::select! {
            _ = stopped(&mut stop) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(e) => {
                    // Out of descriptors and the like: back off instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        open.add(stream);
    }
    for stream in waiting(&listener) {
        open.add(stream);
    }
    drop(listener);
    let tasks = &mut open.tasks;
    let finished = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(DRAIN_TIMEOUT, finished).await.is_err() {
        tracing::debug!("connections still open after {DRAIN_TIMEOUT:?}; closing them");
    }
}

/// The connections a listener accepted, each on a task of its own.
struct Open {
    /// Dropping the set closes what is left.
    tasks: JoinSet<()>,
    schemes: Arc<Schemes>,
    app: Arc<App>,
    connections: Arc<Connections>,
    stop: watch::Receiver<bool>,
}

impl Open {
    /// Serve `stream`, if the connection limit lets it in.
    fn add(&mut self, stream: TcpStream) {
        while self.tasks.try_join_next().is_some() {}
        let Some(ticket) = self.connections.admit() else {
            tracing::warn!(
                "connection limit ({}) reached with every connection busy; refusing one",
                connections::MAX_CONNECTIONS
            );
            return;
        };
        // Answers are small and written at once: do not wait for more data.
        let _ = stream.set_nodelay(true);
        let ticket = Arc::new(ticket);
        let abort = self.tasks.spawn(connection::serve(
            stream,
            self.schemes.clone(),
            self.app.clone(),
            ticket.clone(),
            self.stop.clone(),
        ));
        ticket.set_abort(abort);
    }
}

/// The connections waiting in `listener`'s backlog, taken without waiting.
fn waiting(listener: &TcpListener) -> Vec<TcpStream> {
    let socket = socket2::SockRef::from(listener);
    std::iter::from_fn(|| socket.accept().ok())
        .filter_map(|(socket, _peer)| {
            let stream = std::net::TcpStream::from(socket);
            stream.set_nonblocking(true).ok()?;
            TcpStream::from_std(stream).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn what_waits_in_the_backlog_is_taken_without_waiting() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        // Connected before anything accepts: the kernel queues them.
        let _clients = [
            std::net::TcpStream::connect(address).unwrap(),
            std::net::TcpStream::connect(address).unwrap(),
        ];
        assert_eq!(waiting(&listener).len(), 2);
        assert!(waiting(&listener).is_empty(), "nothing is left");
    }
}
