//! The offsets monitor mode shows: θ and δ of each exchange measured against the unmodified
//! clock, independent of the client's model (which assumes its requested corrections were
//! made, and so reports a residual that monitor mode never achieved).

use core::net::SocketAddr;
use std::collections::{BTreeMap, VecDeque};

use lvs_ntp::onwire::{check_reply, offset_delay};
use lvs_ntp::wire::{NtpMessage, NtpPacket, NtpRepr};
use lvs_ntp::{NtpTimestamp, UnixNanos};

/// Requests remembered while their replies are awaited.
const MAX_PENDING: usize = 256;
/// Samples kept per server (as the clock filter does).
const STAGES: usize = 8;

/// Raw exchanges per server.
#[derive(Debug, Default)]
pub struct RawSamples {
    pending: VecDeque<(SocketAddr, NtpTimestamp, NtpTimestamp)>,
    samples: BTreeMap<SocketAddr, VecDeque<(f64, f64)>>,
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
        let s = offset_delay(
            t1,
            reply.receive,
            reply.transmit,
            NtpTimestamp::from_unix_nanos(t4),
        );
        let q = self.samples.entry(src).or_default();
        if q.len() == STAGES {
            q.pop_front();
        }
        q.push_back((s.offset.as_secs_f64(), s.delay.as_secs_f64()));
    }

    /// The offset and delay (seconds) of the lowest-delay sample of the last eight.
    pub fn best(&self, server: SocketAddr) -> Option<(f64, f64)> {
        self.samples
            .get(&server)?
            .iter()
            .copied()
            .min_by(|a, b| a.1.total_cmp(&b.1))
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
