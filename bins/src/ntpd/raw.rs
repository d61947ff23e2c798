//! The offsets monitor mode shows: θ and δ of each exchange measured against the unmodified
//! clock, independent of the client's model (which assumes its requested corrections were
//! made, and so reports a residual that monitor mode never achieved).

use core::net::SocketAddr;
use std::collections::{BTreeMap, VecDeque};

use lvs_ntp::onwire::{check_reply, offset_delay};
use lvs_ntp::wire::{LeapIndicator, NtpMessage, NtpPacket, NtpRepr};
use lvs_ntp::{NtpTimestamp, UnixNanos};

/// Requests remembered while their replies are awaited.
const MAX_PENDING: usize = 256;
/// Samples kept per server (as the clock filter does).
const STAGES: usize = 8;
/// Frequency tolerance: a sample's dispersion grows by this much per second of delay.
const PHI: f64 = 15e-6;
/// Our precision term in a sample's dispersion (2^-20 s).
const LOCAL_PRECISION: f64 = 1.0 / 1_048_576.0;

/// One exchange: θ, δ and ε0 (seconds), measured against the raw clock.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stage {
    /// Offset.
    pub offset: f64,
    /// Round-trip delay.
    pub delay: f64,
    /// Dispersion at the time of the sample.
    pub dispersion: f64,
}

/// The header fields of a server's last good reply, as `ntpq` shows them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LastReply {
    /// Its leap indicator.
    pub leap: LeapIndicator,
    /// Its poll field.
    pub poll: i8,
    /// Its precision.
    pub precision: i8,
    /// Its root delay, seconds.
    pub root_delay: f64,
    /// Its root dispersion, seconds.
    pub root_dispersion: f64,
    /// Its reference time.
    pub reference: NtpTimestamp,
    /// Its transmit timestamp.
    pub transmit: NtpTimestamp,
    /// T4: when it arrived, by our clock.
    pub received: NtpTimestamp,
}

/// What is known of one server.
#[derive(Clone, Debug, Default)]
pub struct ServerRecord {
    /// The last eight exchanges, oldest first.
    pub stages: VecDeque<Stage>,
    /// The last good reply.
    pub last: Option<LastReply>,
    /// Requests sent since the last good reply.
    pub unanswered: u32,
}

/// Raw exchanges per server.
#[derive(Debug, Default)]
pub struct RawSamples {
    pending: VecDeque<(SocketAddr, NtpTimestamp, NtpTimestamp)>,
    servers: BTreeMap<SocketAddr, ServerRecord>,
}

impl RawSamples {
    /// Records a request sent to `dst` at wall time `t1`.
    pub fn sent(&mut self, dst: SocketAddr, payload: &[u8], t1: UnixNanos) {
        let Ok(p) = NtpPacket::new_checked(payload) else {
            return;
        };
        if self.pending.len() == MAX_PENDING {
            self.pending.pop_front();
        }
        self.pending.push_back((
            dst,
            p.transmit_timestamp(),
            NtpTimestamp::from_unix_nanos(t1),
        ));
        let r = self.servers.entry(dst).or_default();
        r.unanswered = r.unanswered.saturating_add(1);
    }

    /// Matches a reply from `src` received at wall time `t4` and keeps its θ and δ.
    pub fn received(&mut self, src: SocketAddr, payload: &[u8], t4: UnixNanos) {
        let Ok(msg) = NtpMessage::parse(payload) else {
            return;
        };
        let reply = msg.header;
        let Some(i) = self
            .pending
            .iter()
            .position(|&(dst, nonce, _)| dst == src && nonce == reply.origin)
        else {
            return;
        };
        let Some((_, nonce, t1)) = self.pending.remove(i) else {
            return;
        };
        if check_reply(&NtpRepr::client_request(nonce, 0), None, &reply).is_err() {
            return;
        }
        let received = NtpTimestamp::from_unix_nanos(t4);
        let s = offset_delay(t1, reply.receive, reply.transmit, received);
        let delay = s.delay.as_secs_f64();
        let r = self.servers.entry(src).or_default();
        if r.stages.len() == STAGES {
            r.stages.pop_front();
        }
        r.stages.push_back(Stage {
            offset: s.offset.as_secs_f64(),
            delay,
            dispersion: 2f64.powi(reply.precision.into()) + LOCAL_PRECISION + PHI * delay.max(0.0),
        });
        r.unanswered = 0;
        r.last = Some(LastReply {
            leap: reply.leap,
            poll: reply.poll,
            precision: reply.precision,
            root_delay: reply.root_delay.as_secs_f64(),
            root_dispersion: reply.root_dispersion.as_secs_f64(),
            reference: reply.reference,
            transmit: reply.transmit,
            received,
        });
    }

    /// The offset and delay (seconds) of the lowest-delay sample of the last eight.
    pub fn best(&self, server: SocketAddr) -> Option<(f64, f64)> {
        self.servers
            .get(&server)?
            .stages
            .iter()
            .min_by(|a, b| a.delay.total_cmp(&b.delay))
            .map(|s| (s.offset, s.delay))
    }

    /// What is known of `server`.
    pub fn server(&self, server: SocketAddr) -> Option<&ServerRecord> {
        self.servers.get(&server)
    }

    /// Forgets servers no longer configured.
    pub fn retain(&mut self, keep: impl Fn(SocketAddr) -> bool) {
        self.servers.retain(|a, _| keep(*a));
        self.pending.retain(|p| keep(p.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lvs_ntp::server::{SystemState, respond};
    use lvs_ntp::wire::{LeapIndicator, Refid};

    #[test]
    fn measures_against_the_raw_clock() {
        let server: SocketAddr = "192.0.2.1:123".parse().unwrap();
        let sys = SystemState {
            synchronized: true,
            stratum: 1,
            leap: LeapIndicator::NoWarning,
            refid: Refid::from_bytes(*b"GPS\0"),
            ..SystemState::UNSYNCHRONIZED
        };
        let mut raw = RawSamples::default();
        let base = 1_750_000_000_000_000_000i128;
        for (k, delay_us) in [(0i128, 300i128), (1, 100), (2, 200)] {
            let request = NtpRepr::client_request(NtpTimestamp::from_bits(0x1234 + k as u64), 0);
            let mut buf = [0u8; 48];
            request.emit_into(&mut buf).unwrap();
            let t1 = base + k * 1_000_000_000;
            raw.sent(server, &buf, UnixNanos(t1));
            // Server 40 µs ahead, answering at the midpoint.
            let t = NtpTimestamp::from_unix_nanos(UnixNanos(t1 + delay_us * 500 + 40_000));
            let mut reply = [0u8; 48];
            let n = respond(&buf, t, t, &sys, &mut reply).unwrap();
            raw.received(server, &reply[..n], UnixNanos(t1 + delay_us * 1000));
        }
        let (offset, delay) = raw.best(server).unwrap();
        assert!((offset - 40e-6).abs() < 1e-9, "{offset}");
        assert!((delay - 100e-6).abs() < 1e-9, "{delay}");
        assert_eq!(raw.best("192.0.2.2:123".parse().unwrap()), None);
    }
}
