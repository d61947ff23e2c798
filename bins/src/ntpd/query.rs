//! `lvs-ntpd -q SERVER`: a one-shot query like `ntpdate -q`. Never touches the clock.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use core::time::Duration;
use std::io;
use std::net::UdpSocket;

use lvs_core::rng::Rng;
use lvs_ntp::NtpTimestamp;
use lvs_ntp::onwire::{check_reply, offset_delay};
use lvs_ntp::report::QuerySample;
use lvs_ntp::wire::{NtpMessage, NtpRepr};

use super::clock::wall_now;

/// Requests sent to each server.
pub const SAMPLES: usize = 4;

/// Queries `server` [`SAMPLES`] times (each waiting up to `timeout`) and returns the good
/// samples; failures and rejected replies are logged at debug level and skipped.
pub fn query(
    server: SocketAddr,
    timeout: Duration,
    rng: &mut impl Rng,
) -> io::Result<Vec<QuerySample>> {
    Ok(query_replies(server, timeout, rng)?
        .into_iter()
        .map(|(s, _)| s)
        .collect())
}

/// [`query`], keeping each good sample's reply header (stratum, root delay and dispersion,
/// refid: what an `ntptrace` walk follows).
pub fn query_replies(
    server: SocketAddr,
    timeout: Duration,
    rng: &mut impl Rng,
) -> io::Result<Vec<(QuerySample, NtpRepr)>> {
    let bind: IpAddr = if server.is_ipv6() {
        Ipv6Addr::UNSPECIFIED.into()
    } else {
        Ipv4Addr::UNSPECIFIED.into()
    };
    let sock = UdpSocket::bind(SocketAddr::new(bind, 0))?;
    sock.connect(server)?;
    sock.set_read_timeout(Some(timeout))?;
    let mut out = Vec::with_capacity(SAMPLES);
    let mut buf = [0u8; 1024];
    let mut last_transmit = None;
    for _ in 0..SAMPLES {
        let request = NtpRepr::client_request(NtpTimestamp::from_bits(rng.next_u64() | 1), 6);
        let mut packet = [0u8; 48];
        request
            .emit_into(&mut packet)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        let t1 = NtpTimestamp::from_unix_nanos(wall_now());
        sock.send(&packet)?;
        let n = match sock.recv(&mut buf) {
            Ok(n) => n,
            Err(e) => {
                tracing::debug!("{server}: {e}");
                continue;
            }
        };
        let t4 = NtpTimestamp::from_unix_nanos(wall_now());
        let Ok(msg) = NtpMessage::parse(&buf[..n]) else {
            tracing::debug!("{server}: malformed reply");
            continue;
        };
        let reply = msg.header;
        if let Err(e) = check_reply(&request, last_transmit, &reply) {
            tracing::debug!("{server}: reply rejected: {e}");
            continue;
        }
        last_transmit = Some(reply.transmit);
        let s = offset_delay(t1, reply.receive, reply.transmit, t4);
        out.push((
            QuerySample {
                server: server.ip(),
                stratum: reply.stratum,
                offset: s.offset.as_secs_f64(),
                delay: s.delay.as_secs_f64().max(0.0),
            },
            reply,
        ));
    }
    Ok(out)
}
