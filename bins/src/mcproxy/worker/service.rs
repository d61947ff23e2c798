//! The per-client work of a [`Worker`]: moving bytes between a session and its sockets, backend
//! failures and ejections, timeouts, draining and reload.

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
            // 2. Backend output, connecting where needed.
            for i in 0..c.backends.len() {
                if let Some(key) = c.backends[i]
                    && matches!(self.conns.get_mut(key), Some(Conn::Backend(b)) if b.broken)
                {
                    self.backend_failed(&mut c, i, now);
                    progress = true;
                    continue;
                }
                if c.session.backend_output(i).is_empty() {
                    continue;
                }
                let key = match c.backends[i] {
                    Some(key) => key,
                    None => match self.connect(k, &c, i, now) {
                        Ok(key) => {
                            c.backends[i] = Some(key);
                            key
                        }
                        Err(e) => {
                            tracing::debug!(worker = self.id, backend = i, error = %e, "connect failed");
                            self.backend_failed(&mut c, i, now);
                            progress = true;
                            continue;
                        }
                    },
                };
                let Some(Conn::Backend(b)) = self.conns.get_mut(key) else {
                    continue;
                };
                if !b.connected {
                    continue;
                }
                match write_some(&mut b.stream, c.session.backend_output(i)) {
                    Ok(0) => {}
                    Ok(n) => {
                        b.waiting_since.get_or_insert(now);
                        c.session.advance_backend(i, n);
                        progress = true;
                    }
                    Err(_) => {
                        self.backend_failed(&mut c, i, now);
                        progress = true;
                    }
                }
            }
            // 3. Backend replies.
            for i in 0..c.backends.len() {
                let Some(key) = c.backends[i] else {
                    continue;
                };
                let Some(Conn::Backend(b)) = self.conns.get_mut(key) else {
                    continue;
                };
                if !b.connected || !b.readable || !c.session.wants_backend_read(i) {
                    continue;
                }
                match read_once(&mut b.stream, &mut self.buf) {
                    ReadOutcome::Data(n) => {
                        // A short read drained the socket; the next arrival is a new edge.
                        b.readable = n == self.buf.len() || b.hup;
                        b.waiting_since = Some(now);
                        c.session.feed_backend(i, &self.buf[..n]);
                        if let Some(Some(p)) = self.pools.get_mut(c.pool) {
                            p.health.success(i);
                        }
                        progress = true;
                    }
                    ReadOutcome::WouldBlock => b.readable = false,
                    ReadOutcome::Eof | ReadOutcome::Failed => {
                        self.backend_failed(&mut c, i, now);
                        progress = true;
                    }
                }
            }
            // 4. Client requests, while the session wants them (backpressure otherwise).
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
            // 5. Events.
            while let Some(ev) = c.session.poll_event() {
                if let Event::BackendFault { backend, fault } = ev {
                    tracing::warn!(worker = self.id, backend, %fault, "backend broke the protocol");
                    self.backend_failed(&mut c, backend, now);
                    progress = true;
                }
            }
            if c.session.should_close_client() {
                close = true;
                break;
            }
            if !progress {
                exhausted = false;
                break;
            }
        }
        // Reply timeouts run from the moment the session starts waiting on a backend.
        for (i, key) in c.backends.iter().enumerate() {
            if let Some(key) = key
                && let Some(Conn::Backend(b)) = self.conns.get_mut(*key)
                && b.connected
            {
                if c.session.wants_backend_read(i) {
                    b.waiting_since.get_or_insert(now);
                } else {
                    b.waiting_since = None;
                }
            }
        }
        self.conns.put_back(k, Conn::Client(c));
        if close {
            self.close_client(k);
        } else if exhausted {
            self.dirty.push(k);
        }
    }

    /// Opens the connection from client `k` to backend `i`.
    fn connect(&mut self, k: Key, c: &ClientConn, i: usize, now: Instant) -> io::Result<Key> {
        let Some(Some(pool)) = self.pools.get(c.pool) else {
            return Err(io::Error::other("pool gone"));
        };
        let addr = pool.cfg.addrs[i];
        let stream = tcp_connect(addr)?;
        if pool.cfg.tcpkeepalive {
            socket2::SockRef::from(&stream).set_keepalive(true)?;
        }
        let key = self.conns.insert(Conn::Backend(BackendConn {
            stream,
            client: k,
            connected: false,
            readable: false,
            hup: false,
            broken: false,
            connect_deadline: now + pool.cfg.connect_timeout(),
            waiting_since: None,
        }));
        if let Some(Conn::Backend(b)) = self.conns.get_mut(key) {
            let interest = Interest::READABLE | Interest::WRITABLE;
            if let Err(e) = self
                .poll
                .registry()
                .register(&mut b.stream, key.token(), interest)
            {
                self.conns.remove(key);
                return Err(e);
            }
        }
        Ok(key)
    }

    fn drop_backend(&mut self, key: Key) {
        if let Some(Conn::Backend(mut b)) = self.conns.remove(key) {
            let _ = self.poll.registry().deregister(&mut b.stream);
        }
    }

    /// Backend `i` of client `c` failed: close the connection, settle what it owed, count the
    /// failure; the ejecting failure is applied to every session of the pool afterwards.
    fn backend_failed(&mut self, c: &mut ClientConn, i: usize, now: Instant) {
        if let Some(key) = c.backends.get_mut(i).and_then(Option::take) {
            self.drop_backend(key);
        }
        c.session.backend_down(i);
        self.stats.backend_failures += 1;
        let Some(Some(pool)) = self.pools.get_mut(c.pool) else {
            return;
        };
        if pool.health.is_ejected(i) {
            return;
        }
        if pool.health.failure(i, now) {
            let _ = pool.router.set_down(i, true);
            self.stats.ejections += 1;
            tracing::warn!(
                worker = self.id,
                pool = %pool.cfg.name,
                server = pool.cfg.servers[i].pname(),
                retry_ms = pool.cfg.server_retry_timeout.as_millis() as u64,
                "backend_down: server ejected"
            );
            self.ejections.push((c.pool, i));
        } else {
            // Below the failure limit: the next request for it reconnects.
            c.session.backend_up(i);
        }
    }

    /// Marks every session of a pool down for each backend ejected since the last call.
    pub(super) fn apply_ejections(&mut self) {
        if self.ejections.is_empty() {
            return;
        }
        let ejections = core::mem::take(&mut self.ejections);
        let keys: Vec<Key> = self.conns.keys().collect();
        for k in keys {
            let Some(Conn::Client(c)) = self.conns.get_mut(k) else {
                continue;
            };
            let mut dropped = Vec::new();
            for &(pool, i) in &ejections {
                if c.pool != pool {
                    continue;
                }
                if let Some(key) = c.backends.get_mut(i).and_then(Option::take) {
                    dropped.push(key);
                }
                c.session.backend_down(i);
            }
            for key in dropped {
                self.drop_backend(key);
            }
            self.dirty.push(k);
        }
    }

    /// Puts back the servers whose retry time has come (`backend_up`).
    pub(super) fn retry_ejected(&mut self, now: Instant) {
        let mut back = Vec::new();
        for (p, slot) in self.pools.iter_mut().enumerate() {
            let Some(pool) = slot else { continue };
            if pool.health.poll_timeout().is_none_or(|t| t > now) {
                continue;
            }
            let start = back.len();
            pool.health.handle_timeout(now, &mut back);
            for &i in &back[start..] {
                let _ = pool.router.set_down(i, false);
                tracing::warn!(
                    worker = self.id,
                    pool = %pool.cfg.name,
                    server = pool.cfg.servers[i].pname(),
                    "backend_up: retrying server"
                );
            }
            let back_here: Vec<usize> = back[start..].to_vec();
            let keys: Vec<Key> = self.conns.keys().collect();
            for k in keys {
                if let Some(Conn::Client(c)) = self.conns.get_mut(k)
                    && c.pool == p
                {
                    for &i in &back_here {
                        c.session.backend_up(i);
                    }
                }
            }
        }
    }

    /// Connect and reply timeouts.
    pub(super) fn sweep(&mut self, now: Instant) {
        let keys: Vec<Key> = self.conns.keys().collect();
        for k in keys {
            let Some(Conn::Backend(b)) = self.conns.get_mut(k) else {
                continue;
            };
            let client = b.client;
            let (connected, connect_deadline, waiting_since) =
                (b.connected, b.connect_deadline, b.waiting_since);
            let Some(Conn::Client(c)) = self.conns.get_mut(client) else {
                continue;
            };
            let Some(Some(pool)) = self.pools.get(c.pool) else {
                continue;
            };
            let expired = if connected {
                pool.cfg
                    .timeout
                    .zip(waiting_since)
                    .is_some_and(|(t, since)| since + t <= now)
            } else {
                connect_deadline <= now
            };
            if expired && let Some(Conn::Backend(b)) = self.conns.get_mut(k) {
                tracing::debug!(worker = self.id, connected, "backend timed out");
                b.broken = true;
                self.dirty.push(client);
            }
        }
    }

    /// Closes client `k` and its backend connections.
    pub(super) fn close_client(&mut self, k: Key) {
        let Some(Conn::Client(mut c)) = self.conns.remove(k) else {
            return;
        };
        let _ = self.poll.registry().deregister(&mut c.stream);
        for key in c.backends.iter().flatten() {
            self.drop_backend(*key);
        }
        let counters: &Counters = c.session.counters();
        self.stats.requests += counters.requests;
        self.stats.unavailable += counters.unavailable;
        if let Some(slot) = self.pools.get_mut(c.pool)
            && let Some(pool) = slot
        {
            pool.clients -= 1;
            if pool.clients == 0 && !pool.live {
                *slot = None;
            }
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
        for slot in &mut self.pools {
            if slot.as_ref().is_some_and(|p| !p.live && p.clients == 0) {
                *slot = None;
            }
        }
        tracing::info!(worker = self.id, "configuration reloaded");
    }
}
