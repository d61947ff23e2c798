//! The control socket: lvsadm's requests (see [`admin`](crate::lvsd::admin) for the
//! protocol), served in the daemon's loop, and the client side.

use core::time::Duration;
use std::io::{self, Read, Write};
use std::path::Path;

use lvs_core::Instant;
use lvs_core::health::ProbeResult;
use mio::Interest;
use mio::net::{UnixListener, UnixStream};

use super::shell::{Shell, ShellEntry};
use super::{Daemon, Entry};
use crate::io::slab::Key;
use crate::lvsd::admin::{self, Command, ConnRow, ListFormat, MAX_REQUEST};
use crate::lvsd::table::ProbeRequest;

/// IPVS's default timeout of an ESTABLISHED TCP entry, shown as the expiry of an open
/// connection counted from its last traffic (lvsd itself does not close idle connections).
const TCP_ESTABLISHED_TIMEOUT: Duration = Duration::from_secs(15 * 60);

pub(crate) fn bind_control(path: &Path) -> Result<UnixListener, String> {
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(format!(
                "{}: another lvsd is listening there",
                path.display()
            ));
        }
        std::fs::remove_file(path).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let l =
        UnixListener::bind(path).map_err(|e| format!("control socket {}: {e}", path.display()))?;
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(l)
}

/// One lvsadm connection on the control socket: read the request to EOF, run it, write the
/// reply, close. Shared by the proxy and the packet daemon.
#[derive(Debug)]
pub(crate) struct Ctl {
    pub(crate) sock: UnixStream,
    request: Vec<u8>,
    reply: Vec<u8>,
    sent: usize,
    replying: bool,
}

/// What [`Ctl::read`] found.
pub(crate) enum CtlStep {
    /// The request is not complete yet.
    Pending,
    /// The whole request: run it and [`Ctl::reply`] the result.
    Run(Vec<u8>),
    /// Writing the reply (already set).
    Write,
    /// The connection failed: close it.
    Close,
}

impl Ctl {
    pub(crate) fn new(sock: UnixStream) -> Self {
        Self {
            sock,
            request: Vec::new(),
            reply: Vec::new(),
            sent: 0,
            replying: false,
        }
    }

    /// Read what has arrived.
    pub(crate) fn read(&mut self) -> CtlStep {
        if self.replying {
            return CtlStep::Write;
        }
        let mut chunk = [0u8; 4096];
        loop {
            match self.sock.read(&mut chunk) {
                Ok(0) => return CtlStep::Run(core::mem::take(&mut self.request)),
                Ok(n) if self.request.len() + n > MAX_REQUEST => {
                    self.request.clear();
                    self.reply("ERR request too large\n".into());
                    return CtlStep::Write;
                }
                Ok(n) => self.request.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return CtlStep::Pending,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return CtlStep::Close,
            }
        }
    }

    /// Set the reply to write.
    pub(crate) fn reply(&mut self, reply: String) {
        self.reply = reply.into_bytes();
        self.replying = true;
    }

    /// Write the reply; `true` when the connection is finished (all written, or failed).
    pub(crate) fn write(&mut self) -> bool {
        while self.sent < self.reply.len() {
            match self.sock.write(&self.reply[self.sent..]) {
                Ok(n) if n > 0 => self.sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                _ => break,
            }
        }
        true
    }
}

impl Shell for Daemon {
    fn next_probe(&mut self, _now: Instant) -> Option<ProbeRequest> {
        self.table.poll_probe()
    }

    fn report(&mut self, now: Instant, check: u32, result: ProbeResult) {
        self.table.report(now, check, result);
    }

    fn insert_shell(&mut self, e: ShellEntry) -> io::Result<Key> {
        self.insert(Entry::Shell(e), Interest::READABLE | Interest::WRITABLE)
    }

    fn shell_entry(&self, slot: Key) -> Option<&ShellEntry> {
        match self.slots.get(slot)? {
            Entry::Shell(e) => Some(e),
            _ => None,
        }
    }

    fn shell_entry_mut(&mut self, slot: Key) -> Option<&mut ShellEntry> {
        match self.slots.get_mut(slot)? {
            Entry::Shell(e) => Some(e),
            _ => None,
        }
    }

    fn free(&mut self, slot: Key) {
        self.slots.remove(slot);
    }

    /// Run a control request (see [`admin`](crate::lvsd::admin) for the protocol) and build
    /// the reply; `--reload` is [`Daemon::reload`].
    fn execute(&mut self, request: &[u8], now: Instant) -> String {
        execute_lines(request, |cmd, out| {
            if *cmd == Command::Reload {
                return self.reload(now);
            }
            let open = if *cmd == Command::List(ListFormat::Connections) {
                self.conn_rows(now)
            } else {
                Vec::new()
            };
            let r = admin::apply(&mut self.table, cmd, now, &open, out);
            let opened = self.open_missing(now);
            self.close_stale(now);
            r.and(opened)
        })
    }
}

impl Daemon {
    /// The open proxied connections and UDP flows as `-c` entries.
    fn conn_rows(&self, now: Instant) -> Vec<ConnRow> {
        let mut rows = Vec::new();
        for (_, e) in self.slots.iter() {
            let (binding, source, state, until) = match e {
                Entry::Conn(c) if c.connected => (
                    c.binding,
                    c.peer,
                    "ESTABLISHED",
                    c.last.saturating_add(TCP_ESTABLISHED_TIMEOUT),
                ),
                Entry::Conn(c) => (c.binding, c.peer, "SYN_RECV", c.connect_deadline),
                Entry::Flow(f) => (f.binding, f.client, "UDP", f.last.saturating_add(f.timeout)),
                _ => continue,
            };
            let Some(((protocol, virtual_addr), destination)) =
                binding.and_then(|b| self.table.endpoints(&b))
            else {
                continue;
            };
            rows.push(ConnRow {
                protocol,
                expires: until.saturating_duration_since(now),
                state,
                source,
                virtual_addr,
                destination,
            });
        }
        rows
    }
}

/// Run a request's lines in order with `run` (which appends listings to its `String`),
/// stopping at the first error, and build the reply: `OK` and the output, or `ERR` with the
/// message (and the failing line's number when the request has several).
pub(crate) fn execute_lines(
    request: &[u8],
    mut run: impl FnMut(&Command, &mut String) -> Result<(), String>,
) -> String {
    let Ok(text) = core::str::from_utf8(request) else {
        return "ERR request is not UTF-8\n".into();
    };
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        let result = admin::parse_line(line).and_then(|cmd| match cmd {
            None => Ok(()),
            Some(cmd) => run(&cmd, &mut out),
        });
        if let Err(e) = result {
            let at = if text.lines().nth(1).is_some() {
                format!("line {}: ", i + 1)
            } else {
                String::new()
            };
            return format!("ERR {at}{e}\n");
        }
    }
    format!("OK\n{out}")
}

/// Send a request (one ipvsadm command per line) to lvsd's control socket and return the
/// output on `OK`, or the error message on `ERR`.
pub fn control_request(path: &Path, lines: &[String]) -> Result<String, String> {
    use std::os::unix::net::UnixStream as StdUnix;
    let mut s = StdUnix::connect(path)
        .map_err(|e| format!("cannot reach lvsd at {}: {e}", path.display()))?;
    let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
    let mut req = String::new();
    for l in lines {
        req.push_str(l);
        req.push('\n');
    }
    s.write_all(req.as_bytes())
        .and_then(|()| s.shutdown(std::net::Shutdown::Write))
        .map_err(|e| format!("sending to lvsd: {e}"))?;
    let mut reply = String::new();
    s.read_to_string(&mut reply)
        .map_err(|e| format!("reading from lvsd: {e}"))?;
    match reply.split_once('\n') {
        Some(("OK", rest)) => Ok(rest.to_owned()),
        Some((err, _)) if err.starts_with("ERR ") => Err(err[4..].to_owned()),
        _ => Err("lvsd sent a malformed reply".into()),
    }
}
