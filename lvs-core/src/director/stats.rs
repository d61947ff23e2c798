//! Statistics per service and real server (`ipvsadm -L --stats`) and the connection listing
//! (`ipvsadm -L -n -c`).

use core::net::IpAddr;
use core::time::Duration;

use super::{Director, RealId, RealState};
use crate::conntrack::{ConnFlags, TcpState};
use crate::service::ServiceId;
use crate::{Instant, proto};

/// Traffic counters, as `ipvsadm --stats` shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counters {
    /// Connections scheduled.
    pub conns: u64,
    /// Packets client → server.
    pub in_pkts: u64,
    /// Packets server → client (NAT only: other methods never see replies).
    pub out_pkts: u64,
    /// Bytes client → server (IP packet bytes).
    pub in_bytes: u64,
    /// Bytes server → client.
    pub out_bytes: u64,
}

impl Counters {
    pub(super) fn count_in(&mut self, bytes: usize) {
        self.in_pkts += 1;
        self.in_bytes += bytes as u64;
    }

    pub(super) fn count_out(&mut self, bytes: usize) {
        self.out_pkts += 1;
        self.out_bytes += bytes as u64;
    }
}

/// Rates as `ipvsadm -L --rate` shows them (per second, averaged as the kernel's estimator
/// does: sampled every 2 s, exponentially weighted with weight 1/4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rates {
    /// Connections per second.
    pub cps: u64,
    /// Packets per second in.
    pub in_pps: u64,
    /// Packets per second out.
    pub out_pps: u64,
    /// Bytes per second in.
    pub in_bps: u64,
    /// Bytes per second out.
    pub out_bps: u64,
}

/// The kernel's rate estimator (`ip_vs_est.c`), in its fixed-point scales: connection and
/// packet rates ×2^10 per second, byte rates ×2^5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Estimator {
    last: Counters,
    cps: i64,
    in_pps: i64,
    out_pps: i64,
    in_bps: i64,
    out_bps: i64,
}

/// How often the estimator samples.
pub const ESTIMATOR_PERIOD: Duration = Duration::from_secs(2);

impl Estimator {
    /// Take one 2-second sample of `now`'s counters.
    pub fn sample(&mut self, now: &Counters) {
        fn step(avg: &mut i64, delta: u64, shift: u32) {
            let rate = i64::try_from(delta)
                .unwrap_or(i64::MAX >> 10)
                .saturating_mul(1 << shift);
            *avg += (rate - *avg) >> 2;
        }
        step(&mut self.cps, now.conns.wrapping_sub(self.last.conns), 9);
        step(
            &mut self.in_pps,
            now.in_pkts.wrapping_sub(self.last.in_pkts),
            9,
        );
        step(
            &mut self.out_pps,
            now.out_pkts.wrapping_sub(self.last.out_pkts),
            9,
        );
        step(
            &mut self.in_bps,
            now.in_bytes.wrapping_sub(self.last.in_bytes),
            4,
        );
        step(
            &mut self.out_bps,
            now.out_bytes.wrapping_sub(self.last.out_bytes),
            4,
        );
        self.last = *now;
    }

    /// The current rates, rounded as the kernel reports them.
    pub fn rates(&self) -> Rates {
        let r = |v: i64, round: i64, shift: u32| u64::try_from((v + round) >> shift).unwrap_or(0);
        Rates {
            cps: r(self.cps, 0x1ff, 10),
            in_pps: r(self.in_pps, 0x1ff, 10),
            out_pps: r(self.out_pps, 0x1ff, 10),
            in_bps: r(self.in_bps, 0xf, 5),
            out_bps: r(self.out_bps, 0xf, 5),
        }
    }
}

/// A service's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceStats {
    /// The service.
    pub id: ServiceId,
    /// Its counters.
    pub counters: Counters,
    /// Its rates.
    pub rates: Rates,
}

/// A real server's counters and connection counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RealStats {
    /// The real server.
    pub id: RealId,
    /// Its counters.
    pub counters: Counters,
    /// Its rates.
    pub rates: Rates,
    /// Active connections (`ActiveConn`).
    pub active: u32,
    /// Inactive connections (`InActConn`).
    pub inactive: u32,
    /// Persistence templates pointing at it.
    pub persistent: u32,
    /// Life-cycle state.
    pub state: RealState,
}

/// One row of `ipvsadm -L -n -c`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnListing {
    /// `TCP`, `UDP`, `SCTP` or `IP` (templates of fwmark services).
    pub protocol: &'static str,
    /// Time until expiry.
    pub expires_in: Duration,
    /// State name (`ESTABLISHED`, `UDP`, `NONE` for templates ...).
    pub state: &'static str,
    /// Client address and port.
    pub source: (IpAddr, u16),
    /// Virtual address and port (`None` for fwmark templates).
    pub virtual_: Option<(IpAddr, u16)>,
    /// Real server address and port.
    pub destination: (IpAddr, u16),
    /// Whether this row is a persistence template.
    pub template: bool,
}

impl ConnListing {
    /// The row as `ipvsadm -L -n -c` prints it (`%-3s %-6s %-11s %-18s %-18s %s`), e.g.
    /// `TCP 14:58  ESTABLISHED 192.0.2.7:40000    198.51.100.1:80    10.0.0.2:8080`.
    pub fn ipvsadm_row(&self) -> String {
        let secs = self.expires_in.as_secs();
        let fmt = |(a, p): (IpAddr, u16)| match a {
            IpAddr::V4(_) => format!("{a}:{p}"),
            IpAddr::V6(_) => format!("[{a}]:{p}"),
        };
        let v = self.virtual_.map_or_else(|| "0.0.0.0:0".to_string(), fmt);
        let expire = format!("{:02}:{:02}", secs / 60, secs % 60);
        // ipvsadm.c's connection row: "%-3s %-6s %-11s %-18s %-18s %s".
        format!(
            "{:<3} {:<6} {:<11} {:<18} {:<18} {}",
            self.protocol,
            expire,
            self.state,
            fmt(self.source),
            v,
            fmt(self.destination)
        )
    }
}

impl Director {
    /// Sample every estimator (every [`ESTIMATOR_PERIOD`]).
    pub(super) fn estimate(&mut self) {
        for s in self.slots.iter_mut().flatten() {
            s.est.sample(&s.stats);
        }
        for r in self.reals.iter_mut().flatten() {
            r.est.sample(&r.stats);
        }
    }

    /// Counters of a service.
    pub fn service_stats(&self, id: ServiceId) -> Option<ServiceStats> {
        self.slot(id).ok().map(|s| ServiceStats {
            id,
            counters: s.stats,
            rates: s.est.rates(),
        })
    }

    /// Counters of a real server.
    pub fn real_stats(&self, id: RealId) -> Option<RealStats> {
        self.real_slot(id).ok().map(|r| RealStats {
            id,
            counters: r.stats,
            rates: r.est.rates(),
            active: r.active,
            inactive: r.inactive,
            persistent: r.persistent,
            state: r.state,
        })
    }

    /// Every connection and template, as `ipvsadm -L -n -c` lists them.
    pub fn connections(&self, now: Instant) -> Vec<ConnListing> {
        self.conns
            .iter()
            .filter_map(|(_, c)| {
                let real = self.real_slot(RealId(c.dest)).ok()?;
                let template = c.flags.has(ConnFlags::TEMPLATE);
                let protocol = match c.protocol {
                    proto::TCP => "TCP",
                    proto::UDP => "UDP",
                    proto::SCTP => "SCTP",
                    _ => "IP",
                };
                let state = if template {
                    "NONE"
                } else {
                    match c.protocol {
                        proto::TCP => TcpState::ALL
                            .get(usize::from(c.state))
                            .map_or("NONE", |s| s.name()),
                        proto::UDP => "UDP",
                        _ => "ESTABLISHED",
                    }
                };
                let virtual_ = self.vips.get(usize::from(c.vip)).map(|&a| (a, c.vport));
                Some(ConnListing {
                    protocol,
                    expires_in: c.expires().saturating_duration_since(now),
                    state,
                    source: (c.caddr(), c.cport),
                    virtual_,
                    destination: (
                        real.config.addr,
                        if template { 0 } else { real.config.port },
                    ),
                    template,
                })
            })
            .collect()
    }
}
