//! The one-shot slot: the first completed result is handed over to the
//! waiter, exactly once, and the server is told to stop; later completions
//! are told apart from those that come once nobody waits (410 vs 503).

use std::sync::{Arc, Mutex};

use tokio::sync::{oneshot, watch};

use crate::result::CallbackResult;

/// Holds the first completed result until it is handed over, then signals stop.
pub(super) struct OneShot {
    state: Mutex<SlotState>,
    stop: Arc<watch::Sender<bool>>,
}

enum SlotState {
    /// No result yet; the waiter listens on the other end.
    Open(oneshot::Sender<CallbackResult>),
    /// A result was handed over.
    Complete,
    /// The waiter left before any result came.
    Stopped,
}

/// What became of a completed result offered to the [`OneShot`].
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Filled {
    /// It is the result of the flow: the waiter has it.
    Taken,
    /// Another result came first.
    AlreadyComplete,
    /// Nobody waits any more (the timeout passed, a signal arrived or the
    /// server is stopping): nothing was taken.
    Stopping,
}

impl OneShot {
    /// Hand over `result` if it is the first and someone still waits.
    pub(super) fn fill(&self, result: CallbackResult) -> Filled {
        let mut state = self.lock();
        let (next, filled) = match std::mem::replace(&mut *state, SlotState::Stopped) {
            SlotState::Open(sender) => match sender.send(result) {
                Ok(()) => (SlotState::Complete, Filled::Taken),
                Err(_) => (SlotState::Stopped, Filled::Stopping),
            },
            SlotState::Complete => (SlotState::Complete, Filled::AlreadyComplete),
            SlotState::Stopped => (SlotState::Stopped, Filled::Stopping),
        };
        *state = next;
        if filled == Filled::Taken {
            self.stop.send_replace(true);
        }
        filled
    }

    pub(super) fn new(
        result: oneshot::Sender<CallbackResult>,
        stop: Arc<watch::Sender<bool>>,
    ) -> Self {
        OneShot {
            state: Mutex::new(SlotState::Open(result)),
            stop,
        }
    }

    /// Whether the flow is complete (later callbacks get 410).
    pub(super) fn is_filled(&self) -> bool {
        matches!(*self.lock(), SlotState::Complete)
    }

    /// Whether nobody waits for a result any more (the timeout passed, a
    /// signal arrived or the server is stopping).
    pub(super) fn is_stopped(&self) -> bool {
        match &*self.lock() {
            SlotState::Open(sender) => sender.is_closed(),
            SlotState::Complete => false,
            SlotState::Stopped => true,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(code: &str) -> CallbackResult {
        CallbackResult::new(
            serde_json::from_str(&format!(r#"{{"code":"{code}"}}"#)).unwrap(),
            "GET".into(),
            "/callback".into(),
            0,
        )
    }

    /// A slot, the receiving end of its result, and its stop signal.
    fn one_shot() -> (
        OneShot,
        oneshot::Receiver<CallbackResult>,
        Arc<watch::Sender<bool>>,
    ) {
        let (tx, rx) = oneshot::channel();
        let stop = Arc::new(watch::channel(false).0);
        let slot = OneShot::new(tx, stop.clone());
        (slot, rx, stop)
    }

    #[test]
    fn the_one_shot_slot_keeps_the_first_result_and_signals_stop() {
        let (slot, mut rx, stop) = one_shot();
        assert!(!slot.is_filled());
        assert_eq!(slot.fill(result("first")), Filled::Taken);
        assert_eq!(slot.fill(result("second")), Filled::AlreadyComplete);
        assert!(slot.is_filled() && *stop.borrow());
        assert_eq!(rx.try_recv().unwrap().code(), Some("first"));
    }

    #[test]
    fn a_result_nobody_waits_for_is_not_taken() {
        let (slot, rx, stop) = one_shot();
        drop(rx);
        assert_eq!(slot.fill(result("late")), Filled::Stopping);
        assert_eq!(slot.fill(result("later")), Filled::Stopping, "never 410");
        assert!(!slot.is_filled() && !*stop.borrow());
    }
}
