//! The control socket: lvsadm's requests (see [`admin`](crate::lvsd::admin) for the
//! protocol), served in the daemon's loop, and the client side.

use core::time::Duration;
use std::io::{self, Read, Write};
use std::path::Path;

use lvs_core::Instant;
use mio::Interest;
use mio::net::UnixListener;

use super::{Ctl, Daemon, Entry};
use crate::lvsd::admin::{self, Command, ConnRow, ListFormat, MAX_REQUEST};

/// IPVS's default timeout of an ESTABLISHED TCP entry, shown as the expiry of an open
/// connection counted from its last traffic (lvsd itself does not close idle connections).
const TCP_ESTABLISHED_TIMEOUT: Duration = Duration::from_secs(15 * 60);

pub(super) fn bind_control(path: &Path) -> Result<UnixListener, String> {
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

impl Daemon {
    pub(super) fn accept_ctl(&mut self, slot: usize) {
        loop {
            let Some(Entry::Control(l)) = self.slots[slot].as_ref() else {
                return;
            };
            match l.accept() {
                Ok((sock, _)) => {
                    let ctl = Ctl {
                        sock,
                        request: Vec::new(),
                        reply: Vec::new(),
                        sent: 0,
                        replying: false,
                    };
                    let interest = Interest::READABLE | Interest::WRITABLE;
                    let _ = self.insert(Entry::Ctl(Box::new(ctl)), interest);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    }

    pub(super) fn drive_ctl(&mut self, slot: usize, now: Instant) {
        let Some(Entry::Ctl(c)) = self.slots[slot].as_mut() else {
            return;
        };
        if !c.replying {
            let mut chunk = [0u8; 4096];
            loop {
                match c.sock.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) if c.request.len() + n > MAX_REQUEST => {
                        c.request.clear();
                        c.reply = b"ERR request too large\n".to_vec();
                        c.replying = true;
                        break;
                    }
                    Ok(n) => c.request.extend_from_slice(&chunk[..n]),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => {
                        self.remove(slot);
                        return;
                    }
                }
            }
            if !c.replying {
                let request = core::mem::take(&mut c.request);
                let reply = self.execute(&request, now);
                let Some(Entry::Ctl(c)) = self.slots[slot].as_mut() else {
                    return;
                };
                c.reply = reply.into_bytes();
                c.replying = true;
            }
        }
        let Some(Entry::Ctl(c)) = self.slots[slot].as_mut() else {
            return;
        };
        while c.sent < c.reply.len() {
            match c.sock.write(&c.reply[c.sent..]) {
                Ok(n) if n > 0 => c.sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                _ => break,
            }
        }
        self.remove(slot);
    }

    /// Run a control request (see [`admin`](super::admin) for the protocol) and build the
    /// reply.
    /// The open proxied connections and UDP flows as `-c` entries.
    fn conn_rows(&self, now: Instant) -> Vec<ConnRow> {
        let mut rows = Vec::new();
        for e in self.slots.iter().flatten() {
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

    fn execute(&mut self, request: &[u8], now: Instant) -> String {
        let Ok(text) = core::str::from_utf8(request) else {
            return "ERR request is not UTF-8\n".into();
        };
        let mut out = String::new();
        for (i, line) in text.lines().enumerate() {
            let result = admin::parse_line(line).and_then(|cmd| match cmd {
                None => Ok(()),
                Some(cmd) => {
                    let open = if cmd == Command::List(ListFormat::Connections) {
                        self.conn_rows(now)
                    } else {
                        Vec::new()
                    };
                    let r = admin::apply(&mut self.table, &cmd, now, &open, &mut out);
                    let opened = self.open_missing(now);
                    self.close_stale(now);
                    r.and(opened)
                }
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
