//! The receive path: validation, the peer table, and the advert rows of the transition table.

use core::net::IpAddr;

use lvs_core::{Datagram, Instant};

use super::Instance;
use super::peers::Observation;
use super::timing::v3_interval;
use super::types::{Event, Reason, State, Timer};
use crate::stats::DropReason;
use crate::validate::{RxInfo, validate};
use crate::wire::VrrpPacket;

impl Instance {
    /// Validate and act on one received datagram.
    pub(super) fn receive(&mut self, now: Instant, d: &Datagram) {
        if self.state == State::Initialize {
            self.stats.inactive = self.stats.inactive.saturating_add(1);
            return;
        }
        let src = d.src.ip();
        if src == self.settings.primary {
            self.stats.own_adverts = self.stats.own_adverts.saturating_add(1);
            return;
        }
        let rx = RxInfo {
            src,
            dst: d.dst.ip(),
            // A shell that cannot read the TTL gets multicast adverts dropped (`Ttl`).
            ttl: d.meta.ttl.unwrap_or(0),
        };
        let payload = &d.payload[..];
        let outcome = validate(payload, &rx, &self.config, &mut self.latch);
        self.stats.rx.record(&outcome);
        let accepted = match outcome {
            Ok(a) => a,
            Err(reason) => {
                self.observe_dropped(now, &rx, payload, reason);
                return;
            }
        };
        let obs = Observation {
            now,
            src,
            packet: &accepted.packet,
            checksum: Some(accepted.checksum.variant()),
            checksum_rejected: false,
            accepted: true,
            addresses_match: Some(accepted.addresses_match),
        };
        self.peers
            .observe(&obs, &self.config, self.send_variant, &mut self.events);
        let priority = accepted.packet.priority();
        let interval = (self.version == 3).then(|| v3_interval(accepted.packet.max_adver_int()));
        self.on_advert(now, src, priority, interval);
    }

    /// Record a dropped advert in the peer table when it is ours in all but configuration,
    /// so drift is reported.
    fn observe_dropped(&mut self, now: Instant, rx: &RxInfo, payload: &[u8], reason: DropReason) {
        let drift_reason = matches!(
            reason,
            DropReason::AddressList
                | DropReason::AuthType
                | DropReason::AuthData
                | DropReason::AdverInt
                | DropReason::Checksum
                | DropReason::Version
        );
        if !drift_reason {
            return;
        }
        let Ok(packet) = VrrpPacket::new_checked(payload, self.config.family()) else {
            return;
        };
        if packet.vrid() != self.config.vrid || payload.len() != packet.packet_len() {
            return;
        }
        // Garbage does not count as a peer: some checksum variant must verify.
        let Some(variant) = packet.detect_checksum(rx.src, rx.dst) else {
            return;
        };
        let obs = Observation {
            now,
            src: rx.src,
            packet: &packet,
            checksum: Some(variant),
            checksum_rejected: reason == DropReason::Checksum,
            accepted: false,
            addresses_match: None,
        };
        self.peers
            .observe(&obs, &self.config, self.send_variant, &mut self.events);
    }

    /// The advert rows of the transition table (RFC 3768 / RFC 5798 §6.4, keepalived).
    fn on_advert(
        &mut self,
        now: Instant,
        src: IpAddr,
        priority: u8,
        interval: Option<core::time::Duration>,
    ) {
        let local = self.priority();
        match self.state {
            State::Initialize => {}
            State::Fault => {
                if priority > 0 {
                    self.master = Some((src, priority, now));
                }
            }
            State::Backup => {
                if priority == 0 {
                    // The master resigned: the best backup (shortest skew) takes over.
                    self.master = None;
                    let at = now + self.skew_time();
                    self.timers.set(Timer::MasterDown, at);
                    return;
                }
                let accept = !self.settings.preempt || self.yielded || priority >= local;
                if accept {
                    self.preempt_hold_since = None;
                } else if !self.settings.preempt_delay.is_zero() {
                    let since = *self.preempt_hold_since.get_or_insert(now);
                    if now.saturating_duration_since(since) < self.settings.preempt_delay {
                        // Held in place: treat it as the master's advert until the delay ends.
                        self.accept_master(now, src, priority, interval);
                        return;
                    }
                }
                if accept {
                    self.accept_master(now, src, priority, interval);
                } else if self.settings.fast_preempt {
                    // Discard, but do not wait a whole Master_Down_Interval for a master we
                    // would preempt anyway.
                    let at = now + self.skew_time();
                    if self.timers.get(Timer::MasterDown).is_none_or(|t| t > at) {
                        self.timers.set(Timer::MasterDown, at);
                    }
                }
                // Otherwise discard: the timer is not reset (RFC), so we take over
                // Master_Down_Interval after the last accepted advert.
            }
            State::Master => {
                if priority == 0 {
                    self.send_advert(self.priority());
                    self.rearm_advert(now);
                    return;
                }
                if priority > local || (priority == local && src > self.settings.primary) {
                    if let Some(i) = interval {
                        self.master_adver_interval = i;
                    }
                    self.master = Some((src, priority, now));
                    self.become_backup(
                        now,
                        Reason::HigherPriority {
                            peer: src,
                            priority,
                        },
                    );
                    return;
                }
                self.on_lower_priority(now, src, priority);
            }
        }
    }

    /// Backup: take `src` as the master and restart the down timer.
    fn accept_master(
        &mut self,
        now: Instant,
        src: IpAddr,
        priority: u8,
        interval: Option<core::time::Duration>,
    ) {
        if let Some(i) = interval {
            self.master_adver_interval = i;
        }
        self.master = Some((src, priority, now));
        let at = now + self.master_down_interval_cached();
        self.timers.set(Timer::MasterDown, at);
    }

    /// Master: a lower-priority advert (or equal priority from a lower address).
    fn on_lower_priority(&mut self, now: Instant, src: IpAddr, priority: u8) {
        let recent = self
            .last_lower_answer
            .is_some_and(|t| now.saturating_duration_since(t) < self.adver_interval);
        if recent {
            self.stats.lower_prio_rate_limited =
                self.stats.lower_prio_rate_limited.saturating_add(1);
            return;
        }
        self.last_lower_answer = Some(now);
        self.events.push_back(Event::MasterRxLowerPriority {
            peer: src,
            priority,
        });
        if self.settings.lower_priority == super::LowerPriority::Answer {
            self.stats.lower_prio_answers = self.stats.lower_prio_answers.saturating_add(1);
            self.send_advert(self.priority());
            self.rearm_advert(now);
            self.announce(now, self.settings.announce.lower_prio_repeat);
        }
    }
}
