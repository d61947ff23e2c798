//! What the proxy-mode and the packet-mode loops share: health probes run as non-blocking
//! entries of the loop's slot table, and lvsadm's connections on the control socket. Each
//! daemon says where its slots, its health checker and its command runner are
//! ([`Shell`]); the driving is written once here.

use std::io;

use lvs_core::Instant;
use lvs_core::health::ProbeResult;
use mio::net::UnixListener;
use mio::{Interest, Registry, Token};

use super::control::{Ctl, CtlStep};
use crate::io::slab::Key;
use crate::lvsd::probe::Probe;
use crate::lvsd::table::ProbeRequest;

/// What both loops keep in their slot tables besides their own sockets.
#[derive(Debug)]
pub(crate) enum ShellEntry {
    /// A running health probe.
    Probe(Box<Probe>),
    /// The control socket's listener.
    Control(UnixListener),
    /// An lvsadm connection.
    Ctl(Box<Ctl>),
}

impl ShellEntry {
    /// Register the entry's socket (or the probe's) under `token`.
    pub(crate) fn register(
        &mut self,
        reg: &Registry,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        match self {
            Self::Probe(p) => reg.register(&mut **p, token, interest),
            Self::Control(l) => reg.register(l, token, interest),
            Self::Ctl(c) => reg.register(&mut c.sock, token, interest),
        }
    }
}

/// A daemon loop whose slot table holds probes and control connections.
pub(crate) trait Shell {
    /// The next probe its health checker asks for (after applying the checker's events).
    fn next_probe(&mut self, now: Instant) -> Option<ProbeRequest>;
    /// Feed a probe's outcome to the health checker.
    fn report(&mut self, now: Instant, check: u32, result: ProbeResult);
    /// Register `e` (readable and writable) in a slot.
    fn insert_shell(&mut self, e: ShellEntry) -> io::Result<Key>;
    /// The shell entry in `slot`, if that is what it holds.
    fn shell_entry(&self, slot: Key) -> Option<&ShellEntry>;
    /// The shell entry in `slot`, mutable.
    fn shell_entry_mut(&mut self, slot: Key) -> Option<&mut ShellEntry>;
    /// Free `slot` (dropping its socket or process).
    fn free(&mut self, slot: Key);
    /// Run a control request (see [`admin`](crate::lvsd::admin)) and build the reply.
    fn execute(&mut self, request: &[u8], now: Instant) -> String;

    /// Register a started probe in a slot.
    fn insert_probe(&mut self, p: Box<Probe>) -> io::Result<Key> {
        self.insert_shell(ShellEntry::Probe(p))
    }

    /// Register an accepted control connection in a slot.
    fn insert_ctl(&mut self, c: Box<Ctl>) -> io::Result<Key> {
        self.insert_shell(ShellEntry::Ctl(c))
    }

    /// The probe in `slot`, if that is what it holds.
    fn probe_mut(&mut self, slot: Key) -> Option<&mut Probe> {
        match self.shell_entry_mut(slot)? {
            ShellEntry::Probe(p) => Some(p),
            _ => None,
        }
    }

    /// The control socket listener in `slot`, if that is what it holds.
    fn listener(&self, slot: Key) -> Option<&UnixListener> {
        match self.shell_entry(slot)? {
            ShellEntry::Control(l) => Some(l),
            _ => None,
        }
    }

    /// The control connection in `slot`, if that is what it holds.
    fn ctl_mut(&mut self, slot: Key) -> Option<&mut Ctl> {
        match self.shell_entry_mut(slot)? {
            ShellEntry::Ctl(c) => Some(c),
            _ => None,
        }
    }

    /// Start every probe the checker asks for; one that cannot start is reported at once.
    fn start_probes(&mut self, now: Instant) {
        while let Some(req) = self.next_probe(now) {
            match Probe::start(&req) {
                Ok(p) => {
                    if self.insert_probe(Box::new(p)).is_err() {
                        tracing::error!("cannot register a health probe");
                    }
                }
                Err(result) => self.report(now, req.id, result),
            }
        }
    }

    /// Advance the probe in `slot`; a finished one is reported and freed.
    fn drive_probe(&mut self, slot: Key, now: Instant) {
        let Some(p) = self.probe_mut(slot) else {
            return;
        };
        if let Some(result) = p.advance() {
            let check = p.check;
            self.free(slot);
            self.report(now, check, result);
        }
    }

    /// The periodic look at the probe in `slot`: past its deadline it is abandoned (the
    /// checker counts the timeout itself); a program's exit is not a readiness event, so it
    /// is looked for here.
    fn sweep_probe(&mut self, slot: Key, now: Instant) {
        let Some(p) = self.probe_mut(slot) else {
            return;
        };
        if now > p.deadline {
            self.free(slot);
        } else if p.is_program() {
            self.drive_probe(slot, now);
        }
    }

    /// Accept every waiting lvsadm connection on the listener in `slot`.
    fn accept_ctl(&mut self, slot: Key) {
        loop {
            let Some(l) = self.listener(slot) else {
                return;
            };
            match l.accept() {
                Ok((sock, _)) => {
                    let _ = self.insert_ctl(Box::new(Ctl::new(sock)));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    }

    /// Read the request on the control connection in `slot`, run it once complete, write
    /// the reply, and close the connection when done.
    fn drive_ctl(&mut self, slot: Key, now: Instant) {
        let Some(c) = self.ctl_mut(slot) else {
            return;
        };
        match c.read() {
            CtlStep::Pending => return,
            CtlStep::Close => {
                self.free(slot);
                return;
            }
            CtlStep::Write => {}
            CtlStep::Run(request) => {
                let reply = self.execute(&request, now);
                let Some(c) = self.ctl_mut(slot) else {
                    return;
                };
                c.reply(reply);
            }
        }
        if self.ctl_mut(slot).is_some_and(Ctl::write) {
            self.free(slot);
        }
    }
}
