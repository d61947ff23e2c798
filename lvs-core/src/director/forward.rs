//! Forwarding client packets to their real server (NAT, DR, TUN) and ICMP errors.

use super::tunnel::{Encap, Tunnel, encapsulate, fits};
use super::{Director, DropReason, Forward, RealConfig, RealId, Verdict};
use crate::Instant;
use crate::conntrack::ConnKey;
use crate::packet::{
    PacketView, Side, Transport, decrement_ttl, rewrite_forward, rewrite_icmp_error,
};
use crate::service::{AddrKey, ServiceId};

impl Director {
    #[inline(always)]
    pub(super) fn forward_in(
        &mut self,
        frame: &mut Vec<u8>,
        view: &mut PacketView,
        svc: ServiceId,
        real: RealId,
    ) -> Verdict {
        let Some(r) = self.reals.get(real.0 as usize).and_then(Option::as_ref) else {
            return self.drop(DropReason::RealRemoved);
        };
        if view.ttl <= 1 {
            return self.drop(DropReason::TtlExpired);
        }
        let ip_len = view.ip_len;
        let (forward, addr, port) = (r.config.forward, r.config.addr, r.config.port);
        let verdict = if forward == Forward::Nat {
            if rewrite_forward(frame, view, Side::Dst, addr, port).is_err() {
                return self.drop(DropReason::Rewrite);
            }
            Verdict::Forward {
                next_hop: addr,
                len: view.l3_offset + view.ip_len,
            }
        } else {
            // Only DR and TUN copy the whole configuration (NAT needs three fields).
            let cfg = r.config;
            match self.forward_dr_tun(frame, view, &cfg) {
                Ok(v) => v,
                Err(v) => return v,
            }
        };
        if let Some(s) = self
            .slots
            .get_mut(usize::from(svc.0))
            .and_then(Option::as_mut)
        {
            s.stats.count_in(ip_len);
        }
        if let Some(r) = self.reals.get_mut(real.0 as usize).and_then(Option::as_mut) {
            r.stats.count_in(ip_len);
        }
        verdict
    }

    /// The DR and TUN arms of [`Director::forward_in`]: `Ok` with a counted forward, `Err`
    /// with a final verdict (a drop or an ICMP reply) that counts no traffic.
    fn forward_dr_tun(
        &mut self,
        frame: &mut Vec<u8>,
        view: &mut PacketView,
        cfg: &RealConfig,
    ) -> Result<Verdict, Verdict> {
        Ok(match cfg.forward {
            // NAT never comes here (`forward_in` handles it).
            Forward::Nat | Forward::Dr => {
                decrement_ttl(frame, view);
                if let Some(mac) = cfg.mac {
                    frame[0..6].copy_from_slice(&mac);
                    frame[6..12].copy_from_slice(&self.config.mac);
                }
                Verdict::Forward {
                    next_hop: cfg.addr,
                    len: view.l3_offset + view.ip_len,
                }
            }
            Forward::Tun => {
                let src = if cfg.addr.is_ipv4() {
                    self.config.tunnel_source_v4
                } else {
                    self.config.tunnel_source_v6
                };
                let Some(src) = src else {
                    return Err(self.drop(DropReason::Tunnel));
                };
                // The MTU check quotes the packet as it arrived, before the TTL changes.
                if fits(view, cfg.addr, cfg.tunnel, self.config.mtu) {
                    decrement_ttl(frame, view);
                }
                let tunnel = Tunnel {
                    src,
                    dst: cfg.addr,
                    kind: cfg.tunnel,
                    mtu: self.config.mtu,
                    dst_mac: cfg.mac,
                    own_mac: self.config.mac,
                };
                match encapsulate(frame, view, &tunnel) {
                    Encap::Sent(len) => Verdict::Forward {
                        next_hop: cfg.addr,
                        len,
                    },
                    Encap::TooBig(len) => return Err(Verdict::Reply { len }),
                    Encap::Refused => return Err(self.drop(DropReason::Tunnel)),
                }
            }
        })
    }

    /// ICMP errors: relate them to the connection of the quoted packet and translate them for
    /// NAT; DR and TUN forward them unchanged to the real server.
    pub(super) fn icmp_error(
        &mut self,
        now: Instant,
        frame: &mut Vec<u8>,
        mut view: PacketView,
    ) -> Verdict {
        let Transport::IcmpError { quoted, .. } = view.transport else {
            return Verdict::Local;
        };
        let q = quoted.flow;
        // The quoted packet went from the director to the client side: an error about a reply.
        if let Some(&vip) = self.vip_index.get(&AddrKey::new(0, q.src, 0)) {
            let key = ConnKey {
                protocol: q.protocol,
                caddr: q.dst,
                cport: q.dst_port,
                vip,
                vport: q.src_port,
            };
            if let Some(id) = self.conns.lookup_in(&key) {
                let c = *self.conns.get(id);
                let Ok(r) = self.real_slot(RealId(c.dest)) else {
                    return self.drop(DropReason::RealRemoved);
                };
                let cfg = r.config;
                if cfg.forward == Forward::Nat
                    && rewrite_icmp_error(
                        frame,
                        &mut view,
                        Some((Side::Dst, cfg.addr)),
                        (Side::Src, cfg.addr, cfg.port),
                    )
                    .is_err()
                {
                    return self.drop(DropReason::Rewrite);
                }
                let svc = ServiceId(c.svc);
                return self.forward_in(frame, &mut view, svc, RealId(c.dest));
            }
        }
        // The quoted packet went from the director to a NAT real server: an error for the client.
        if let Some(candidates) = self.by_addr.get(&AddrKey::new(0, q.dst, q.dst_port)) {
            let found = candidates.iter().find_map(|&r| {
                let slot = self.real_slot(r).ok()?;
                (slot.config.forward == Forward::Nat)
                    .then(|| self.conns.lookup_out(q.protocol, q.src, q.src_port, r.0))
                    .flatten()
            });
            if let Some(id) = found {
                let c = *self.conns.get(id);
                let Some(&vaddr) = self.vips.get(usize::from(c.vip)) else {
                    return self.drop(DropReason::Rewrite);
                };
                if rewrite_icmp_error(
                    frame,
                    &mut view,
                    Some((Side::Src, vaddr)),
                    (Side::Dst, vaddr, c.vport),
                )
                .is_err()
                {
                    return self.drop(DropReason::Rewrite);
                }
                if view.ttl <= 1 {
                    return self.drop(DropReason::TtlExpired);
                }
                decrement_ttl(frame, &mut view);
                self.conns
                    .refresh(id, now, self.timeout_for(c.protocol, c.state, c.flags));
                return Verdict::Forward {
                    next_hop: view.dst,
                    len: view.l3_offset + view.ip_len,
                };
            }
        }
        Verdict::Local
    }
}
