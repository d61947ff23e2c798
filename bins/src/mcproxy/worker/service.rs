//! The per-client work of a [`Worker`]: moving bytes between a session, its client socket and
//! the shared backend connections; timeouts, draining and reload.

use super::*;

impl Worker {
    /// Moves bytes for client `k` until nothing more can be done (or its turn is over).
    pub(super) fn service(&mut self, k: Key, now: Instant) {
        let Some(conn) = self.conns.take(k) else {
            return;
        };
        let Conn::Client(mut c) = conn else {
            self.conns.put_back(k, conn);
            return;
        };
        if c.zombie {
            self.conns.put_back(k, Conn::Client(c));
            return;
        }
        let mut close = false;
        let mut exhausted = true;
        for _ in 0..MAX_ROUNDS {
            let mut progress = false;
            // 1. Client output.
            if !c.session.client_output().is_empty() {
                match write_some(&mut c.stream, c.session.client_output()) {
                    Ok(0) => {}
                    Ok(n) => {
                        c.session.advance_client(n);
                        progress = true;
                    }
                    Err(_) => {
                        close = true;
                        break;
                    }
                }
            }
            // 2. Requests onto the shared backend connections (written after every client
            // has had its turn, one batch per connection).
            for i in 0..c.recorded.len() {
                if !c.session.backend_output(i).is_empty() {
                    progress |= self.transfer(k, &mut c, i, now);
                }
            }
            // 3. Client requests, while the session wants them (backpressure otherwise).
            if c.readable && c.session.wants_client_read() {
                match read_once(&mut c.stream, &mut self.buf) {
                    ReadOutcome::Data(n) => {
                        c.readable = n == self.buf.len() || c.hup;
                        c.session.feed_client(&self.buf[..n]);
                        progress = true;
                    }
                    ReadOutcome::WouldBlock => c.readable = false,
                    ReadOutcome::Eof => {
                        c.session.client_eof();
                        c.readable = false;
                        progress = true;
                    }
                    ReadOutcome::Failed => {
                        close = true;
                        break;
                    }
                }
            }
            // 4. Faults are handled where replies are read (they fail the shared connection).
            while c.session.poll_event().is_some() {}
            if c.session.should_close_client() {
                close = true;
                break;
            }
            if !progress {
                exhausted = false;
                break;
            }
        }
        self.conns.put_back(k, Conn::Client(c));
        if close {
            self.close_client(k);
        } else if exhausted {
            self.dirty.push(k);
        }
    }

    /// Puts back the servers whose retry time has come (`backend_up`).
    pub(super) fn retry_ejected(&mut self, now: Instant) {
        let mut back = Vec::new();
        for p in 0..self.pools.len() {
            let Some(Some(pool)) = self.pools.get_mut(p) else {
                continue;
            };
            if pool.health.poll_timeout().is_none_or(|t| t > now) {
                continue;
            }
            back.clear();
            pool.health.handle_timeout(now, &mut back);
            self.servers_back(p, &back, "retry timeout");
        }
    }

    /// Servers `back` of pool `p` are no longer ejected (`reason`: the retry time came, or
    /// the health check passed them): routed to again, in the pool's template and in every
    /// session of that pool (`backend_up`).
    pub(super) fn servers_back(&mut self, p: usize, back: &[usize], reason: &'static str) {
        if back.is_empty() {
            return;
        }
        let Some(Some(pool)) = self.pools.get_mut(p) else {
            return;
        };
        for &i in back {
            let _ = pool.router.set_down(i, false);
            tracing::warn!(
                worker = self.id,
                pool = %pool.cfg.name,
                server = pool.cfg.servers[i].pname(),
                reason,
                "backend_up: server back"
            );
        }
        self.ejections
            .retain(|&(ep, ei)| ep != p || !back.contains(&ei));
        let keys: Vec<Key> = self.conns.keys().collect();
        for k in keys {
            if let Some(Conn::Client(c)) = self.conns.get_mut(k)
                && c.pool == p
            {
                for &i in back {
                    c.session.backend_up(i);
                }
            }
        }
    }

    /// Connect and reply timeouts of the shared connections.
    pub(super) fn sweep(&mut self, now: Instant) {
        let keys: Vec<Key> = self.conns.keys().collect();
        for k in keys {
            let Some(Conn::Backend(b)) = self.conns.get_mut(k) else {
                continue;
            };
            let Some(Some(pool)) = self.pools.get(b.pool) else {
                continue;
            };
            let expired = if b.connected {
                pool.cfg
                    .timeout
                    .zip(b.waiting_since)
                    .is_some_and(|(t, since)| since + t <= now)
            } else {
                b.connect_deadline <= now
            };
            if expired {
                tracing::debug!(
                    worker = self.id,
                    connected = b.connected,
                    "backend timed out"
                );
                self.fail_pipe(k, now);
            }
        }
    }

    /// Closes client `k`. Replies it still owes on shared connections are absorbed by its
    /// session (a zombie) so the connections stay in step; the slot is freed once they came.
    pub(super) fn close_client(&mut self, k: Key) {
        let Some(Conn::Client(c)) = self.conns.get_mut(k) else {
            return;
        };
        if c.zombie {
            return;
        }
        let _ = self.poll.registry().deregister(&mut c.stream);
        let _ = c.stream.shutdown(std::net::Shutdown::Both);
        c.zombie = true;
        c.readable = false;
        let counters: &Counters = c.session.counters();
        self.stats.requests += counters.requests;
        self.stats.unavailable += counters.unavailable;
        let pool_idx = c.pool;
        if c.recorded.iter().all(|&n| n == 0) {
            self.conns.remove(k);
        }
        let drop_pool = match self.pools.get_mut(pool_idx) {
            Some(Some(pool)) => {
                pool.clients -= 1;
                pool.clients == 0 && !pool.live
            }
            _ => false,
        };
        if drop_pool {
            self.close_pool_pipes(pool_idx);
            self.pools[pool_idx] = None;
        }
    }

    /// SIGINT / SIGTERM: stop accepting, finish in-flight requests, then stop.
    pub(super) fn stop(&mut self, sig: i32, now: Instant) {
        if self.stopping.is_some() {
            return;
        }
        tracing::info!(worker = self.id, signal = sig, "stopping: draining clients");
        self.stopping = Some(now + self.opts.drain_timeout);
        let keys: Vec<Key> = self.conns.keys().collect();
        for k in keys {
            if let Some(Conn::Listener(_)) = self.conns.get_mut(k)
                && let Some(Conn::Listener(mut l)) = self.conns.remove(k)
            {
                let _ = self.poll.registry().deregister(&mut l.sock);
            }
        }
    }

    /// While draining: clients with nothing in flight and nothing unread are closed.
    pub(super) fn close_idle_clients(&mut self) {
        let keys: Vec<Key> = self.conns.keys().collect();
        for k in keys {
            if let Some(Conn::Client(c)) = self.conns.get_mut(k)
                && !c.zombie
                && c.session.pending_requests() == 0
                && c.session.client_output().is_empty()
                && !c.readable
            {
                self.close_client(k);
            }
        }
    }

    /// SIGHUP: re-read the configuration. New connections use the new pools; existing ones
    /// keep theirs. Listeners are matched by address: kept, added or closed.
    pub(super) fn reload(&mut self) {
        let Some(path) = self.opts.config_path.clone() else {
            return;
        };
        if self.stopping.is_some() {
            return;
        }
        let config = match Config::load(&path) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(worker = self.id, error = %e, "reload refused, keeping the old configuration");
                return;
            }
        };
        let mut fresh = Vec::with_capacity(config.pools.len());
        for cfg in config.pools {
            match PoolRt::new(cfg) {
                Ok(p) => fresh.push(p),
                Err(e) => {
                    tracing::error!(worker = self.id, error = %e, "reload refused");
                    return;
                }
            }
        }
        for p in self.pools.iter_mut().flatten() {
            p.live = false;
        }
        let listeners: Vec<Key> = self
            .conns
            .keys()
            .collect::<Vec<_>>()
            .into_iter()
            .filter(|&k| matches!(self.conns.get_mut(k), Some(Conn::Listener(_))))
            .collect();
        let mut kept = Vec::new();
        for rt in fresh {
            let addr = rt.cfg.listen;
            self.pools.push(Some(rt));
            let idx = self.pools.len() - 1;
            let existing = listeners.iter().copied().find(
                |&k| matches!(self.conns.get_mut(k), Some(Conn::Listener(l)) if l.addr == addr),
            );
            if let Some(k) = existing {
                if let Some(Conn::Listener(l)) = self.conns.get_mut(k) {
                    l.pool = idx;
                }
                kept.push(k);
            } else if let Err(e) = self.listen(addr, idx) {
                tracing::error!(worker = self.id, %addr, error = %e, "cannot listen on a new pool address");
            }
        }
        for k in listeners {
            if !kept.contains(&k)
                && let Some(Conn::Listener(mut l)) = self.conns.remove(k)
            {
                tracing::info!(worker = self.id, addr = %l.addr, "pool removed: listener closed");
                let _ = self.poll.registry().deregister(&mut l.sock);
            }
        }
        for p in 0..self.pools.len() {
            if self.pools[p]
                .as_ref()
                .is_some_and(|p| !p.live && p.clients == 0)
            {
                self.close_pool_pipes(p);
                self.pools[p] = None;
            }
        }
        tracing::info!(worker = self.id, "configuration reloaded");
    }
}
