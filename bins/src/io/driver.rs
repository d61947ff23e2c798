//! The event loop that drives one [`StateMachine`] over the sockets of a [`Sockets`] registry.

use core::time::Duration;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::BytesMut;
use lvs_core::{Instant, MonotonicGuard, StateMachine};
use mio::{Events, Poll, Token, Waker};

use super::clock::Clock;
use super::queue::QueueLimits;
use super::registry::{MAX_DATAGRAM, Read, Sockets};
use super::signal::{SignalAction, SignalSource};
use super::timer::DeadlineTimer;

const SIGNAL_TOKEN: Token = Token(usize::MAX);
const WAKER_TOKEN: Token = Token(usize::MAX - 1);
const TIMER_TOKEN: Token = Token(usize::MAX - 2);

/// Tuning of an [`EventLoop`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoopConfig {
    /// Bounds of every datagram socket's send queue.
    pub queue_limits: QueueLimits,
    /// Most datagrams read from one socket per iteration before the other sockets and the
    /// timers get their turn (the rest is read in the next iteration, without sleeping).
    pub read_budget: usize,
    /// Capacity of the mio event list.
    pub events_capacity: usize,
}

impl Default for LoopConfig {
    fn default() -> Self {
        Self {
            queue_limits: QueueLimits::default(),
            read_budget: 256,
            events_capacity: 256,
        }
    }
}

/// Why [`EventLoop::run`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// SIGINT or SIGTERM (the number) arrived.
    Signal(i32),
    /// The handler called [`Control::stop`] or a [`StopHandle`] was used.
    Requested,
}

/// Counters of the loop itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoopStats {
    /// Returns from `poll`.
    pub wakeups: u64,
    /// Datagrams fed to the machine.
    pub datagrams: u64,
    /// Transmits drained from the machine.
    pub transmits: u64,
    /// Events drained from the machine.
    pub events: u64,
    /// Calls of `handle_timeout`.
    pub timeouts: u64,
    /// Reload hooks called.
    pub reloads: u64,
    /// Wakeups by the deadline timer (the `timerfd`).
    pub timer_fired: u64,
}

/// Readiness of a socket the loop does not read itself (TCP, packet sockets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Readiness {
    /// Data or a connection waits.
    pub readable: bool,
    /// Room to write.
    pub writable: bool,
    /// The peer closed or an error is pending.
    pub closed: bool,
}

/// What a handler may do besides touching the machine: read the time, use the sockets, stop.
#[derive(Debug)]
pub struct Control<'a> {
    now: Instant,
    sockets: &'a mut Sockets,
    stop: &'a mut bool,
}

impl Control<'_> {
    /// The time of this iteration, as the machine saw it.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The loop's sockets (to send a frame on a packet socket, accept a TCP connection ...).
    pub fn sockets(&mut self) -> &mut Sockets {
        self.sockets
    }

    /// Ask the loop to stop: it calls [`Handler::stop`] and returns [`Exit::Requested`] at the
    /// end of this iteration.
    pub fn stop(&mut self) {
        *self.stop = true;
    }
}

/// The binary's side of the loop: carries out what the machine asks for and answers signals.
///
/// A closure `FnMut(&mut Control<'_>, &mut M, M::Event)` is a handler with no-op hooks.
/// After every hook the loop drains the machine again, so a hook may call the machine's
/// commands.
pub trait Handler<M: StateMachine> {
    /// One event from the machine.
    fn event(&mut self, ctl: &mut Control<'_>, machine: &mut M, event: M::Event);

    /// A TCP or packet socket is ready.
    fn ready(&mut self, ctl: &mut Control<'_>, machine: &mut M, token: Token, r: Readiness) {
        let _ = (ctl, machine, token, r);
    }

    /// SIGHUP arrived.
    fn reload(&mut self, ctl: &mut Control<'_>, machine: &mut M) {
        let _ = (ctl, machine);
    }

    /// The loop is about to return (a stop signal or a stop request). Transmits the machine
    /// queues here are still sent (best effort) before `run` returns.
    fn stop(&mut self, ctl: &mut Control<'_>, machine: &mut M) {
        let _ = (ctl, machine);
    }
}

impl<M: StateMachine, F: FnMut(&mut Control<'_>, &mut M, M::Event)> Handler<M> for F {
    fn event(&mut self, ctl: &mut Control<'_>, machine: &mut M, event: M::Event) {
        self(ctl, machine, event);
    }
}

/// Stops a running loop from another thread.
#[derive(Debug, Clone)]
pub struct StopHandle {
    waker: Arc<Waker>,
    flag: Arc<AtomicBool>,
}

impl StopHandle {
    /// Make the loop call its stop hook and return [`Exit::Requested`].
    pub fn stop(&self) -> io::Result<()> {
        self.flag.store(true, Ordering::SeqCst);
        self.waker.wake()
    }
}

/// A single-threaded mio loop: a clock, a socket registry, a deadline timer, optionally the
/// signal pipe, and one receive arena. See the [module docs](super) for the iteration.
///
/// The machine's deadline is armed on a `timerfd` (`CLOCK_MONOTONIC`, absolute time, the
/// clock [`Clock`] reads), so the loop wakes at the deadline with the kernel's high-resolution
/// timer precision instead of epoll's whole milliseconds; the poll timeout, rounded up to the
/// millisecond, stays as the fallback (and is all there is if the `timerfd` could not be
/// created).
#[derive(Debug)]
pub struct EventLoop {
    poll: Poll,
    events: Events,
    clock: Clock,
    sockets: Sockets,
    signals: Option<SignalSource>,
    timer: Option<DeadlineTimer>,
    waker: Arc<Waker>,
    stop_flag: Arc<AtomicBool>,
    arena: BytesMut,
    config: LoopConfig,
    stats: LoopStats,
}

impl EventLoop {
    /// A loop with default tuning and no sockets.
    pub fn new() -> io::Result<Self> {
        Self::with_config(LoopConfig::default())
    }

    /// A loop with the given tuning.
    pub fn with_config(config: LoopConfig) -> io::Result<Self> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER_TOKEN)?);
        let sockets = Sockets::new(poll.registry().try_clone()?, config.queue_limits);
        let timer = match DeadlineTimer::register(poll.registry(), TIMER_TOKEN) {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::warn!(error = %e, "no timerfd: timers wake to the millisecond");
                None
            }
        };
        Ok(Self {
            events: Events::with_capacity(config.events_capacity.max(1)),
            poll,
            clock: Clock::new(),
            sockets,
            signals: None,
            timer,
            waker,
            stop_flag: Arc::new(AtomicBool::new(false)),
            arena: BytesMut::with_capacity(MAX_DATAGRAM * 4),
            config,
            stats: LoopStats::default(),
        })
    }

    /// Install process-wide handlers for SIGINT, SIGTERM (stop) and SIGHUP (reload), delivered
    /// through this loop's poll.
    pub fn handle_signals(&mut self) -> io::Result<()> {
        if self.signals.is_none() {
            self.signals = Some(SignalSource::register(self.poll.registry(), SIGNAL_TOKEN)?);
        }
        Ok(())
    }

    /// The loop's clock; machines created before `run` should take their start time from it.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The socket registry.
    pub fn sockets(&mut self) -> &mut Sockets {
        &mut self.sockets
    }

    /// The socket registry, read-only (for statistics).
    pub fn sockets_ref(&self) -> &Sockets {
        &self.sockets
    }

    /// The loop's own counters.
    pub fn stats(&self) -> LoopStats {
        self.stats
    }

    /// A handle that stops [`EventLoop::run`] from another thread.
    pub fn stop_handle(&self) -> StopHandle {
        StopHandle {
            waker: Arc::clone(&self.waker),
            flag: Arc::clone(&self.stop_flag),
        }
    }

    /// Drive `machine` until a stop signal or a stop request; `handler` gets its events.
    ///
    /// Errors are only those of `poll` itself; socket errors are counted per socket.
    pub fn run<M, H>(&mut self, machine: &mut M, handler: &mut H) -> io::Result<Exit>
    where
        M: StateMachine,
        H: Handler<M>,
    {
        let mut guard = MonotonicGuard::default();
        let mut now = guard.observe(self.clock.now());
        let mut stop = false;
        let mut exit = None;
        let mut ready = Vec::new();
        let mut actions = Vec::new();
        let mut readable = Vec::new();
        self.drain(now, machine, handler, &mut stop);
        loop {
            if exit.is_none() && (stop || self.stop_flag.swap(false, Ordering::SeqCst)) {
                exit = Some(Exit::Requested);
            }
            if let Some(exit) = exit {
                self.finish(now, machine, handler);
                return Ok(exit);
            }

            self.sockets.pending_reads(&mut readable);
            let deadline = machine.poll_timeout().map(|(at, _)| at);
            self.arm_timer(deadline);
            let timeout = if readable.is_empty() {
                deadline.map(|at| self.clock.timeout_until(at))
            } else {
                Some(Duration::ZERO)
            };
            if let Err(e) = self.poll.poll(&mut self.events, timeout) {
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
                self.events.clear();
            }
            self.stats.wakeups += 1;
            now = guard.observe(self.clock.now());

            ready.clear();
            for ev in &self.events {
                let token = ev.token();
                if token == SIGNAL_TOKEN {
                    if let Some(s) = self.signals.as_mut() {
                        s.drain(&mut actions);
                    }
                } else if token == WAKER_TOKEN {
                    // Only wakes the poll; the stop flag is read at the top of the loop.
                } else if token == TIMER_TOKEN {
                    // Only wakes the poll; the deadline is checked against `now` below.
                    self.stats.timer_fired += 1;
                    if let Some(t) = self.timer.as_mut() {
                        t.drain();
                    }
                } else if self.sockets.is_datagram(token) {
                    if ev.is_readable() || ev.is_error() {
                        self.sockets.set_pending_read(token, true);
                    }
                    if ev.is_writable() {
                        self.sockets.flush(token);
                    }
                } else {
                    ready.push((
                        token,
                        Readiness {
                            readable: ev.is_readable(),
                            writable: ev.is_writable(),
                            closed: ev.is_read_closed() || ev.is_write_closed() || ev.is_error(),
                        },
                    ));
                }
            }

            for action in actions.drain(..) {
                match action {
                    SignalAction::Stop(sig) => {
                        tracing::info!(signal = sig, "stop signal");
                        exit = Some(Exit::Signal(sig));
                    }
                    SignalAction::Reload => {
                        tracing::info!("reload signal");
                        self.stats.reloads += 1;
                        handler.reload(&mut self.control(now, &mut stop), machine);
                        self.drain(now, machine, handler, &mut stop);
                    }
                }
            }
            if exit.is_some() {
                continue;
            }

            for &(token, r) in &ready {
                handler.ready(&mut self.control(now, &mut stop), machine, token, r);
                self.drain(now, machine, handler, &mut stop);
            }

            self.sockets.pending_reads(&mut readable);
            for &token in &readable {
                self.read_socket(token, now, machine, handler, &mut stop);
            }

            if let Some((at, why)) = machine.poll_timeout()
                && at <= now
            {
                tracing::trace!(%at, ?why, %now, "timer due");
                self.stats.timeouts += 1;
                machine.handle_timeout(now);
                self.drain(now, machine, handler, &mut stop);
            }
        }
    }

    /// Arm the deadline timer for `deadline` (or disarm it); on failure the loop falls back to
    /// the millisecond poll timeout for good.
    fn arm_timer(&mut self, deadline: Option<Instant>) {
        let Some(timer) = self.timer.as_mut() else {
            return;
        };
        let at = deadline.map(|at| self.clock.monotonic_at(at));
        if let Err(e) = timer.set(at) {
            tracing::warn!(error = %e, "timerfd_settime failed: timers wake to the millisecond");
            self.timer = None;
        }
    }

    fn control<'a>(&'a mut self, now: Instant, stop: &'a mut bool) -> Control<'a> {
        Control {
            now,
            sockets: &mut self.sockets,
            stop,
        }
    }

    /// Read up to the budget from one socket, feeding and draining after every datagram.
    fn read_socket<M, H>(
        &mut self,
        token: Token,
        now: Instant,
        machine: &mut M,
        handler: &mut H,
        stop: &mut bool,
    ) where
        M: StateMachine,
        H: Handler<M>,
    {
        for _ in 0..self.config.read_budget.max(1) {
            match self.sockets.read(token, &mut self.arena) {
                Read::Datagram(d) => {
                    self.stats.datagrams += 1;
                    machine.handle_datagram(now, d);
                    self.drain(now, machine, handler, stop);
                }
                Read::Dropped => {}
                Read::Empty => {
                    self.sockets.set_pending_read(token, false);
                    return;
                }
            }
        }
    }

    /// The drain rule: transmits and events until both are exhausted.
    fn drain<M, H>(&mut self, now: Instant, machine: &mut M, handler: &mut H, stop: &mut bool)
    where
        M: StateMachine,
        H: Handler<M>,
    {
        loop {
            while let Some(t) = machine.poll_transmit() {
                self.stats.transmits += 1;
                self.sockets.send(t);
            }
            let Some(event) = machine.poll_event() else {
                break;
            };
            self.stats.events += 1;
            handler.event(&mut self.control(now, stop), machine, event);
        }
    }

    /// Stop hook, last drain, one last attempt to flush every send queue.
    fn finish<M, H>(&mut self, now: Instant, machine: &mut M, handler: &mut H)
    where
        M: StateMachine,
        H: Handler<M>,
    {
        let mut ignored = false;
        handler.stop(&mut self.control(now, &mut ignored), machine);
        self.drain(now, machine, handler, &mut ignored);
        self.sockets.flush_all();
    }
}
