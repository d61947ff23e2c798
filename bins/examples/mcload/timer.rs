//! The open loop's wakeups: a `timerfd` registered with the mio poll.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use mio::unix::SourceFd;
use mio::{Interest, Poll, Token};

/// The timer's poll token.
pub(crate) const TIMER: Token = Token(usize::MAX);

/// A `timerfd` on `CLOCK_MONOTONIC`, armed at absolute times.
pub(crate) struct Timer {
    fd: OwnedFd,
    armed: Option<Duration>,
}

impl Timer {
    pub(crate) fn new(poll: &Poll) -> io::Result<Self> {
        // SAFETY: plain syscall with constant flags; the result is checked.
        let raw = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh descriptor nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        poll.registry()
            .register(&mut SourceFd(&fd.as_raw_fd()), TIMER, Interest::READABLE)?;
        Ok(Self { fd, armed: None })
    }

    pub(crate) fn arm(&mut self, at: Duration) -> io::Result<()> {
        if self.armed == Some(at) {
            return Ok(());
        }
        let at = at.max(Duration::from_nanos(1));
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: libc::time_t::try_from(at.as_secs()).unwrap_or(libc::time_t::MAX),
                tv_nsec: libc::c_long::from(at.subsec_nanos().cast_signed()),
            },
        };
        // SAFETY: a valid descriptor and itimerspec; the old value is not asked for.
        let rc = unsafe {
            libc::timerfd_settime(
                self.fd.as_raw_fd(),
                libc::TFD_TIMER_ABSTIME,
                &raw const spec,
                std::ptr::null_mut(),
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        self.armed = Some(at);
        Ok(())
    }

    /// After it fired: read the expiration count so the next expiry is a new edge.
    pub(crate) fn fired(&mut self) {
        let mut n = [0u8; 8];
        // SAFETY: reads at most 8 bytes into `n`; EAGAIN (spurious wakeup) is fine.
        let _ = unsafe { libc::read(self.fd.as_raw_fd(), n.as_mut_ptr().cast(), n.len()) };
        self.armed = None;
    }
}
