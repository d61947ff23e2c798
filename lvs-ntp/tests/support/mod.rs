//! A clock-model harness for client simulations, driven directly in a test loop.
//!
//! * True time `t` (seconds from the start) drives everything. The client's monotonic
//!   `Instant` is true time.
//! * The client's local wall clock is `t + offset`, where `offset` moves with the oscillator's
//!   frequency error (plus an optional random-walk wander), the frequency correction the client
//!   set, and the slew in progress, applied like Linux `adjtime`: at most 500 ppm, a new slew
//!   replacing what is left of the previous one. A step adds to `offset` and cancels the slew.
//! * Each server answers from `t + its own offset` through [`lvs_ntp::server::respond`], 20 µs
//!   after the request arrives. Every network leg takes half the base delay plus an exponential
//!   jitter with the configured mean.
//! * Every second the harness samples the client's true offset.
//!
//! The wall clock starts at a configurable Unix time, so a run can straddle the 2036 era
//! rollover.
#![allow(dead_code)]

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::SocketAddr;

use lvs_core::rng::{Rng, SeedableRng, derive_seed};
use lvs_core::sim::ChaCha8Rng;
use lvs_core::{Datagram, Instant, StateMachine};
use lvs_ntp::client::{Client, ClientConfig, Event, Reconfigured, ServerConfig};
use lvs_ntp::server::{SystemState, respond};
use lvs_ntp::wire::{KissCode, LeapIndicator, Mode, NtpMessage, NtpRepr, Refid};
use lvs_ntp::{NtpShort, NtpTimestamp, UnixNanos};

/// 2025-06-15T00:00:00Z.
pub(crate) const UNIX_2025: i64 = 1_749_945_600;
/// The first second of NTP era 1 (2036-02-07T06:28:16Z) in Unix seconds.
pub(crate) const ERA1_UNIX: i64 = (1 << 32) - 2_208_988_800;

/// One simulated server.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ServerSpec {
    /// Its clock's offset from true time, seconds (a falseticker has a large one).
    pub(crate) offset: f64,
    /// Base round-trip delay, seconds.
    pub(crate) base_delay: f64,
    /// Mean of the exponential extra delay of each leg, seconds.
    pub(crate) jitter: f64,
    /// The client's configuration for it.
    pub(crate) config: ServerConfig,
    /// Answer every request with this kiss code instead of the time.
    pub(crate) kiss: Option<KissCode>,
    /// The leap indicator it announces.
    pub(crate) leap: LeapIndicator,
}

impl ServerSpec {
    /// A stratum-1 server at 10.0.0.(index+1):123 with 100 µs base delay and `jitter`.
    pub(crate) fn new(index: u8, offset: f64, jitter: f64) -> Self {
        let addr: SocketAddr = SocketAddr::from(([10, 0, 0, index + 1], 123));
        Self {
            offset,
            base_delay: 100e-6,
            jitter,
            config: ServerConfig::new(addr),
            kiss: None,
            leap: LeapIndicator::NoWarning,
        }
    }
}

/// A whole run.
#[derive(Clone, Debug)]
pub(crate) struct Scenario {
    pub(crate) seed: u64,
    pub(crate) servers: Vec<ServerSpec>,
    pub(crate) config: ClientConfig,
    /// Initial offset of the client's clock from true time, seconds.
    pub(crate) clock_offset: f64,
    /// Frequency error of the client's oscillator, ppm (positive runs fast).
    pub(crate) clock_freq_ppm: f64,
    /// Random-walk wander of the frequency, (s/s)/√s.
    pub(crate) wander: f64,
    /// Unix seconds of true time 0.
    pub(crate) start_unix: i64,
    /// Length of the run, seconds.
    pub(crate) duration: f64,
    /// Delay this (server, reply number) reply by this much extra (a popcorn spike).
    pub(crate) spike: Option<(usize, u64, f64)>,
}

impl Scenario {
    /// One server with 100 µs jitter; client 0.1 s ahead and 100 ppm fast.
    pub(crate) fn single(seed: u64) -> Self {
        Self {
            seed,
            servers: vec![ServerSpec::new(0, 0.0, 100e-6)],
            config: ClientConfig::default(),
            clock_offset: 0.1,
            clock_freq_ppm: 100.0,
            wander: 0.0,
            start_unix: UNIX_2025,
            duration: 3600.0,
            spike: None,
        }
    }
}

/// The client's clock.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ClockModel {
    pub(crate) offset: f64,
    pub(crate) freq_err: f64,
    pub(crate) freq_corr: f64,
    pub(crate) pending: f64,
    t: f64,
}

const SLEW_RATE: f64 = 500e-6;

impl ClockModel {
    fn advance(&mut self, t: f64, wander: f64, rng: &mut ChaCha8Rng) {
        let dt = t - self.t;
        if dt <= 0.0 {
            return;
        }
        let slewed = (SLEW_RATE * dt)
            .min(self.pending.abs())
            .copysign(self.pending);
        self.offset += (self.freq_err + self.freq_corr) * dt + slewed;
        self.pending -= slewed;
        if wander > 0.0 {
            self.freq_err += wander * dt.sqrt() * gaussian(rng);
        }
        self.t = t;
    }
}

/// What happened in a run.
#[derive(Debug, Default)]
pub(crate) struct Trace {
    /// (true time, client offset) every second.
    pub(crate) samples: Vec<(f64, f64)>,
    /// (true time, step) for every step.
    pub(crate) steps: Vec<(f64, f64)>,
    /// (true time, slew) for every slew.
    pub(crate) slews: Vec<(f64, f64)>,
    /// (true time, ppm) for every frequency setting.
    pub(crate) frequencies: Vec<(f64, f64)>,
    pub(crate) panics: u32,
    /// Every other event, with its time.
    pub(crate) other: Vec<(f64, Event)>,
    /// Requests sent per server.
    pub(crate) requests: Vec<u64>,
    /// True time of each request, per server.
    pub(crate) request_times: Vec<Vec<f64>>,
}

impl Trace {
    /// The first time after which every sample stays within `bound`; `None` if the last
    /// sample is outside.
    pub(crate) fn sync_time(&self, bound: f64) -> Option<f64> {
        let last_bad = self.samples.iter().rposition(|s| s.1.abs() >= bound);
        match last_bad {
            None => self.samples.first().map(|s| s.0),
            Some(i) if i + 1 < self.samples.len() => Some(self.samples[i + 1].0),
            Some(_) => None,
        }
    }

    /// RMS and maximum |offset| of the samples from `from` on.
    pub(crate) fn rms_max_after(&self, from: f64) -> (f64, f64) {
        let tail: Vec<f64> = self
            .samples
            .iter()
            .filter(|s| s.0 >= from)
            .map(|s| s.1)
            .collect();
        let rms = (tail.iter().map(|o| o * o).sum::<f64>() / tail.len().max(1) as f64).sqrt();
        let max = tail.iter().fold(0.0f64, |m, o| m.max(o.abs()));
        (rms, max)
    }
}

enum Flight {
    ToServer { server: usize, payload: Vec<u8> },
    ToClient { server: usize, payload: Vec<u8> },
}

/// A running simulation.
pub(crate) struct World {
    pub(crate) client: Client<ChaCha8Rng>,
    pub(crate) clock: ClockModel,
    pub(crate) trace: Trace,
    scenario: Scenario,
    rng: ChaCha8Rng,
    flights: BinaryHeap<Reverse<(u64, u64)>>,
    payloads: std::collections::BTreeMap<u64, Flight>,
    seq: u64,
    now_ns: u64,
    next_sample_ns: u64,
    replies: Vec<u64>,
}

fn exp(rng: &mut ChaCha8Rng, mean: f64) -> f64 {
    let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    -mean * (1.0 - u).ln()
}

fn gaussian(rng: &mut ChaCha8Rng) -> f64 {
    let u1 = ((rng.next_u64() >> 11) as f64 + 1.0) / ((1u64 << 53) as f64 + 1.0);
    let u2 = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

fn ns(secs: f64) -> u64 {
    (secs * 1e9).round().max(0.0) as u64
}

impl World {
    /// Builds the client and the world.
    pub(crate) fn new(scenario: Scenario) -> Self {
        let client_rng = ChaCha8Rng::seed_from_u64(derive_seed(scenario.seed, 1));
        let client = Client::new(
            scenario.config,
            scenario.servers.iter().map(|s| s.config),
            client_rng,
            Instant::ZERO,
        )
        .expect("valid scenario configuration");
        let n = scenario.servers.len();
        let mut w = Self {
            client,
            clock: ClockModel {
                offset: scenario.clock_offset,
                freq_err: scenario.clock_freq_ppm * 1e-6,
                freq_corr: 0.0,
                pending: 0.0,
                t: 0.0,
            },
            trace: Trace {
                requests: vec![0; n],
                request_times: vec![Vec::new(); n],
                ..Trace::default()
            },
            rng: ChaCha8Rng::seed_from_u64(derive_seed(scenario.seed, 2)),
            scenario,
            flights: BinaryHeap::new(),
            payloads: std::collections::BTreeMap::new(),
            seq: 0,
            now_ns: 0,
            next_sample_ns: 0,
            replies: vec![0; n],
        };
        w.drain();
        w
    }

    fn t(&self) -> f64 {
        self.now_ns as f64 / 1e9
    }

    /// The client's wall clock now.
    pub(crate) fn local_wall(&self) -> UnixNanos {
        let local = self.t() + self.clock.offset;
        UnixNanos(
            i128::from(self.scenario.start_unix) * 1_000_000_000 + (local * 1e9).round() as i128,
        )
    }

    fn server_wall(&self, server: usize, t: f64) -> NtpTimestamp {
        let local = t + self.scenario.servers[server].offset;
        NtpTimestamp::from_unix_nanos(UnixNanos(
            i128::from(self.scenario.start_unix) * 1_000_000_000 + (local * 1e9).round() as i128,
        ))
    }

    fn leg(&mut self, server: usize) -> f64 {
        let s = self.scenario.servers[server];
        s.base_delay / 2.0 + exp(&mut self.rng, s.jitter)
    }

    fn send(&mut self, at: f64, flight: Flight) {
        self.seq += 1;
        self.flights.push(Reverse((ns(at), self.seq)));
        self.payloads.insert(self.seq, flight);
    }

    fn drain(&mut self) {
        while let Some(t) = self.client.poll_transmit() {
            let wall = self.local_wall();
            assert!(self.client.note_sent(&t, wall), "send report must match");
            let server = self
                .scenario
                .servers
                .iter()
                .position(|s| s.config.addr == t.dst)
                .expect("request to a configured server");
            let now = self.t();
            self.trace.requests[server] += 1;
            self.trace.request_times[server].push(now);
            let at = self.t() + self.leg(server);
            self.send(
                at,
                Flight::ToServer {
                    server,
                    payload: t.payload.to_vec(),
                },
            );
        }
        let t = self.t();
        while let Some(e) = self.client.poll_event() {
            match e {
                Event::Slew { offset } => {
                    self.clock.pending = offset.as_secs_f64();
                    self.trace.slews.push((t, offset.as_secs_f64()));
                }
                Event::Step { offset } => {
                    self.clock.offset += offset.as_secs_f64();
                    self.clock.pending = 0.0;
                    self.trace.steps.push((t, offset.as_secs_f64()));
                }
                Event::SetFrequency { ppm } => {
                    self.clock.freq_corr = ppm * 1e-6;
                    self.trace.frequencies.push((t, ppm));
                }
                Event::Panic { .. } => self.trace.panics += 1,
                other => self.trace.other.push((t, other)),
            }
        }
    }

    fn answer(&mut self, server: usize, request: &[u8]) {
        let spec = self.scenario.servers[server];
        let t_rx = self.t();
        let t_tx = t_rx + 20e-6;
        let mut out = [0u8; 64];
        let len = if let Some(code) = spec.kiss {
            let req = NtpMessage::parse(request).expect("client requests parse");
            let kod = NtpRepr {
                leap: LeapIndicator::Unsynchronized,
                version: 4,
                mode: Mode::Server,
                stratum: 0,
                poll: 10,
                precision: -20,
                root_delay: NtpShort::ZERO,
                root_dispersion: NtpShort::ZERO,
                refid: Refid::from_bytes(code.to_bytes()),
                reference: NtpTimestamp::ZERO,
                origin: req.header.transmit,
                receive: NtpTimestamp::ZERO,
                transmit: NtpTimestamp::ZERO,
            };
            kod.emit_into(&mut out).expect("room for a header")
        } else {
            let sys = SystemState {
                synchronized: true,
                leap: spec.leap,
                stratum: 1,
                precision: -20,
                root_delay: NtpShort::ZERO,
                root_dispersion: NtpShort::from_nanos(10_000),
                refid: Refid::from_bytes(*b"GPS\0"),
                reference: self.server_wall(server, t_rx - 10.0),
                local_stratum: None,
            };
            let t2 = self.server_wall(server, t_rx);
            let t3 = self.server_wall(server, t_tx);
            respond(request, t2, t3, &sys, &mut out).expect("server answers")
        };
        self.replies[server] += 1;
        let mut at = t_tx + self.leg(server);
        if let Some((s, n, extra)) = self.scenario.spike
            && s == server
            && n == self.replies[server]
        {
            at += extra;
        }
        self.send(
            at,
            Flight::ToClient {
                server,
                payload: out[..len].to_vec(),
            },
        );
    }

    /// Gives the client the servers `active` (indices into the scenario's servers) at the
    /// current time; the others stay in the world but are no longer polled.
    pub(crate) fn reconfigure(&mut self, active: &[usize]) -> Reconfigured {
        let servers: Vec<ServerConfig> = active
            .iter()
            .map(|&i| self.scenario.servers[i].config)
            .collect();
        let now = Instant::from_nanos(self.now_ns);
        let r = self
            .client
            .reconfigure(servers, now)
            .expect("valid server list");
        self.drain();
        r
    }

    /// The scenario index of the server at `addr`.
    pub(crate) fn server_index(&self, addr: SocketAddr) -> Option<usize> {
        self.scenario
            .servers
            .iter()
            .position(|s| s.config.addr == addr)
    }

    /// Runs until the scenario's duration.
    pub(crate) fn run(&mut self) {
        let end = ns(self.scenario.duration);
        self.run_until_ns(end);
    }

    /// Runs until `secs` of true time.
    pub(crate) fn run_until(&mut self, secs: f64) {
        self.run_until_ns(ns(secs));
    }

    fn run_until_ns(&mut self, end: u64) {
        loop {
            let timer = self.client.poll_timeout().map(|(at, _)| at.as_nanos());
            let flight = self.flights.peek().map(|Reverse((at, _))| *at);
            let next = [timer, flight, Some(self.next_sample_ns)]
                .into_iter()
                .flatten()
                .min()
                .expect("the sampler always has a deadline");
            if next > end {
                break;
            }
            self.now_ns = next.max(self.now_ns);
            let t = self.t();
            self.clock.advance(t, self.scenario.wander, &mut self.rng);
            if flight == Some(next) {
                let Reverse((_, seq)) = self.flights.pop().expect("peeked");
                match self.payloads.remove(&seq).expect("payload") {
                    Flight::ToServer { server, payload } => self.answer(server, &payload),
                    Flight::ToClient { server, payload } => {
                        let src = self.scenario.servers[server].config.addr;
                        let dst: SocketAddr = "10.0.0.100:40000".parse().expect("addr");
                        let wall = self.local_wall();
                        let now = Instant::from_nanos(self.now_ns);
                        self.client
                            .handle_reply(now, wall, Datagram::new(src, dst, payload));
                        self.drain();
                    }
                }
            } else if timer == Some(next) {
                self.client.handle_timeout(Instant::from_nanos(self.now_ns));
                self.drain();
            } else {
                self.trace.samples.push((t, self.clock.offset));
                self.next_sample_ns += 1_000_000_000;
            }
        }
        self.now_ns = end;
        let t = self.t();
        self.clock.advance(t, self.scenario.wander, &mut self.rng);
    }
}

/// Runs `scenario` to its end.
pub(crate) fn run(scenario: Scenario) -> World {
    let mut w = World::new(scenario);
    w.run();
    w
}

/// Mean and standard deviation.
pub(crate) fn mean_sd(xs: &[f64]) -> (f64, f64) {
    let n = xs.len().max(1) as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}
