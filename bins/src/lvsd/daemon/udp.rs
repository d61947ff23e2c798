//! UDP services: one connected socket per client flow towards its real server, replies sent
//! back from the virtual address, idle flows expired by the sweep.

use core::net::SocketAddr;
use std::io;

use lvs_core::Instant;
use mio::Interest;
use mio::net::UdpSocket;

use super::{Daemon, Entry, Flow, MAX_FLOWS};
use crate::io::slab::Key;
use crate::lvsd::config::SvcKey;
use crate::lvsd::table::Counters;

impl Daemon {
    pub(super) fn read_udp(&mut self, slot: Key, now: Instant) {
        for _ in 0..1024 {
            let Some(Entry::Udp { key, sock, flows }) = self.slots.get(slot) else {
                return;
            };
            let key = *key;
            let (n, client) = match sock.recv_from(&mut self.buf) {
                Ok(x) => x,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::info!("recv on {}: {e}", key.1);
                    continue;
                }
            };
            let flow = match flows.get(&client) {
                Some(&f) => f,
                None if flows.len() >= MAX_FLOWS => {
                    self.stats.udp_dropped += 1;
                    continue;
                }
                None => match self.new_flow(slot, key, client, now) {
                    Some(f) => f,
                    None => continue,
                },
            };
            let Some(Entry::Flow(f)) = self.slots.get_mut(flow) else {
                continue;
            };
            f.last = now;
            if f.sock.send(&self.buf[..n]).is_err() {
                self.stats.udp_dropped += 1;
            } else if let Some(b) = f.binding {
                let c = Counters {
                    in_pkts: 1,
                    in_bytes: n as u64,
                    ..Counters::default()
                };
                self.table.account(b, &c);
            }
        }
    }

    pub(super) fn new_flow(
        &mut self,
        listener: Key,
        key: SvcKey,
        client: SocketAddr,
        now: Instant,
    ) -> Option<Key> {
        let svc = self.table.find(key)?;
        let timeout = self.table.service(svc)?.spec.udp_timeout;
        let Some((binding, backend)) = self.table.pick(svc, client, now) else {
            self.stats.no_dest += 1;
            return None;
        };
        let local: SocketAddr = if backend.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            (core::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let sock = match UdpSocket::bind(local).and_then(|s| s.connect(backend).map(|()| s)) {
            Ok(s) => s,
            Err(e) => {
                tracing::info!("udp flow to {backend}: {e}");
                self.stats.udp_dropped += 1;
                self.table.release(binding, now);
                return None;
            }
        };
        let flow = Flow {
            sock,
            client,
            listener,
            binding: Some(binding),
            last: now,
            timeout,
        };
        let Ok(slot) = self.insert(Entry::Flow(Box::new(flow)), Interest::READABLE) else {
            self.table.release(binding, now);
            return None;
        };
        if let Some(Entry::Udp { flows, .. }) = self.slots.get_mut(listener) {
            flows.insert(client, slot);
        }
        Some(slot)
    }

    pub(super) fn read_flow(&mut self, slot: Key, now: Instant) {
        for _ in 0..1024 {
            let Some(Entry::Flow(f)) = self.slots.get_mut(slot) else {
                return;
            };
            let n = match f.sock.recv(&mut self.buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // ICMP port unreachable from the real server, reported on the next read.
                Err(_) => continue,
            };
            f.last = now;
            let (client, listener, binding) = (f.client, f.listener, f.binding);
            let Some(Entry::Udp { sock, .. }) = self.slots.get(listener) else {
                return;
            };
            if sock.send_to(&self.buf[..n], client).is_err() {
                self.stats.udp_dropped += 1;
            } else if let Some(b) = binding {
                let c = Counters {
                    out_pkts: 1,
                    out_bytes: n as u64,
                    ..Counters::default()
                };
                self.table.account(b, &c);
            }
        }
    }

    pub(super) fn close_flow(&mut self, slot: Key, now: Instant, unlink: bool) {
        let Some(Entry::Flow(f)) = self.slots.remove(slot) else {
            return;
        };
        if unlink && let Some(Entry::Udp { flows, .. }) = self.slots.get_mut(f.listener) {
            flows.remove(&f.client);
        }
        if let Some(b) = f.binding {
            self.table.release(b, now);
        }
    }
}
