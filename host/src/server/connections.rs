//! The connection table. At most [`MAX_CONNECTIONS`] are open at once; when the
//! table is full, a new connection takes the place of the oldest one that is
//! not in the middle of a request (still in its TLS handshake, sending its
//! request head, or idle between keep-alive requests). Holding connections
//! open therefore cannot lock the browser out; only connections whose request
//! is being read or answered are kept.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::task::AbortHandle;

/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 256;

/// The open connections, oldest first.
#[derive(Default)]
pub struct Connections {
    table: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    next_id: u64,
    open: BTreeMap<u64, Entry>,
}

struct Entry {
    /// A request is being read or answered.
    busy: bool,
    /// Stops the connection's task; set once the task is spawned.
    abort: Option<AbortHandle>,
}

impl Connections {
    /// Make room for a new connection, closing the oldest evictable one if the
    /// table is full. `None` when every open connection is busy.
    pub fn admit(self: &Arc<Self>) -> Option<Ticket> {
        let mut table = self.lock();
        if table.open.len() >= MAX_CONNECTIONS {
            let oldest_idle = table.open.iter().find(|(_, entry)| !entry.busy);
            let (&id, _) = oldest_idle?;
            if let Some(abort) = table.open.remove(&id).and_then(|entry| entry.abort) {
                abort.abort();
            }
            tracing::debug!(
                "connection limit ({MAX_CONNECTIONS}) reached; closed the oldest idle one"
            );
        }
        let id = table.next_id;
        table.next_id += 1;
        table.open.insert(
            id,
            Entry {
                busy: false,
                abort: None,
            },
        );
        Some(Ticket {
            connections: self.clone(),
            id,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A connection's place in the table; dropping it frees the place.
pub struct Ticket {
    connections: Arc<Connections>,
    id: u64,
}

impl Ticket {
    /// Register how to stop the connection's task. A connection evicted
    /// before this is stopped at once.
    pub fn set_abort(&self, abort: AbortHandle) {
        match self.connections.lock().open.get_mut(&self.id) {
            Some(entry) => entry.abort = Some(abort),
            None => abort.abort(),
        }
    }

    /// Mark the connection busy until the guard is dropped.
    pub fn busy(&self) -> Busy {
        set_busy(&self.connections, self.id, true);
        Busy {
            connections: self.connections.clone(),
            id: self.id,
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.connections.lock().open.remove(&self.id);
    }
}

/// A request in progress on a connection: it cannot be evicted meanwhile.
pub struct Busy {
    connections: Arc<Connections>,
    id: u64,
}

impl Drop for Busy {
    fn drop(&mut self) {
        set_busy(&self.connections, self.id, false);
    }
}

fn set_busy(connections: &Connections, id: u64, busy: bool) {
    if let Some(entry) = connections.lock().open.get_mut(&id) {
        entry.busy = busy;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(connections: &Arc<Connections>) -> Vec<Ticket> {
        (0..MAX_CONNECTIONS)
            .map(|_| connections.admit().unwrap())
            .collect()
    }

    #[test]
    fn a_full_table_evicts_the_oldest_idle_connection() {
        let connections = Arc::new(Connections::default());
        let tickets = fill(&connections);
        let _first_busy = tickets[0].busy();
        let _second_busy = tickets[1].busy();
        let newcomer = connections.admit().expect("an idle connection makes room");
        assert_eq!(connections.lock().open.len(), MAX_CONNECTIONS);
        let ids: Vec<u64> = connections.lock().open.keys().copied().collect();
        assert!(ids.contains(&0) && ids.contains(&1), "busy ones are kept");
        assert!(!ids.contains(&2), "the oldest idle one is gone");
        assert!(ids.contains(&newcomer.id));
    }

    #[test]
    fn a_table_of_busy_connections_refuses_newcomers() {
        let connections = Arc::new(Connections::default());
        let tickets = fill(&connections);
        let busy: Vec<Busy> = tickets.iter().map(Ticket::busy).collect();
        assert!(connections.admit().is_none());
        drop(busy);
        assert!(connections.admit().is_some(), "idle again, so evictable");
    }

    #[test]
    fn closed_connections_free_their_place() {
        let connections = Arc::new(Connections::default());
        let ticket = connections.admit().unwrap();
        assert_eq!(connections.lock().open.len(), 1);
        drop(ticket);
        assert_eq!(connections.lock().open.len(), 0);
    }
}
