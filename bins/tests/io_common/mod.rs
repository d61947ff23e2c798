//! A small test machine shared by the io_* integration tests: echoes datagrams, ticks on a
//! timer, and sends whatever it was told to send at start.

// Each test binary uses a different subset of this module.
#![allow(dead_code)]

use core::time::Duration;
use std::collections::VecDeque;

use lvs_core::{Datagram, Instant, StateMachine, Transmit};

/// What the machine reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ev {
    /// A datagram arrived (a copy of it).
    Received(Datagram),
    /// The tick timer fired at `now`; it was due at `due`.
    Tick { n: u32, due: Instant, now: Instant },
}

/// Echo + counter + periodic timer.
#[derive(Debug, Default)]
pub(crate) struct Counter {
    /// Echo every datagram back to its sender (from the address it arrived on).
    pub(crate) echo: bool,
    /// Tick period; `None` disables the timer.
    pub(crate) period: Option<Duration>,
    next_tick: Option<Instant>,
    ticks: u32,
    received: u64,
    out: VecDeque<Transmit>,
    events: VecDeque<Ev>,
    last_now: Instant,
}

impl Counter {
    /// An echo machine without timer.
    pub(crate) fn echo() -> Self {
        Self {
            echo: true,
            ..Self::default()
        }
    }

    /// A machine that ticks every `period`, starting one period after `start`.
    pub(crate) fn ticking(start: Instant, period: Duration) -> Self {
        Self {
            period: Some(period),
            next_tick: Some(start + period),
            ..Self::default()
        }
    }

    /// Queue `t` to be sent at the next drain.
    pub(crate) fn send(&mut self, t: Transmit) {
        self.out.push_back(t);
    }

    /// Datagrams seen.
    pub(crate) fn received(&self) -> u64 {
        self.received
    }

    /// Ticks fired.
    pub(crate) fn ticks(&self) -> u32 {
        self.ticks
    }
}

impl StateMachine for Counter {
    type Event = Ev;
    type Timer = &'static str;

    fn handle_datagram(&mut self, now: Instant, d: Datagram) {
        assert!(now >= self.last_now, "time went backwards");
        self.last_now = now;
        self.received += 1;
        if self.echo {
            let mut t = Transmit::new(d.src, d.payload.clone());
            t.src = Some(d.dst);
            self.out.push_back(t);
        }
        self.events.push_back(Ev::Received(d));
    }

    fn handle_timeout(&mut self, now: Instant) {
        assert!(now >= self.last_now, "time went backwards");
        self.last_now = now;
        let (Some(due), Some(period)) = (self.next_tick, self.period) else {
            return;
        };
        if now < due {
            return;
        }
        self.ticks += 1;
        self.events.push_back(Ev::Tick {
            n: self.ticks,
            due,
            now,
        });
        self.next_tick = Some(due + period);
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop_front()
    }

    fn poll_event(&mut self) -> Option<Ev> {
        self.events.pop_front()
    }

    fn poll_timeout(&self) -> Option<(Instant, &'static str)> {
        self.next_tick.map(|at| (at, "tick"))
    }
}

/// Whether tests that need root or real peers must fail instead of skipping.
pub(crate) fn interop_required() -> bool {
    std::env::var("LVS_REQUIRE_INTEROP").is_ok_and(|v| v == "1")
}

/// Skip loudly, or panic when `LVS_REQUIRE_INTEROP=1`.
pub(crate) fn skip(test: &str, why: &str) {
    assert!(
        !interop_required(),
        "{test}: cannot run ({why}) and LVS_REQUIRE_INTEROP=1 forbids skipping"
    );
    eprintln!("\n**********\nSKIP {test}: {why}\n**********\n");
}
