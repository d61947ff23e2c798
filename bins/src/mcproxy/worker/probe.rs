//! Active health checks of a [`Worker`]: every `health_check_interval` each server of a pool
//! with health checks gets `version\r\n` on a probe connection of its own (never the shared
//! request connection), and the answer must be one `VERSION ...` line within
//! `health_check_timeout`. One probe is in flight per server; the connection stays open
//! between successful probes and is reopened after a failed one. The verdicts go to the
//! pool's [`Health`], whose rise/fall counts decide ejections and returns.

use super::super::health::ProbeChange;
use super::*;

/// The probe request.
const REQUEST: &[u8] = b"version\r\n";
/// What a successful answer starts with.
const ANSWER: &[u8] = b"VERSION ";
/// The longest answer line taken; a longer one fails the probe.
const MAX_LINE: usize = 512;

/// The health-check connection to one server of one pool.
pub(super) struct ProbeConn {
    pub(super) stream: TcpStream,
    pool: usize,
    server: usize,
    connected: bool,
    /// When the probe in flight fails unanswered; `None` while idle.
    deadline: Option<Instant>,
    /// Bytes of [`REQUEST`] still to write.
    unsent: usize,
    /// The answer so far.
    line: Vec<u8>,
}

/// Where a probe connection stands after some I/O.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Nothing decided yet.
    Pending,
    /// The probe succeeded; the connection stays.
    Passed,
    /// The probe failed; the connection is closed.
    Failed(&'static str),
    /// The idle connection was closed or spoke unasked: closed, no verdict.
    Dropped,
}

impl ProbeConn {
    /// Finishes a non-blocking connect; `Err` when it failed.
    fn check_connected(&mut self) -> Result<(), &'static str> {
        if self.connected {
            return Ok(());
        }
        self.connected = connect_done(&self.stream).ok_or("connect failed")?;
        Ok(())
    }

    /// Writes what is left of the request, if connected.
    fn write_request(&mut self) -> Result<(), &'static str> {
        if !self.connected || self.unsent == 0 {
            return Ok(());
        }
        let from = REQUEST.len() - self.unsent;
        match write_some(&mut self.stream, &REQUEST[from..]) {
            Ok(n) => {
                self.unsent -= n;
                Ok(())
            }
            Err(_) => Err("write failed"),
        }
    }

    /// Moves the probe on after a readiness event.
    fn progress(&mut self) -> Step {
        if let Err(why) = self.check_connected() {
            return if self.deadline.is_some() {
                Step::Failed(why)
            } else {
                Step::Dropped
            };
        }
        if !self.connected {
            return Step::Pending;
        }
        if self.deadline.is_none() {
            // Idle: a memcached says nothing unasked, so anything readable is an EOF, an
            // error or stray bytes; the next probe opens a fresh connection.
            let mut one = [0u8; 1];
            return match read_once(&mut self.stream, &mut one) {
                ReadOutcome::WouldBlock => Step::Pending,
                _ => Step::Dropped,
            };
        }
        if let Err(why) = self.write_request() {
            return Step::Failed(why);
        }
        let mut chunk = [0u8; MAX_LINE];
        loop {
            match read_once(&mut self.stream, &mut chunk) {
                ReadOutcome::Data(n) => self.line.extend_from_slice(&chunk[..n]),
                ReadOutcome::WouldBlock => return Step::Pending,
                ReadOutcome::Eof => return Step::Failed("closed by the server"),
                ReadOutcome::Failed => return Step::Failed("read failed"),
            }
            if let Some(end) = self.line.iter().position(|&b| b == b'\n') {
                return if end + 1 != self.line.len() {
                    Step::Failed("more than one line")
                } else if self.unsent != 0 {
                    Step::Failed("answer before the request")
                } else if self.line.starts_with(ANSWER) {
                    Step::Passed
                } else {
                    Step::Failed("not a VERSION line")
                };
            }
            if self.line.len() > MAX_LINE {
                return Step::Failed("line too long");
            }
        }
    }
}

impl Worker {
    /// The next moment a round of probes is due, over every pool with health checks.
    pub(super) fn next_probe(&self) -> Option<Instant> {
        self.pools
            .iter()
            .flatten()
            .filter(|p| p.cfg.health_check.is_some())
            .map(|p| p.next_probe)
            .min()
    }

    /// Starts a round of probes in every pool whose interval has come (not while draining).
    pub(super) fn probe_round(&mut self, now: Instant) {
        if self.stopping.is_some() {
            return;
        }
        for p in 0..self.pools.len() {
            let Some(Some(pool)) = self.pools.get_mut(p) else {
                continue;
            };
            let Some(hc) = pool.cfg.health_check else {
                continue;
            };
            if pool.next_probe > now {
                continue;
            }
            pool.next_probe = now + hc.interval;
            for i in 0..pool.cfg.servers.len() {
                self.start_probe(p, i, now);
            }
        }
    }

    /// Sends a probe to server `i` of pool `p`, unless one is in flight.
    fn start_probe(&mut self, p: usize, i: usize, now: Instant) {
        let Some(Some(pool)) = self.pools.get(p) else {
            return;
        };
        let Some(hc) = pool.cfg.health_check else {
            return;
        };
        let existing = pool.probes[i].filter(|&k| self.conns.contains(k));
        let k = match existing {
            Some(k) => k,
            None => match self.open_probe(p, i) {
                Ok(k) => k,
                Err(e) => {
                    tracing::debug!(worker = self.id, backend = i, error = %e, "probe connect failed");
                    self.probe_verdict(p, i, false, now);
                    return;
                }
            },
        };
        let Some(Conn::Probe(c)) = self.conns.get_mut(k) else {
            return;
        };
        if c.deadline.is_some() {
            return;
        }
        c.deadline = Some(now + hc.timeout);
        c.unsent = REQUEST.len();
        c.line.clear();
        if let Err(why) = c.write_request() {
            self.finish_probe(k, Step::Failed(why), now);
        }
    }

    /// Opens the probe connection to server `i` of pool `p`.
    fn open_probe(&mut self, p: usize, i: usize) -> io::Result<Key> {
        let Some(Some(pool)) = self.pools.get(p) else {
            return Err(io::Error::other("pool gone"));
        };
        let stream = tcp_connect(pool.cfg.addrs[i])?;
        let probe = Conn::Probe(ProbeConn {
            stream,
            pool: p,
            server: i,
            connected: false,
            deadline: None,
            unsent: 0,
            line: Vec::new(),
        });
        let key = self.insert_registered(probe)?;
        if let Some(Some(pool)) = self.pools.get_mut(p) {
            pool.probes[i] = Some(key);
        }
        Ok(key)
    }

    /// A readiness event on probe connection `k`.
    pub(super) fn probe_ready(&mut self, k: Key) {
        let Some(Conn::Probe(c)) = self.conns.get_mut(k) else {
            return;
        };
        let step = c.progress();
        if step != Step::Pending {
            let now = self.clock.now();
            self.finish_probe(k, step, now);
        }
    }

    /// Probes unanswered past their deadline fail (only the pools' probe connections are
    /// looked at, not every connection of the worker).
    pub(super) fn sweep_probes(&mut self, now: Instant) {
        let mut late = Vec::new();
        for pool in self.pools.iter().flatten() {
            for &k in pool.probes.iter().flatten() {
                if let Some(Conn::Probe(c)) = self.conns.get(k)
                    && c.deadline.is_some_and(|d| d <= now)
                {
                    late.push(k);
                }
            }
        }
        for k in late {
            self.finish_probe(k, Step::Failed("timed out"), now);
        }
    }

    /// Ends the probe on `k`: a failed or dropped connection is closed, a passed one kept
    /// idle; a verdict goes to the pool's health.
    fn finish_probe(&mut self, k: Key, step: Step, now: Instant) {
        let Some(Conn::Probe(c)) = self.conns.get_mut(k) else {
            return;
        };
        let (p, i) = (c.pool, c.server);
        let ok = match step {
            Step::Pending => return,
            Step::Passed => {
                c.deadline = None;
                c.line.clear();
                true
            }
            Step::Failed(why) => {
                tracing::debug!(worker = self.id, backend = i, why, "probe failed");
                self.close_probe(k);
                false
            }
            Step::Dropped => {
                self.close_probe(k);
                return;
            }
        };
        self.probe_verdict(p, i, ok, now);
    }

    fn close_probe(&mut self, k: Key) {
        let Some(Conn::Probe(mut c)) = self.conns.remove(k) else {
            return;
        };
        let _ = self.poll.registry().deregister(&mut c.stream);
        if let Some(Some(pool)) = self.pools.get_mut(c.pool)
            && pool.probes[c.server] == Some(k)
        {
            pool.probes[c.server] = None;
        }
    }

    /// Closes the probe connections of a pool generation that is being dropped.
    pub(super) fn close_pool_probes(&mut self, p: usize) {
        let probes: Vec<Key> = match self.pools.get(p) {
            Some(Some(pool)) => pool.probes.iter().flatten().copied().collect(),
            _ => return,
        };
        for k in probes {
            self.close_probe(k);
        }
    }

    /// Counts a probe result of server `i` of pool `p`: ejects it after `fall` failures in a
    /// row (as request failures do), puts it back after `rise` successes in a row.
    fn probe_verdict(&mut self, p: usize, i: usize, ok: bool, now: Instant) {
        let Some(Some(pool)) = self.pools.get_mut(p) else {
            return;
        };
        match pool.health.probe(i, ok, now) {
            ProbeChange::None => {}
            ProbeChange::Ejected => self.server_ejected(p, i, "health check"),
            ProbeChange::Restored => self.servers_back(p, &[i], "health check"),
        }
    }
}
