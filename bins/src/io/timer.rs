//! A `timerfd` on `CLOCK_MONOTONIC` that wakes the poll at a machine's deadline with the
//! kernel's high-resolution timer precision, not epoll's whole milliseconds.

use core::time::Duration;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

/// One non-blocking, close-on-exec `timerfd`, armed at absolute `CLOCK_MONOTONIC` times.
#[derive(Debug)]
pub struct DeadlineTimer {
    fd: OwnedFd,
    /// The absolute time the timer is armed for; `None` when disarmed.
    armed: Option<Duration>,
}

fn timespec(d: Duration) -> libc::timespec {
    libc::timespec {
        tv_sec: libc::time_t::try_from(d.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_nsec: libc::c_long::from(d.subsec_nanos().cast_signed()),
    }
}

impl DeadlineTimer {
    /// Create the timer and register it, readable, under `token`.
    pub fn register(registry: &Registry, token: Token) -> io::Result<Self> {
        // SAFETY: plain syscall with constant flags; the result is checked below.
        let raw = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        registry.register(&mut SourceFd(&fd.as_raw_fd()), token, Interest::READABLE)?;
        Ok(Self { fd, armed: None })
    }

    /// Fire at the absolute `CLOCK_MONOTONIC` time `at`, or never with `None`. A no-op when
    /// the timer is already set that way, so an unchanged deadline costs no syscall.
    pub fn set(&mut self, at: Option<Duration>) -> io::Result<()> {
        if self.armed == at {
            return Ok(());
        }
        // A zero it_value disarms; an absolute time of zero would mean "disarm" too, so a
        // deadline at the clock's epoch is moved to one nanosecond (long past either way).
        let value = at.map_or(Duration::ZERO, |d| d.max(Duration::from_nanos(1)));
        let spec = libc::itimerspec {
            it_interval: timespec(Duration::ZERO),
            it_value: timespec(value),
        };
        // SAFETY: `spec` is a valid itimerspec; a null old_value is allowed.
        let rc = unsafe {
            libc::timerfd_settime(
                self.fd.as_raw_fd(),
                libc::TFD_TIMER_ABSTIME,
                &raw const spec,
                core::ptr::null_mut(),
            )
        };
        if rc < 0 {
            self.armed = None;
            return Err(io::Error::last_os_error());
        }
        self.armed = at;
        Ok(())
    }

    /// Read the expiration count so the descriptor is no longer readable; the timer is then
    /// disarmed (it is one-shot) until the next [`DeadlineTimer::set`].
    pub fn drain(&mut self) {
        let mut count = [0u8; 8];
        // SAFETY: reads at most 8 bytes into an 8-byte buffer; the fd is non-blocking.
        let n = unsafe { libc::read(self.fd.as_raw_fd(), count.as_mut_ptr().cast(), count.len()) };
        if n == 8 {
            self.armed = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant as StdInstant;

    use mio::{Events, Poll};

    use super::*;
    use crate::io::Clock;

    #[test]
    fn fires_at_an_absolute_deadline_and_drains() {
        let mut poll = Poll::new().unwrap();
        let mut timer = DeadlineTimer::register(poll.registry(), Token(7)).unwrap();
        let clock = Clock::new();
        let deadline = clock.now() + Duration::from_micros(200);
        timer.set(Some(clock.monotonic_at(deadline))).unwrap();
        let mut events = Events::with_capacity(4);
        let start = StdInstant::now();
        while !events.iter().any(|e| e.token() == Token(7)) {
            poll.poll(&mut events, Some(Duration::from_secs(5)))
                .unwrap();
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "timerfd never fired"
            );
        }
        assert!(clock.now() >= deadline);
        timer.drain();
        assert_eq!(timer.armed, None);
        // Disarmed and drained: nothing more within a short wait.
        timer.set(None).unwrap();
        poll.poll(&mut events, Some(Duration::from_millis(20)))
            .unwrap();
        assert!(events.iter().all(|e| e.token() != Token(7)));
    }

    #[test]
    fn a_past_deadline_fires_at_once() {
        let mut poll = Poll::new().unwrap();
        let mut timer = DeadlineTimer::register(poll.registry(), Token(1)).unwrap();
        timer.set(Some(Duration::ZERO)).unwrap();
        let mut events = Events::with_capacity(4);
        poll.poll(&mut events, Some(Duration::from_secs(5)))
            .unwrap();
        assert!(events.iter().any(|e| e.token() == Token(1)));
    }
}
