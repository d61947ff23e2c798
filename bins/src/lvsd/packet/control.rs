//! The control socket in packet mode: the same protocol and connection handling as proxy
//! mode ([`admin`](crate::lvsd::admin), [`Shell`]), run against the
//! [`Plane`](super::Plane); `--reload` re-reads the configuration file as SIGHUP does.

use std::io;

use lvs_core::Instant;
use lvs_core::health::ProbeResult;
use mio::Interest;

use super::PacketDaemon;
use crate::io::slab::Key;
use crate::lvsd::admin::Command;
use crate::lvsd::daemon::execute_lines;
use crate::lvsd::daemon::shell::{Shell, ShellEntry};
use crate::lvsd::table::ProbeRequest;

impl Shell for PacketDaemon {
    fn next_probe(&mut self, now: Instant) -> Option<ProbeRequest> {
        self.plane.poll_probe(now)
    }

    fn report(&mut self, now: Instant, check: u32, result: ProbeResult) {
        self.plane.report(now, check, result);
    }

    fn insert_shell(&mut self, e: ShellEntry) -> io::Result<Key> {
        self.insert(e, Interest::READABLE | Interest::WRITABLE)
    }

    fn shell_entry(&self, slot: Key) -> Option<&ShellEntry> {
        self.slots.get(slot)
    }

    fn shell_entry_mut(&mut self, slot: Key) -> Option<&mut ShellEntry> {
        self.slots.get_mut(slot)
    }

    fn free(&mut self, slot: Key) {
        self.slots.remove(slot);
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
