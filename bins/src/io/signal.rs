//! SIGINT / SIGTERM / SIGHUP delivered through the loop's own poll (a self-pipe registered with
//! mio by signal-hook-mio), so a signal is handled between two iterations, never inside one.

use std::io;

use mio::{Interest, Registry, Token};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;

/// What the loop does with a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalAction {
    /// SIGINT or SIGTERM: call the stop hook and return.
    Stop(i32),
    /// SIGHUP: call the reload hook and go on.
    Reload,
}

impl SignalAction {
    /// The action for a signal number, if the loop handles it.
    ///
    /// ```
    /// use lvs_bins::io::SignalAction;
    /// assert_eq!(SignalAction::of(libc::SIGHUP), Some(SignalAction::Reload));
    /// assert_eq!(SignalAction::of(libc::SIGTERM), Some(SignalAction::Stop(libc::SIGTERM)));
    /// assert_eq!(SignalAction::of(libc::SIGUSR1), None);
    /// ```
    pub fn of(signal: i32) -> Option<Self> {
        match signal {
            SIGINT | SIGTERM => Some(Self::Stop(signal)),
            SIGHUP => Some(Self::Reload),
            _ => None,
        }
    }
}

/// The signals the loop listens to.
pub const HANDLED: [i32; 3] = [SIGINT, SIGTERM, SIGHUP];

/// The signal self-pipe of one loop.
pub(crate) struct SignalSource {
    signals: Signals,
}

impl core::fmt::Debug for SignalSource {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SignalSource").finish_non_exhaustive()
    }
}

impl SignalSource {
    /// Install the handlers (process-wide) and register the pipe under `token`.
    pub(crate) fn register(registry: &Registry, token: Token) -> io::Result<Self> {
        let mut signals = Signals::new(HANDLED)?;
        registry.register(&mut signals, token, Interest::READABLE)?;
        Ok(Self { signals })
    }

    /// Append the actions for every signal received since the last call.
    pub(crate) fn drain(&mut self, out: &mut Vec<SignalAction>) {
        out.extend(self.signals.pending().filter_map(SignalAction::of));
    }
}
