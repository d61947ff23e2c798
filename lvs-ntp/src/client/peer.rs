//! One association per configured server: the poll process (RFC 5905 §13), the reach register,
//! bursts, unreachability back-off and kiss-o'-death handling.

use core::net::SocketAddr;
use core::time::Duration;

use lvs_core::Instant;
use lvs_core::rng::{Rng, uniform_below};

use super::filter::{ClockFilter, MAXDISP, PHI};
use super::{ServerConfig, Tally};
use crate::onwire::RxStats;
use crate::time::NtpTimestamp;
use crate::wire::{KissCode, LeapIndicator, NtpRepr, Refid};

/// Packets per burst (BCOUNT).
pub(crate) const BCOUNT: u8 = 8;
/// Spacing of burst packets.
pub(crate) const BURST_INTERVAL: Duration = Duration::from_secs(2);
/// Unanswered polls before the poll interval starts backing off (ntpsec: 10).
pub(crate) const UNREACH: u32 = 10;
/// The largest poll exponent a RATE kiss can push the minimum to.
const RATE_POLL_CAP: i8 = 10;

/// The request we are waiting for an answer to.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Outstanding {
    pub(crate) request: NtpRepr,
    /// When the request was queued (monotonic).
    pub(crate) queued: Instant,
    /// T1: the wall time the shell reported for the send, if it did.
    pub(crate) t1: Option<NtpTimestamp>,
}

/// What a poll timer firing produced.
pub(crate) struct PollOutcome {
    pub(crate) request: NtpRepr,
    /// The reach register just dropped to zero.
    pub(crate) became_unreachable: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct Association {
    pub(crate) config: ServerConfig,
    /// The minimum poll exponent, raised by RATE kisses.
    pub(crate) minpoll: i8,
    pub(crate) hpoll: i8,
    pub(crate) reach: u8,
    pub(crate) unreach: u32,
    /// Burst packets still to send after the current one.
    pub(crate) burst: u8,
    /// `None` once demobilised.
    pub(crate) next_poll: Option<Instant>,
    pub(crate) outstanding: Option<Outstanding>,
    /// Transmit timestamp of the last reply accepted (duplicate detection).
    pub(crate) last_transmit: Option<NtpTimestamp>,
    pub(crate) filter: ClockFilter,
    pub(crate) leap: LeapIndicator,
    pub(crate) stratum: u8,
    pub(crate) refid: Refid,
    pub(crate) root_delay: f64,
    pub(crate) root_dispersion: f64,
    pub(crate) precision: f64,
    pub(crate) tally: Tally,
    pub(crate) kiss: Option<KissCode>,
    pub(crate) last_reply: Option<Instant>,
    pub(crate) rx: RxStats,
}

impl Association {
    pub(crate) fn new(config: ServerConfig, first_poll: Instant) -> Self {
        Self {
            config,
            minpoll: config.minpoll,
            hpoll: config.minpoll,
            reach: 0,
            unreach: 0,
            burst: 0,
            next_poll: Some(first_poll),
            outstanding: None,
            last_transmit: None,
            filter: ClockFilter::new(),
            leap: LeapIndicator::Unsynchronized,
            stratum: 16,
            refid: Refid::ZERO,
            root_delay: 0.0,
            root_dispersion: 0.0,
            precision: 0.0,
            tally: Tally::Reject,
            kiss: None,
            last_reply: None,
            rx: RxStats::default(),
        }
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.config.addr
    }

    pub(crate) fn is_active(&self) -> bool {
        self.next_poll.is_some()
    }

    pub(crate) fn poll_interval(&self) -> Duration {
        Duration::from_secs(1u64 << self.hpoll.clamp(0, 17))
    }

    /// Fires the poll timer: shifts the reach register (outside bursts), arms bursts, backs off
    /// when unreachable, picks a fresh nonce and schedules the next poll.
    pub(crate) fn on_poll<R: Rng + ?Sized>(
        &mut self,
        now: Instant,
        system_poll: i8,
        rng: &mut R,
    ) -> PollOutcome {
        let mut became_unreachable = false;
        if self.burst > 0 {
            self.burst -= 1;
        } else {
            let was_reachable = self.reach != 0;
            self.reach <<= 1;
            if self.reach & 0x7 == 0 && self.filter.valid_stages() > 0 {
                self.filter.push_dummy();
            }
            if self.reach == 0 {
                became_unreachable = was_reachable;
                if self.config.iburst && self.unreach == 0 {
                    self.burst = BCOUNT - 1;
                }
                if self.unreach < UNREACH {
                    self.unreach += 1;
                } else {
                    self.hpoll = (self.hpoll + 1).min(self.config.maxpoll);
                }
            } else {
                self.unreach = 0;
                self.hpoll = system_poll.clamp(self.minpoll, self.config.maxpoll);
                if self.config.burst {
                    self.burst = BCOUNT - 1;
                }
            }
        }
        let nonce = match rng.next_u64() {
            0 => 1,
            n => n,
        };
        let request = NtpRepr::client_request(NtpTimestamp::from_bits(nonce), self.hpoll);
        self.outstanding = Some(Outstanding {
            request,
            queued: now,
            t1: None,
        });
        let next = if self.burst > 0 {
            BURST_INTERVAL
        } else {
            // Up to 1/16 (6.25 %) of random extra, as ntpsec does, so clients spread out.
            let base = self.poll_interval();
            let extra_max = u64::try_from(base.as_nanos() / 16).unwrap_or(u64::MAX);
            base + Duration::from_nanos(uniform_below(rng, extra_max.max(1)))
        };
        self.next_poll = Some(now + next);
        PollOutcome {
            request,
            became_unreachable,
        }
    }

    /// A RATE kiss: no more bursts, and the minimum poll rises to at least the server's poll
    /// (and one step above the current minimum), capped at 2^10 s.
    pub(crate) fn on_rate_kiss(&mut self, now: Instant, server_poll: i8) {
        self.burst = 0;
        let raised = (self.minpoll + 1)
            .max(server_poll)
            .min(RATE_POLL_CAP.max(self.config.minpoll))
            .min(self.config.maxpoll);
        self.minpoll = self.minpoll.max(raised);
        self.hpoll = self.hpoll.max(self.minpoll);
        self.next_poll = Some(now + self.poll_interval());
    }

    /// DENY or RSTR: stop polling for good.
    pub(crate) fn demobilise(&mut self, code: KissCode) {
        self.kiss = Some(code);
        self.next_poll = None;
        self.outstanding = None;
        self.burst = 0;
        self.reach = 0;
        self.tally = Tally::Reject;
    }

    /// Λ: the root distance of this association at `now`, or `None` without a sample.
    pub(crate) fn root_distance(&self, now: Instant) -> Option<f64> {
        // The peer dispersion is aged by PHI since the filter update (the RFC's PHI·(now − t)).
        let out = self.filter.output()?;
        Some(
            (self.root_delay + out.delay).max(super::MINDISP) / 2.0
                + self.root_dispersion
                + out.dispersion_at(now)
                + out.jitter,
        )
    }

    /// Whether the association may be offered to the selection algorithm (RFC 5905 §11.2
    /// fit()): reachable, synchronised, stratum below 16, root distance within bounds.
    pub(crate) fn fit(&self, now: Instant, max_distance: f64) -> Option<f64> {
        if !self.is_active()
            || self.reach == 0
            || self.stratum == 0
            || self.stratum >= 16
            || self.leap == LeapIndicator::Unsynchronized
        {
            return None;
        }
        let distance = self.root_distance(now)?;
        let limit = max_distance + PHI * self.poll_interval().as_secs_f64();
        (distance < limit && distance < MAXDISP).then_some(distance)
    }
}
