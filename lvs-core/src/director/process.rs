//! The per-packet path.

use core::net::IpAddr;
use core::time::Duration;

use super::{Director, DropPacket, DropReason, Forward, RealId, RealState, UdpAccounting, Verdict};
use crate::conntrack::{
    Conn, ConnFlags, ConnId, ConnKey, ConnTable, Direction, NewConn, TcpState, tcp_transition,
};
use crate::packet::{PacketView, Side, TcpFlags, Transport, rewrite_forward};
use crate::service::{AddrKey, ServiceId, ServiceKey};
use crate::{ConnState, DestId, Flow, Instant, proto};

/// The `vip` index templates of fwmark services use (no virtual address applies).
const FWMARK_VIP: u16 = u16::MAX;
/// A connection that no longer counts towards its real server's load (`quiesce_server` reset).
pub(super) const UNCOUNTED: u8 = ConnFlags::USER1;
/// The scheduler's view of a connection's activity.
fn conn_state(active: bool) -> ConnState {
    if active {
        ConnState::Active
    } else {
        ConnState::Inactive
    }
}

/// Whether `view` is an ACK (no SYN, FIN or RST) from the client of `c`, an established TCP
/// connection counted as active: ES stays ES in every state table and the flags stay as they
/// are, so only the deadline moves.
#[inline]
fn established_ack(c: &Conn, view: &PacketView) -> bool {
    c.protocol == proto::TCP
        && c.state == TcpState::Established as u8
        && c.flags.0 & (ConnFlags::INACTIVE | ConnFlags::EMBRYONIC) == 0
        && view.tcp_flags().is_some_and(|f| {
            f.0 & (TcpFlags::SYN | TcpFlags::FIN | TcpFlags::RST) == 0 && f.has(TcpFlags::ACK)
        })
}

/// How long a template that still controls connections lives on when its timer fires.
const TEMPLATE_GRACE: Duration = Duration::from_secs(60);

impl Director {
    /// Process one Ethernet frame captured on the director. `fwmark` is the packet's firewall
    /// mark (0 for none). The frame is rewritten in place (and may grow for tunnels); the
    /// verdict says what to do with it.
    pub fn process(&mut self, now: Instant, frame: &mut Vec<u8>, fwmark: u32) -> Verdict {
        let now = self.observe(now);
        // Matched in place: moving the ~150-byte view out of an Option or a Result costs a
        // memcpy call. The common case comes straight from the fast parser (which writes its
        // result in place); `parse_ethernet` would only move it once more.
        let mut fast = PacketView::fast_ethernet(frame);
        if let Some(view) = &mut fast {
            return self.process_view(now, frame, view, fwmark);
        }
        let mut parsed = PacketView::parse_ethernet_slow(frame);
        let Ok(view) = &mut parsed else {
            return self.drop(DropReason::Malformed);
        };
        self.process_view(now, frame, view, fwmark)
    }

    /// The interned virtual address of a packet to `svc` sent to `dst`: address services know
    /// theirs, fwmark services learn it per packet.
    #[inline]
    pub(super) fn vip_of(&mut self, svc: ServiceId, dst: IpAddr) -> u16 {
        match self
            .slots
            .get(usize::from(svc.0))
            .and_then(|s| s.as_ref()?.vip)
        {
            Some(v) => v,
            None => self.vip_id(dst),
        }
    }

    pub(super) fn process_view(
        &mut self,
        now: Instant,
        frame: &mut Vec<u8>,
        view: &mut PacketView,
        fwmark: u32,
    ) -> Verdict {
        if let Transport::IcmpError { .. } = view.transport {
            return self.icmp_error(now, frame, *view);
        }
        if view.fragmented {
            return match self
                .services
                .lookup(fwmark, view.protocol, view.dst, view.dst_port)
            {
                Some(_) => self.drop(DropReason::Fragment),
                None => Verdict::Local,
            };
        }
        if !view.has_ports() {
            return Verdict::Local;
        }
        // A packet for a virtual service is a client's; only other packets can be NAT replies.
        let Some(svc) = self
            .services
            .lookup(fwmark, view.protocol, view.dst, view.dst_port)
        else {
            return match self.reply(now, frame, view) {
                Some(v) => v,
                None => Verdict::Local,
            };
        };
        let vip = self.vip_of(svc, view.dst);
        self.inbound(now, frame, view, svc, vip, fwmark, None)
    }

    pub(super) fn observe(&mut self, now: Instant) -> Instant {
        debug_assert!(now >= self.last_now, "time went backwards");
        self.last_now = self.last_now.max(now);
        self.last_now
    }

    /// The deadline of an ESTABLISHED connection refreshed at `now`, computed once per `now`.
    #[inline]
    fn es_deadline(&mut self, now: Instant) -> u32 {
        if self.es_deadline.0 != now {
            let timeout = self.config.tcp.get(TcpState::Established);
            self.es_deadline = (now, ConnTable::deadline(now, timeout));
        }
        self.es_deadline.1
    }

    pub(super) fn drop(&mut self, reason: DropReason) -> Verdict {
        self.drops[reason as usize] += 1;
        Verdict::Drop(reason)
    }

    pub(super) fn timeout_for(&self, protocol: u8, state: u8, flags: ConnFlags) -> Duration {
        match protocol {
            proto::TCP => self
                .config
                .tcp
                .get(TcpState::ALL[usize::from(state).min(10)]),
            proto::UDP => match self.config.udp_accounting {
                UdpAccounting::Activity { idle } if !flags.has(ConnFlags::INACTIVE) => {
                    idle.min(self.config.udp_timeout)
                }
                _ => self.config.udp_timeout,
            },
            _ => self.config.sctp_timeout,
        }
    }

    /// A NAT real server's packet to a client: source NAT back to the virtual service.
    fn reply(&mut self, now: Instant, frame: &mut [u8], view: &mut PacketView) -> Option<Verdict> {
        let candidates = self
            .by_addr
            .get(&AddrKey::new(0, view.src, view.src_port))?;
        let (id, real) = candidates.iter().find_map(|&r| {
            let slot = self.real_slot(r).ok()?;
            if slot.config.forward != Forward::Nat {
                return None;
            }
            self.conns
                .lookup_out(view.protocol, view.dst, view.dst_port, r.0)
                .map(|c| (c, r))
        })?;
        Some(self.forward_reply(now, frame, view, id, real))
    }

    fn forward_reply(
        &mut self,
        now: Instant,
        frame: &mut [u8],
        view: &mut PacketView,
        id: ConnId,
        real: RealId,
    ) -> Verdict {
        if view.ttl <= 1 {
            return self.drop(DropReason::TtlExpired);
        }
        self.transition(id, view, Direction::Output, now, false);
        let c = *self.conns.get(id);
        let Some(&vaddr) = self.vips.get(usize::from(c.vip)) else {
            return self.drop(DropReason::Rewrite);
        };
        if rewrite_forward(frame, view, Side::Src, vaddr, c.vport).is_err() {
            return self.drop(DropReason::Rewrite);
        }
        let len = view.l3_offset + view.ip_len;
        if let Some(s) = self
            .slots
            .get_mut(usize::from(c.svc))
            .and_then(Option::as_mut)
        {
            s.stats.count_out(view.ip_len);
        }
        if let Ok(r) = self.real_slot_mut(real) {
            r.stats.count_out(view.ip_len);
        }
        Verdict::Forward {
            next_hop: view.dst,
            len,
        }
    }

    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub(super) fn inbound(
        &mut self,
        now: Instant,
        frame: &mut Vec<u8>,
        view: &mut PacketView,
        svc: ServiceId,
        vip: u16,
        fwmark: u32,
        hash: Option<u32>,
    ) -> Verdict {
        let key = ConnKey {
            protocol: view.protocol,
            caddr: view.src,
            cport: view.src_port,
            vip,
            vport: view.dst_port,
        };
        // Hashed once: a miss hands the hash on to the insert of the new connection.
        let (existing, hash) = match hash {
            Some(h) => (self.conns.lookup_in_hashed(&key, h), h),
            None => self.conns.lookup_in_and_hash(&key),
        };
        if let Some(id) = existing {
            // The hit path's common case, decided on one read of the entry: an ACK of an
            // established connection to a live real server. `reused` is false (no SYN), the
            // state stays ES and only the deadline moves (see `transition`).
            let c = self.conns.get(id);
            let dest = c.dest;
            if established_ack(c, view)
                && self
                    .reals
                    .get(dest as usize)
                    .and_then(Option::as_ref)
                    .is_some_and(|r| r.state != RealState::Removed)
            {
                let deadline = self.es_deadline(now);
                self.conns.refresh_to(id, deadline);
                return self.forward_in(frame, view, svc, RealId(dest));
            }
        }
        self.inbound_slow(now, frame, view, svc, (key, hash), existing, fwmark)
    }

    /// Everything [`Director::inbound`]'s fast path does not cover: reused ports, removed
    /// real servers, state transitions and new connections.
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    fn inbound_slow(
        &mut self,
        now: Instant,
        frame: &mut Vec<u8>,
        view: &mut PacketView,
        svc: ServiceId,
        (key, hash): (ConnKey, u32),
        mut existing: Option<ConnId>,
        fwmark: u32,
    ) -> Verdict {
        if let Some(id) = existing
            && self.reused(id, view)
        {
            self.expire_conn(id);
            existing = None;
        }
        if let Some(id) = existing {
            let real = RealId(self.conns.get(id).dest);
            if self
                .real_slot(real)
                .map_or(true, |r| r.state == RealState::Removed)
            {
                self.expire_conn(id);
                existing = None;
                if view.protocol == proto::TCP {
                    return self.drop(DropReason::RealRemoved);
                }
            }
        }
        let (id, fresh) = match existing {
            Some(id) => (id, false),
            None => {
                if view.protocol == proto::TCP {
                    let flags = view.tcp_flags().unwrap_or_default();
                    if !flags.has(TcpFlags::SYN) || flags.has(TcpFlags::RST) {
                        // Not a connection start and no connection: the local stack answers.
                        return Verdict::Local;
                    }
                }
                if self.defend() {
                    return self.drop(DropReason::Defense);
                }
                let Some((real, template)) = self.schedule(now, view, svc, fwmark) else {
                    return self.drop(DropReason::NoDestination);
                };
                let one_packet = self.slot(svc).is_ok_and(|s| s.config.one_packet)
                    && view.protocol == proto::UDP;
                if one_packet {
                    self.count_new(svc, real);
                    return self.forward_in(frame, view, svc, real);
                }
                match self.new_conn(now, (key, hash), view, svc, real, template) {
                    Some(id) => (id, true),
                    None => return self.drop(DropReason::TableFull),
                }
            }
        };
        self.transition(id, view, Direction::Input, now, fresh);
        let real = RealId(self.conns.get(id).dest);
        self.forward_in(frame, view, svc, real)
    }

    /// `conn_reuse_mode`: whether a SYN on connection `id` starts a new connection instead
    /// (the client reused its port), as `is_new_conn_expected` decides in the kernel.
    fn reused(&self, id: ConnId, view: &PacketView) -> bool {
        let mode = self.config.conn_reuse_mode;
        if mode == 0
            || view.protocol != proto::TCP
            || !view.tcp_flags().is_some_and(|f| f.has(TcpFlags::SYN))
        {
            return false;
        }
        let c = self.conns.get(id);
        if c.control != u32::MAX || c.flags.has(ConnFlags::TEMPLATE) {
            return false;
        }
        let state = TcpState::ALL[usize::from(c.state).min(10)];
        match state {
            TcpState::TimeWait | TcpState::Close => mode & 1 != 0,
            TcpState::FinWait => mode & 2 != 0 && c.flags.has(ConnFlags::NO_OUTPUT),
            _ => false,
        }
    }

    fn count_new(&mut self, svc: ServiceId, real: RealId) {
        if let Ok(s) = self.slot_mut(svc) {
            s.stats.conns += 1;
        }
        if let Ok(r) = self.real_slot_mut(real) {
            r.stats.conns += 1;
        }
    }

    /// Choose a real server, through a valid persistence template when the service has one;
    /// also returns that template (found or made) so the new connection can link to it.
    fn schedule(
        &mut self,
        now: Instant,
        view: &PacketView,
        svc: ServiceId,
        fwmark: u32,
    ) -> Option<(RealId, Option<ConnId>)> {
        let persistence = self.slot(svc).ok()?.config.persistence;
        let flow = Flow {
            protocol: view.protocol,
            src: view.src,
            src_port: view.src_port,
            dst: view.dst,
            dst_port: view.dst_port,
            fwmark,
        };
        let Some(p) = persistence else {
            return self
                .slot_mut(svc)
                .ok()?
                .sched
                .pick(&flow, now)
                .map(|d| (RealId(d.0), None));
        };
        let tkey = self.template_key(svc, view)?;
        if let Some(tid) = self.conns.lookup_in(&tkey) {
            let real = RealId(self.conns.get(tid).dest);
            let valid = self.real_slot(real).is_ok_and(|r| match r.state {
                RealState::Removed => false,
                _ => !(self.config.expire_quiescent_template && r.config.weight == 0),
            });
            if valid {
                self.conns.refresh(tid, now, p.timeout);
                return Some((real, Some(tid)));
            }
            self.expire_conn(tid);
        }
        let real = RealId(self.slot_mut(svc).ok()?.sched.pick(&flow, now)?.0);
        let new = NewConn {
            key: tkey,
            svc: svc.0,
            dest: real.0,
            state: 0,
            flags: ConnFlags(ConnFlags::TEMPLATE),
            control: 0,
        };
        let Ok(ins) = self.conns.insert(now, new, p.timeout) else {
            // No room for the template: the connection is still scheduled, unpinned.
            return Some((real, None));
        };
        if let Some(ev) = ins.evicted {
            self.release(&ev);
        }
        if let Ok(r) = self.real_slot_mut(real) {
            r.persistent += 1;
            r.refs += 1;
        }
        Some((real, Some(ins.id)))
    }

    /// Insert the connection `key` (whose [`crate::conntrack::ConnTable::key_hash`] is `hash`)
    /// to `real`, linked to `template`.
    fn new_conn(
        &mut self,
        now: Instant,
        (key, hash): (ConnKey, u32),
        view: &PacketView,
        svc: ServiceId,
        real: RealId,
        template: Option<ConnId>,
    ) -> Option<ConnId> {
        let forward = self.real_slot(real).ok()?.config.forward;
        let mut flags = ConnFlags::INACTIVE;
        if forward != Forward::Nat {
            flags |= ConnFlags::NO_OUTPUT;
        }
        if view.protocol == proto::TCP {
            flags |= ConnFlags::EMBRYONIC;
        }
        let control = template.map_or(u32::MAX, ConnId::index);
        let new = NewConn {
            key,
            svc: svc.0,
            dest: real.0,
            state: 0,
            flags: ConnFlags(flags),
            control,
        };
        // A new connection first lives 3 s in NONE until its first state update.
        let Ok(ins) = self
            .conns
            .insert_hashed(now, new, Duration::from_secs(3), hash)
        else {
            return None;
        };
        if let Some(ev) = ins.evicted {
            self.release(&ev);
        }
        if let Some(t) = template {
            let tc = self.conns.get_mut(t);
            tc.control = tc.control.saturating_add(1);
        }
        // Bound to the scheduler by the `transition` that follows (`fresh`).
        if let Ok(r) = self.real_slot_mut(real) {
            r.refs += 1;
        }
        self.count_new(svc, real);
        Some(ins.id)
    }

    /// The persistence template key of `view`'s client for a persistent service: the masked
    /// client, and for fwmark services the service instead of a virtual address and port (so
    /// every port the mark groups shares it); port-0 and FTP (port 21) services key on port 0.
    fn template_key(&self, svc: ServiceId, view: &PacketView) -> Option<ConnKey> {
        let s = self.slot(svc).ok()?;
        let caddr = s.config.persistence?.mask(view.src);
        Some(match s.config.key {
            ServiceKey::Fwmark(_) => ConnKey {
                protocol: 0,
                caddr,
                cport: 0,
                vip: FWMARK_VIP,
                vport: svc.0,
            },
            ServiceKey::Addr { port, .. } => ConnKey {
                protocol: view.protocol,
                caddr,
                cport: 0,
                vip: *self.vip_index.get(&AddrKey::new(0, view.dst, 0))?,
                vport: if port == 0 || port == 21 {
                    0
                } else {
                    view.dst_port
                },
            },
        })
    }

    /// Move the connection's state for one packet, update the scheduler's accounting, and
    /// re-arm its timer.
    ///
    /// A `fresh` connection (just inserted by `new_conn`) is not bound to its scheduler yet:
    /// it is bound here once, in its state after this packet, instead of being bound inactive
    /// and moved to active right after (the counts end the same; the scheduler works once).
    fn transition(
        &mut self,
        id: ConnId,
        view: &PacketView,
        dir: Direction,
        now: Instant,
        fresh: bool,
    ) {
        let (protocol, state, mut flags, dest, svc) = {
            let c = self.conns.get(id);
            (c.protocol, c.state, c.flags, c.dest, c.svc)
        };
        // The common case, an ACK (no SYN, FIN or RST) on an established connection from the
        // client: ES stays ES in every table, the flags stay as they are; only the deadline
        // moves.
        if dir == Direction::Input && established_ack(self.conns.get(id), view) {
            debug_assert_eq!(
                tcp_transition(
                    TcpState::Established,
                    dir,
                    view.tcp_flags().unwrap_or_default().0,
                    &mut flags.has(ConnFlags::NO_OUTPUT),
                    self.config.secure_tcp,
                ),
                TcpState::Established,
                "the fast path agrees with the tables"
            );
            let deadline = self.es_deadline(now);
            self.conns.refresh_to(id, deadline);
            return;
        }
        let new_state = match view.tcp_flags() {
            Some(f) if protocol == proto::TCP => {
                let mut no_output = flags.has(ConnFlags::NO_OUTPUT);
                let s = tcp_transition(
                    TcpState::ALL[usize::from(state).min(10)],
                    dir,
                    f.0,
                    &mut no_output,
                    self.config.secure_tcp,
                );
                flags.set(ConnFlags::NO_OUTPUT, no_output);
                flags.set(
                    ConnFlags::EMBRYONIC,
                    matches!(s, TcpState::None | TcpState::SynRecv | TcpState::SynAck),
                );
                s as u8
            }
            _ => state,
        };
        let want_active = match protocol {
            proto::TCP => TcpState::ALL[usize::from(new_state).min(10)].is_active(),
            proto::UDP => matches!(self.config.udp_accounting, UdpAccounting::Activity { .. }),
            _ => true,
        };
        let was_active = !flags.has(ConnFlags::INACTIVE);
        if fresh {
            flags.set(ConnFlags::INACTIVE, !want_active);
            self.bind(RealId(dest), svc, want_active);
        } else if want_active != was_active {
            flags.set(ConnFlags::INACTIVE, !want_active);
            self.account(RealId(dest), svc, flags, was_active, want_active);
        }
        {
            let e = self.conns.get_mut(id);
            e.state = new_state;
            e.flags = flags;
        }
        let timeout = self.timeout_for(protocol, new_state, flags);
        self.conns.refresh(id, now, timeout);
    }

    /// Report an active/inactive move of one connection (with `flags`) to the scheduler and the
    /// counters; connections reset by `quiesce_server` no longer count.
    pub(super) fn account(
        &mut self,
        real: RealId,
        svc: u16,
        flags: ConnFlags,
        was_active: bool,
        now_active: bool,
    ) {
        if !flags.has(UNCOUNTED) {
            self.recount(real, svc, Some(was_active), Some(now_active));
        }
    }

    /// Count a new connection on `real` and its scheduler, active or not.
    fn bind(&mut self, real: RealId, svc: u16, active: bool) {
        self.recount(real, svc, None, Some(active));
    }

    /// Take one counted connection (active or not) off `real`'s counts and its scheduler.
    fn uncount(&mut self, real: RealId, svc: u16, active: bool) {
        self.recount(real, svc, Some(active), None);
    }

    /// The one place a connection's count moves: from `from` (active or not; `None` for a new
    /// connection) to `to` (`None` when it stops counting), on the service's scheduler and on
    /// `real`'s active/inactive counters.
    #[inline]
    fn recount(&mut self, real: RealId, svc: u16, from: Option<bool>, to: Option<bool>) {
        if let Some(s) = self
            .slots
            .get_mut(usize::from(svc))
            .and_then(Option::as_mut)
        {
            let d = DestId(real.0);
            match (from, to) {
                (None, Some(t)) => s.sched.conn_bound(d, conn_state(t)),
                (Some(f), None) => s.sched.conn_unbound(d, conn_state(f)),
                (Some(f), Some(t)) => s.sched.conn_changed(d, conn_state(f), conn_state(t)),
                (None, None) => {}
            }
        }
        if let Ok(r) = self.real_slot_mut(real) {
            match from {
                Some(true) => r.active = r.active.saturating_sub(1),
                Some(false) => r.inactive = r.inactive.saturating_sub(1),
                None => {}
            }
            match to {
                Some(true) => r.active += 1,
                Some(false) => r.inactive += 1,
                None => {}
            }
        }
    }

    /// Start the least-connection counts of every real server of `svc` from zero: every counted
    /// connection is unbound from the scheduler and marked uncounted (it keeps flowing).
    pub(super) fn reset_counts(&mut self, svc: ServiceId) {
        let ids: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| {
                c.svc == svc.0 && !c.flags.has(ConnFlags::TEMPLATE) && !c.flags.has(UNCOUNTED)
            })
            .map(|(id, _)| id)
            .collect();
        for id in ids {
            let c = *self.conns.get(id);
            self.uncount(RealId(c.dest), c.svc, !c.flags.has(ConnFlags::INACTIVE));
            self.conns.get_mut(id).flags.set(UNCOUNTED, true);
        }
    }

    /// The `drop_packet` defence: whether this new connection is refused.
    fn defend(&mut self) -> bool {
        let rate = match self.config.drop_packet {
            DropPacket::Off => return false,
            DropPacket::Always { rate } => rate,
            DropPacket::Auto => {
                let max = self.conns.max_entries();
                let threshold = (max / 16).max(1);
                let free = max.saturating_sub(self.conns.len());
                if free >= threshold {
                    self.drop_counter = 0;
                    return false;
                }
                u32::try_from(threshold / (threshold - free)).unwrap_or(u32::MAX)
            }
        };
        if rate == 0 {
            return false;
        }
        // One in `rate`, counted down as the kernel does.
        if self.drop_counter > 1 {
            self.drop_counter -= 1;
            return false;
        }
        self.drop_counter = rate;
        true
    }

    /// Remove a connection or template now, releasing its accounting.
    pub(super) fn expire_conn(&mut self, id: ConnId) {
        let c = self.conns.remove(id);
        self.release(&c);
    }

    /// Undo a removed entry's accounting: scheduler counts, real-server counts, the template's
    /// control count, and free a removed real server nobody refers to any more.
    pub(super) fn release(&mut self, c: &Conn) {
        let real = RealId(c.dest);
        if let Ok(r) = self.real_slot_mut(real) {
            r.refs = r.refs.saturating_sub(1);
        }
        if c.flags.has(ConnFlags::TEMPLATE) {
            if let Ok(r) = self.real_slot_mut(real) {
                r.persistent = r.persistent.saturating_sub(1);
            }
        } else {
            if !c.flags.has(UNCOUNTED) {
                self.uncount(real, c.svc, !c.flags.has(ConnFlags::INACTIVE));
            }
            if c.control != u32::MAX {
                self.uncontrol(c.control);
            }
        }
        self.free_if_unused(real);
    }

    fn uncontrol(&mut self, template_index: u32) {
        // A template outlives the connections it controls (its timer re-arms while they
        // exist), unless it was invalidated; then the slot may hold something else.
        if let Some(id) = self.conns.live_at(template_index)
            && self.conns.get(id).flags.has(ConnFlags::TEMPLATE)
        {
            let tc = self.conns.get_mut(id);
            tc.control = tc.control.saturating_sub(1);
        }
    }

    fn free_if_unused(&mut self, real: RealId) {
        let unused = self
            .real_slot(real)
            .is_ok_and(|r| r.state == RealState::Removed && r.refs == 0);
        if unused {
            self.reals[real.0 as usize] = None;
        }
    }

    /// Expire connections and templates that are due, end drains whose deadline passed, and
    /// move idle UDP flows back to inactive (with [`UdpAccounting::Activity`]).
    pub fn handle_timeout(&mut self, now: Instant) {
        let now = self.observe(now);
        let mut expired = core::mem::take(&mut self.scratch);
        let mut idle_now = Vec::new();
        let activity = match self.config.udp_accounting {
            UdpAccounting::Activity { idle } => Some(idle),
            UdpAccounting::Kernel => None,
        };
        let udp_timeout = self.config.udp_timeout;
        self.conns.handle_timeout(now, |id, c| {
            if c.flags.has(ConnFlags::TEMPLATE) && c.control > 0 {
                return Some(TEMPLATE_GRACE);
            }
            if let Some(idle) = activity
                && c.protocol == proto::UDP
                && !c.flags.has(ConnFlags::INACTIVE)
                && idle < udp_timeout
            {
                idle_now.push(id);
                return Some(udp_timeout - idle);
            }
            expired.push(*c);
            None
        });
        for c in &expired {
            self.release(c);
        }
        expired.clear();
        self.scratch = expired;
        for id in idle_now {
            let c = *self.conns.get(id);
            let mut flags = c.flags;
            flags.set(ConnFlags::INACTIVE, true);
            self.conns.get_mut(id).flags = flags;
            self.account(RealId(c.dest), c.svc, flags, true, false);
        }
        let due: Vec<RealId> = self
            .reals
            .iter()
            .enumerate()
            .filter_map(|(i, r)| match r.as_ref()?.state {
                RealState::Draining { deadline } if deadline <= now => Some(RealId(i as u32)),
                _ => None,
            })
            .collect();
        for r in due {
            let _ = self.remove_real(r);
            self.free_if_unused(r);
        }
        while self.next_estimate <= now {
            self.estimate();
            self.next_estimate += super::ESTIMATOR_PERIOD;
        }
    }

    /// Where the client of a NAT flow is reached; for tests and listings.
    pub fn vip_address(&self, index: u16) -> Option<IpAddr> {
        self.vips.get(usize::from(index)).copied()
    }
}
