//! A child made by `fork()` (`multiprocessing` on Linux) inherits every
//! descriptor, running servers' listening sockets included, but none of
//! their threads: left alone, it would hold the port after the parent's
//! server stopped, accepting connections nobody answers. The package
//! registers [`close_inherited_listeners`] with `os.register_at_fork`
//! (Unix only: Windows has no `fork()`).

use std::net::SocketAddr;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use socket2::SockRef;

/// The listening sockets of the servers running in this process, by
/// registration number: each descriptor with the address it listens on.
static LISTENERS: Mutex<Vec<(u64, Vec<Listener>)>> = Mutex::new(Vec::new());
static NEXT: AtomicU64 = AtomicU64::new(0);

/// A listening socket: its descriptor and the address it was bound to.
#[derive(Clone, Copy)]
pub struct Listener {
    fd: RawFd,
    addr: SocketAddr,
}

impl Listener {
    /// The listening socket `fd`, bound to `addr`.
    pub fn new(fd: RawFd, addr: SocketAddr) -> Self {
        Listener { fd, addr }
    }
}

/// Registered sockets, unregistered when dropped (once the server has
/// closed them).
pub struct Registration(u64);

/// Note a server's listening sockets, for children forked while it runs.
pub fn register(listeners: Vec<Listener>) -> Registration {
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    if let Ok(mut all) = LISTENERS.lock() {
        all.push((id, listeners));
    }
    Registration(id)
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Ok(mut all) = LISTENERS.lock() {
            all.retain(|(id, _)| *id != self.0);
        }
    }
}

/// In the child: put `/dev/null` in place of each registered descriptor
/// that is still that listening socket (one that a server closed just
/// before the fork may have been reused for something else: left alone).
/// The descriptor numbers stay taken, so nothing else of the child's can
/// be mistaken for them.
pub fn close_inherited_listeners() {
    // A lock held by a thread that does not exist in the child is never
    // released: better to leave the sockets than to hang the child.
    let Ok(all) = LISTENERS.try_lock() else {
        return;
    };
    let Ok(null) = std::fs::File::open("/dev/null") else {
        return;
    };
    for listener in all.iter().flat_map(|(_, listeners)| listeners) {
        // SAFETY: only looked at while the lock is held; the descriptor is
        // open in this process (replaced below, never closed).
        let fd = unsafe { BorrowedFd::borrow_raw(listener.fd) };
        let socket = SockRef::from(&fd);
        let ours = listening(&fd)
            && socket.local_addr().ok().and_then(|a| a.as_socket()) == Some(listener.addr);
        if ours {
            // SAFETY: dup2 onto a descriptor of this process.
            unsafe { libc::dup2(null.as_raw_fd(), listener.fd) };
        }
    }
}

/// Whether `fd` is a listening socket (`SO_ACCEPTCONN`, which every Unix
/// answers; socket2 asks it on Linux and FreeBSD only).
fn listening(fd: &BorrowedFd<'_>) -> bool {
    let mut value: libc::c_int = 0;
    let mut size = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `size` bytes into `value`.
    let asked = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ACCEPTCONN,
            (&raw mut value).cast(),
            &mut size,
        )
    };
    asked == 0 && value != 0
}
