//! The shared backend connections of a [`Worker`]: opening them, queueing sessions' requests,
//! batched writes, handing replies back, and failing one for every session on it (the probe
//! connections of a dropped pool generation are closed with its shared ones).

use super::super::pipe::PipeError;
use super::*;

impl Worker {
    /// Moves client `k`'s output for server `i` onto the shared connection (opening it if
    /// needed). Returns whether anything moved.
    pub(super) fn transfer(&mut self, k: Key, c: &mut ClientConn, i: usize, now: Instant) -> bool {
        let Some(Some(pool)) = self.pools.get(c.pool) else {
            return false;
        };
        if pool.health.is_ejected(i) {
            // Ejected after the session queued these: settle them as for a dead server.
            c.session.backend_down(i);
            c.recorded[i] = 0;
            return true;
        }
        let existing = pool.pipes[i].filter(|&pk| self.conns.contains(pk));
        let pk = match existing {
            Some(pk) => pk,
            None => match self.open_pipe(c.pool, i, now) {
                Ok(pk) => pk,
                Err(e) => {
                    tracing::debug!(worker = self.id, backend = i, error = %e, "connect failed");
                    let ejected = self.server_failed(c.pool, i, now);
                    c.session.backend_down(i);
                    c.recorded[i] = 0;
                    if !ejected {
                        c.session.backend_up(i);
                    }
                    return true;
                }
            },
        };
        let cap = self.opts.session.max_backend_output;
        let Some(Conn::Backend(b)) = self.conns.get_mut(pk) else {
            return false;
        };
        if b.pipe.output().len() >= cap {
            if !b.blocked.contains(&k) {
                b.blocked.push(k);
            }
            return false;
        }
        let owed = c.session.backend_owed(i);
        let fresh = owed.saturating_sub(c.recorded[i]);
        let out = c.session.backend_output(i);
        let n = out.len();
        b.pipe.queue(k, out, fresh);
        if fresh > 0 {
            b.waiting_since.get_or_insert(now);
        }
        c.recorded[i] = owed;
        c.session.advance_backend(i, n);
        if b.connected {
            self.pipe_writes.push(pk);
        }
        true
    }

    /// Opens the shared connection to server `i` of pool `p`.
    fn open_pipe(&mut self, p: usize, i: usize, now: Instant) -> io::Result<Key> {
        let Some(Some(pool)) = self.pools.get(p) else {
            return Err(io::Error::other("pool gone"));
        };
        let addr = pool.cfg.addrs[i];
        let stream = tcp_connect(addr)?;
        if pool.cfg.tcpkeepalive {
            socket2::SockRef::from(&stream).set_keepalive(true)?;
        }
        let _ = stream.set_nodelay(true);
        let backend = Conn::Backend(BackendConn {
            stream,
            pool: p,
            server: i,
            pipe: Pipe::default(),
            blocked: Vec::new(),
            connected: false,
            readable: false,
            hup: false,
            broken: false,
            connect_deadline: now + pool.cfg.connect_timeout(),
            waiting_since: None,
        });
        let key = self.insert_registered(backend)?;
        if let Some(Some(pool)) = self.pools.get_mut(p) {
            pool.pipes[i] = Some(key);
        }
        Ok(key)
    }

    /// Reads every shared connection that became readable (or broke) and hands the replies
    /// to their sessions.
    pub(super) fn pipes_ready(&mut self, now: Instant) {
        let mut ready = core::mem::take(&mut self.pipe_ready);
        ready.sort_unstable();
        ready.dedup();
        for pk in ready {
            if let Err(why) = self.read_pipe(pk, now) {
                tracing::debug!(worker = self.id, ?why, "shared backend connection failed");
                self.fail_pipe(pk, now);
            }
        }
    }

    fn read_pipe(&mut self, pk: Key, now: Instant) -> Result<(), &'static str> {
        let Some(conn) = self.conns.take(pk) else {
            return Ok(());
        };
        let Conn::Backend(mut b) = conn else {
            self.conns.put_back(pk, conn);
            return Ok(());
        };
        let mut touched = Vec::new();
        let result = self.read_into(&mut b, pk, now, &mut touched);
        self.conns.put_back(pk, Conn::Backend(b));
        for k in touched {
            self.client_touched(k);
        }
        result
    }

    fn read_into(
        &mut self,
        b: &mut BackendConn,
        pk: Key,
        now: Instant,
        touched: &mut Vec<Key>,
    ) -> Result<(), &'static str> {
        if b.broken {
            return Err("connect failed");
        }
        let i = b.server;
        let mut rounds = 0;
        while b.connected && b.readable {
            if rounds == MAX_ROUNDS {
                self.pipe_ready.push(pk);
                break;
            }
            rounds += 1;
            let n = match read_once(&mut b.stream, &mut self.buf) {
                ReadOutcome::Data(n) => n,
                ReadOutcome::WouldBlock => {
                    b.readable = false;
                    break;
                }
                ReadOutcome::Eof => return Err("closed by the server"),
                ReadOutcome::Failed => return Err("read failed"),
            };
            b.readable = n == self.buf.len() || b.hup;
            let conns = &mut self.conns;
            let fed = b.pipe.dispatch(
                &self.buf[..n],
                |who, bytes, owed| {
                    let Some(Conn::Client(c)) = conns.get_mut(who) else {
                        return None;
                    };
                    let f = c.session.feed_backend_shared(i, bytes, owed);
                    c.recorded[i] = c.recorded[i].saturating_sub(f.replies);
                    Some(f)
                },
                touched,
            );
            if let Some(Some(p)) = self.pools.get_mut(b.pool) {
                p.health.success(i);
            }
            b.waiting_since = (b.pipe.owed() > 0).then_some(now);
            if let Err(e) = fed {
                if let PipeError::Fault(f) = e {
                    tracing::warn!(worker = self.id, backend = i, fault = %f, "backend broke the protocol");
                }
                return Err(match e {
                    PipeError::Unsolicited => "unsolicited reply",
                    PipeError::Lost => "reply for a lost session",
                    PipeError::Fault(_) => "backend broke the protocol",
                    PipeError::Stalled => "reply not taken",
                });
            }
        }
        Ok(())
    }

    /// Writes every shared connection with bytes queued: one batch each.
    pub(super) fn pipes_write(&mut self, now: Instant) {
        let mut writes = core::mem::take(&mut self.pipe_writes);
        writes.sort_unstable();
        writes.dedup();
        let shrink_above = self.opts.session.shrink_above;
        let cap = self.opts.session.max_backend_output;
        for pk in writes {
            let Some(Conn::Backend(b)) = self.conns.get_mut(pk) else {
                continue;
            };
            if !b.connected || b.pipe.output().is_empty() {
                continue;
            }
            match write_some(&mut b.stream, b.pipe.output()) {
                Ok(n) => {
                    b.pipe.advance(n, shrink_above);
                    if b.pipe.output().len() < cap {
                        let blocked = core::mem::take(&mut b.blocked);
                        self.dirty.extend(blocked);
                    }
                }
                Err(e) => {
                    tracing::debug!(worker = self.id, error = %e, "write to a backend failed");
                    self.fail_pipe(pk, now);
                }
            }
        }
    }

    /// A client received replies: a zombie that owes nothing more is freed, a live one is
    /// serviced.
    fn client_touched(&mut self, k: Key) {
        match self.conns.get_mut(k) {
            Some(Conn::Client(c)) if c.zombie && c.recorded.iter().all(|&n| n == 0) => {
                self.conns.remove(k);
            }
            Some(Conn::Client(c)) if !c.zombie => self.dirty.push(k),
            _ => {}
        }
    }

    /// Closes a shared connection and returns the sessions that had replies owed on it.
    fn discard_pipe(&mut self, pk: Key) -> Option<(usize, usize, Vec<Key>)> {
        let Some(Conn::Backend(mut b)) = self.conns.remove(pk) else {
            return None;
        };
        let _ = self.poll.registry().deregister(&mut b.stream);
        if let Some(Some(pool)) = self.pools.get_mut(b.pool)
            && pool.pipes[b.server] == Some(pk)
        {
            pool.pipes[b.server] = None;
        }
        self.dirty.extend(b.blocked.iter().copied());
        Some((b.pool, b.server, b.pipe.owners()))
    }

    /// Settles server `i`'s in-flight requests in each of `owners` (their replies are lost);
    /// `up` lets them route to it again at once.
    fn settle(&mut self, owners: Vec<Key>, i: usize, up: bool) {
        for k in owners {
            if let Some(Conn::Client(c)) = self.conns.get_mut(k) {
                c.recorded[i] = 0;
                c.session.backend_down(i);
                if up {
                    c.session.backend_up(i);
                }
                self.client_touched(k);
            }
        }
    }

    /// The shared connection `pk` failed: its in-flight requests fail in every session on it
    /// (and only those); the failure counts toward ejecting the server.
    pub(super) fn fail_pipe(&mut self, pk: Key, now: Instant) {
        let Some((p, i, owners)) = self.discard_pipe(pk) else {
            return;
        };
        let ejected = self.server_failed(p, i, now);
        self.settle(owners, i, !ejected);
    }

    /// Counts a failure of server `i` of pool `p`; true if it is (now) ejected.
    pub(super) fn server_failed(&mut self, p: usize, i: usize, now: Instant) -> bool {
        self.stats.backend_failures += 1;
        let Some(Some(pool)) = self.pools.get_mut(p) else {
            return false;
        };
        if pool.health.is_ejected(i) {
            return true;
        }
        if !pool.health.failure(i, now) {
            return false;
        }
        self.server_ejected(p, i, "request failures");
        true
    }

    /// Server `i` of pool `p` was just ejected by its health (`reason`: request failures or
    /// the health check): no longer routed to in the pool's template, and every session of
    /// the pool is told at the end of the loop turn ([`apply_ejections`](Self::apply_ejections)).
    pub(super) fn server_ejected(&mut self, p: usize, i: usize, reason: &'static str) {
        let Some(Some(pool)) = self.pools.get_mut(p) else {
            return;
        };
        let _ = pool.router.set_down(i, true);
        self.stats.ejections += 1;
        let comes_back = match pool.cfg.health_check {
            Some(hc) => format!("after {} good probes in a row", hc.rise),
            None => format!("in {} ms", pool.cfg.server_retry_timeout.as_millis()),
        };
        tracing::warn!(
            worker = self.id,
            pool = %pool.cfg.name,
            server = pool.cfg.servers[i].pname(),
            reason,
            comes_back,
            "backend_down: server ejected"
        );
        self.ejections.push((p, i));
    }

    /// Closes the shared connections of a pool generation that is being dropped; the
    /// sessions still owed replies on them (zombies) are settled.
    pub(super) fn close_pool_pipes(&mut self, p: usize) {
        self.close_pool_probes(p);
        let pipes: Vec<Key> = match self.pools.get(p) {
            Some(Some(pool)) => pool.pipes.iter().flatten().copied().collect(),
            _ => return,
        };
        for pk in pipes {
            if let Some((_, i, owners)) = self.discard_pipe(pk) {
                self.settle(owners, i, false);
            }
        }
    }

    /// Marks every session of a pool down for each backend ejected since the last call, and
    /// closes the shared connection to it if one was opened meanwhile.
    pub(super) fn apply_ejections(&mut self) {
        if self.ejections.is_empty() {
            return;
        }
        let ejections = core::mem::take(&mut self.ejections);
        for &(p, i) in &ejections {
            let pk = match self.pools.get(p) {
                Some(Some(pool)) => pool.pipes[i],
                _ => None,
            };
            if let Some(pk) = pk
                && let Some((_, i, owners)) = self.discard_pipe(pk)
            {
                self.settle(owners, i, false);
            }
        }
        let keys: Vec<Key> = self.conns.keys().collect();
        for k in keys {
            let Some(Conn::Client(c)) = self.conns.get_mut(k) else {
                continue;
            };
            for &(pool, i) in &ejections {
                if c.pool == pool {
                    c.recorded[i] = 0;
                    c.session.backend_down(i);
                }
            }
            self.client_touched(k);
        }
    }
}
