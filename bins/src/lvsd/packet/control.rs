//! The control socket in packet mode: the same protocol and connection handling as proxy
//! mode ([`admin`](crate::lvsd::admin), [`Shell`]), run against the
//! [`Plane`](super::Plane); `--reload` re-reads the configuration file as SIGHUP does.

use std::io;

use lvs_core::Instant;
use lvs_core::health::ProbeResult;
use mio::Interest;
use mio::net::UnixListener;

use super::{Entry, PacketDaemon};
use crate::lvsd::admin::Command;
use crate::lvsd::daemon::shell::Shell;
use crate::lvsd::daemon::{Ctl, execute_lines};
use crate::lvsd::probe::Probe;
use crate::lvsd::table::ProbeRequest;

impl Shell for PacketDaemon {
    fn next_probe(&mut self, now: Instant) -> Option<ProbeRequest> {
        self.plane.poll_probe(now)
    }

    fn report(&mut self, now: Instant, check: u32, result: ProbeResult) {
        self.plane.report(now, check, result);
    }

    fn insert_probe(&mut self, p: Box<Probe>) -> io::Result<usize> {
        self.insert(Entry::Probe(p), Interest::READABLE | Interest::WRITABLE)
    }

    fn insert_ctl(&mut self, c: Box<Ctl>) -> io::Result<usize> {
        self.insert(Entry::Ctl(c), Interest::READABLE | Interest::WRITABLE)
    }

    fn probe_mut(&mut self, slot: usize) -> Option<&mut Probe> {
        match self.slots.get_mut(slot)? {
            Some(Entry::Probe(p)) => Some(p),
            _ => None,
        }
    }

    fn listener(&self, slot: usize) -> Option<&UnixListener> {
        match self.slots.get(slot)? {
            Some(Entry::Control(l)) => Some(l),
            _ => None,
        }
    }

    fn ctl_mut(&mut self, slot: usize) -> Option<&mut Ctl> {
        match self.slots.get_mut(slot)? {
            Some(Entry::Ctl(c)) => Some(c),
            _ => None,
        }
    }

    fn free(&mut self, slot: usize) {
        self.remove(slot);
    }

    /// Run a request against the plane (`--reload` is [`PacketDaemon::reload`]), then take
    /// up new VIPs and real servers.
    fn execute(&mut self, request: &[u8], now: Instant) -> String {
        let reply = execute_lines(request, |cmd, out| match cmd {
            Command::Reload => self.reload(now),
            _ => self.plane.apply(cmd, now, out),
        });
        self.refresh(now);
        reply
    }
}
