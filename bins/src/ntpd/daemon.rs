//! The `lvs-ntpd` event loop: the NTP server socket (restrict engine, then
//! [`lvs_ntp::server::respond`] fed by the client's system state), the client's ephemeral
//! sockets (T1 sampled just before each send and reported once it succeeded, T4 right after
//! each receive), the control
//! socket, and signals, in one single-threaded mio loop.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use core::time::Duration;
use std::io::{self, Read as _, Write as _};
use std::path::PathBuf;

use lvs_core::{Datagram, Instant, StateMachine};
use lvs_ntp::NtpTimestamp;
use lvs_ntp::client::{Client, ClientConfig, ConfigError, Event, ServerConfig, drift};
use lvs_ntp::mode6::MAX_PACKET;
use lvs_ntp::report::{PeerRow, SyncStatus, ntpstat, peer_table};
use lvs_ntp::restrict::{Flags, Restrictions, Verdict, kiss_reply};
use lvs_ntp::server::{ServerStats, SystemState, respond};
use mio::net::{UdpSocket, UnixListener, UnixStream};
use mio::{Events, Interest, Poll, Token};
use rand_chacha::ChaCha20Rng;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;
use std::path::Path;

use super::clock::{ClockMode, apply, describe, read_drift, wall_now, write_drift};
use super::config::Config;
use super::control::{self, Request};
use super::mode6::{Control6, View};
use super::raw::RawSamples;
use super::reload::{ReloadPlan, reload_plan, resolve_servers, restrictions};
use crate::io::Clock;

const SERVER: Token = Token(0);
const CLIENT4: Token = Token(1);
const CLIENT6: Token = Token(2);
const CONTROL: Token = Token(3);
const SIGNALS: Token = Token(4);
const FIRST_CONN: usize = 16;
/// Most control connections open at once.
const MAX_CONNS: usize = 16;
/// How often the drift file is considered for a rewrite.
const DRIFT_INTERVAL: Duration = Duration::from_secs(3600);

/// How the daemon runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// The configuration.
    pub config: Config,
    /// Address the server socket binds.
    pub listen: IpAddr,
    /// Its port (123; tests use their own).
    pub port: u16,
    /// Never touch the clock.
    pub monitor: bool,
    /// The control socket.
    pub control_socket: PathBuf,
}

struct Conn {
    stream: UnixStream,
    inbox: Vec<u8>,
    outbox: Vec<u8>,
}

/// The daemon's state outside the sockets.
struct State {
    client: Option<Client<ChaCha20Rng>>,
    /// The `t` column per association.
    kinds: Vec<char>,
    restrict: Restrictions,
    server_stats: ServerStats,
    local_stratum: Option<u8>,
    precision: i8,
    mode: ClockMode,
    drift_path: Option<PathBuf>,
    drift_written: Option<f64>,
    frequency: Option<f64>,
    failed: bool,
    raw: RawSamples,
    ctl6: Control6,
    /// The servers the client runs with (a reload compares against them).
    servers: Vec<ServerConfig>,
    /// What a client created by a reload (none was configured at start) starts with.
    client_cfg: ClientConfig,
}

/// Runs the daemon until SIGINT / SIGTERM. Returns an error only for set-up failures; a panic
/// offset in control mode ends the run with an error too (as ntpd exits).
pub fn run(opts: Options) -> io::Result<()> {
    let cfg = &opts.config;
    let clock = Clock::new();
    let mode = if opts.monitor {
        tracing::warn!("monitor mode (--monitor): clock changes are logged, never applied");
        ClockMode::Monitor
    } else if super::clock::has_cap_sys_time() {
        ClockMode::Control
    } else {
        tracing::warn!("monitor mode: no CAP_SYS_TIME, clock changes are logged, not applied");
        ClockMode::Monitor
    };
    for (line, kw) in &cfg.ignored {
        tracing::warn!("line {line}: '{kw}' is ignored");
    }
    let mut client_cfg = ClientConfig::default();
    if let Some(n) = cfg.min_sane {
        client_cfg.min_sane = n;
    }
    if let Some(n) = cfg.min_clock {
        client_cfg.min_clock = n;
    }
    if let Some(d) = cfg.max_distance {
        client_cfg.max_distance = d;
    }
    if let Some(p) = cfg.panic {
        client_cfg.discipline.panic_threshold = p;
    }
    if let Some(s) = cfg.step {
        client_cfg.discipline.step_threshold = s;
    }
    if let Some(s) = cfg.stepout {
        client_cfg.discipline.stepout = s;
    }
    if let Some(path) = &cfg.driftfile {
        match read_drift(path) {
            Ok(ppm) => client_cfg.discipline.initial_frequency_ppm = ppm,
            Err(e) => tracing::warn!("drift file {}: {e}; starting without it", path.display()),
        }
    }
    let (servers, kinds) = resolve_servers(cfg)?;
    let configured = servers.clone();
    let rng: ChaCha20Rng = rand::make_rng();
    let has_v6 = servers.iter().any(|s| s.addr.is_ipv6());
    let client = if servers.is_empty() {
        if cfg.local_stratum.is_none() {
            tracing::warn!("no servers and no local stratum: answering as unsynchronised");
        }
        None
    } else {
        Some(Client::new(client_cfg, servers, rng, clock.now()).map_err(io::Error::other)?)
    };
    let ctl6 = Control6::new(
        client
            .iter()
            .flat_map(|c| c.associations(clock.now()).map(|a| a.addr)),
        client_cfg.discipline.initial_frequency_ppm.is_some(),
    );
    let restrict = restrictions(cfg);
    let mut st = State {
        client,
        kinds,
        restrict,
        server_stats: ServerStats::default(),
        local_stratum: cfg.local_stratum,
        precision: client_cfg.precision,
        mode,
        drift_path: cfg.driftfile.clone(),
        drift_written: client_cfg.discipline.initial_frequency_ppm,
        frequency: None,
        failed: false,
        raw: RawSamples::default(),
        ctl6,
        servers: configured,
        client_cfg,
    };

    let mut poll = Poll::new()?;
    let mut server = UdpSocket::bind(SocketAddr::new(opts.listen, opts.port))?;
    poll.registry()
        .register(&mut server, SERVER, Interest::READABLE)?;
    let mut client4 = UdpSocket::bind(SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0))?;
    poll.registry()
        .register(&mut client4, CLIENT4, Interest::READABLE)?;
    let mut client6 = if has_v6 {
        Some(client6_socket(&poll)?)
    } else {
        None
    };
    if opts.control_socket.exists() {
        std::fs::remove_file(&opts.control_socket)?;
    }
    let mut listener = UnixListener::bind(&opts.control_socket)?;
    poll.registry()
        .register(&mut listener, CONTROL, Interest::READABLE)?;
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    poll.registry()
        .register(&mut signals, SIGNALS, Interest::READABLE)?;
    tracing::info!(
        "serving NTP on {}, control socket {}",
        server.local_addr()?,
        opts.control_socket.display()
    );

    let mut conns: Vec<Option<Conn>> = (0..MAX_CONNS).map(|_| None).collect();
    let mut events = Events::with_capacity(64);
    let mut buf = [0u8; 2048];
    let mut out = [0u8; 128];
    let mut next_drift = clock.now() + DRIFT_INTERVAL;
    let mut stop = false;
    while !stop && !st.failed {
        let now = clock.now();
        drain(&mut st, now, &client4, client6.as_ref());
        let deadline = st
            .client
            .as_ref()
            .and_then(StateMachine::poll_timeout)
            .map_or(next_drift, |(t, _)| t.min(next_drift));
        let timeout = clock.timeout_until(deadline);
        match poll.poll(&mut events, Some(timeout)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        for ev in &events {
            match ev.token() {
                SERVER => serve(&mut st, &clock, &server, &mut buf, &mut out),
                CLIENT4 => receive(&mut st, &clock, &client4, &client6, &mut buf),
                CLIENT6 => {
                    if let Some(s) = &client6 {
                        receive(&mut st, &clock, s, &client6, &mut buf);
                    }
                }
                CONTROL => accept(&poll, &listener, &mut conns),
                SIGNALS => {
                    for sig in signals.pending() {
                        if sig == SIGHUP {
                            reload(&mut st, opts.config.source.as_deref(), clock.now());
                            if client6.is_none() && st.servers.iter().any(|s| s.addr.is_ipv6()) {
                                match client6_socket(&poll) {
                                    Ok(s) => client6 = Some(s),
                                    Err(e) => tracing::error!("IPv6 client socket: {e}"),
                                }
                            }
                        } else {
                            tracing::info!("signal {sig}: stopping");
                            stop = true;
                        }
                    }
                }
                Token(t) if (FIRST_CONN..FIRST_CONN + MAX_CONNS).contains(&t) => {
                    let i = t - FIRST_CONN;
                    let done = conns[i]
                        .as_mut()
                        .is_none_or(|c| service_conn(&st, clock.now(), c));
                    if done && let Some(mut c) = conns[i].take() {
                        let _ = poll.registry().deregister(&mut c.stream);
                    }
                }
                Token(_) => {}
            }
        }
        let now = clock.now();
        if let Some(c) = st.client.as_mut()
            && c.poll_timeout().is_some_and(|(t, _)| t <= now)
        {
            c.handle_timeout(now);
        }
        if now >= next_drift {
            next_drift = now + DRIFT_INTERVAL;
            save_drift(&mut st, false);
        }
    }
    save_drift(&mut st, true);
    let _ = std::fs::remove_file(&opts.control_socket);
    if st.failed {
        return Err(io::Error::other(
            "panic threshold exceeded: set the clock by hand",
        ));
    }
    Ok(())
}

/// The socket requests to IPv6 servers leave from.
fn client6_socket(poll: &Poll) -> io::Result<UdpSocket> {
    let mut s = UdpSocket::bind(SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), 0))?;
    poll.registry()
        .register(&mut s, CLIENT6, Interest::READABLE)?;
    Ok(s)
}

/// SIGHUP: re-reads the configuration and applies it: restrict rules, the rate limit,
/// `local stratum`, and the server list (unchanged servers keep their associations, removed
/// ones are dropped, new ones are polled). A file that no longer parses, or a server list the
/// client refuses, leaves the running configuration alone.
fn reload(st: &mut State, path: Option<&Path>, now: Instant) {
    let Some(path) = path else {
        tracing::warn!("SIGHUP: no configuration file to re-read");
        return;
    };
    let plan = match reload_plan(path, &st.servers) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!("SIGHUP: {e}; keeping the running configuration");
            return;
        }
    };
    if let Err(e) = apply_servers(st, &plan, now) {
        tracing::error!("SIGHUP: {e}; keeping the running configuration");
        return;
    }
    st.restrict = plan.restrict;
    st.local_stratum = plan.local_stratum;
    let entries = st.restrict.entries().len();
    if plan.added.is_empty() && plan.removed.is_empty() {
        tracing::info!(
            "SIGHUP: configuration reloaded ({entries} restrict entries); all {} servers \
             unchanged",
            st.servers.len()
        );
    } else {
        tracing::info!(
            "SIGHUP: configuration reloaded ({entries} restrict entries); servers added {:?}, \
             removed {:?}, {} running",
            plan.added,
            plan.removed,
            st.servers.len()
        );
    }
}

/// Hands the new server list to the client (creating it if none ran), and brings the
/// mode-6 association IDs, the raw samples and the `t` column along.
fn apply_servers(st: &mut State, plan: &ReloadPlan, now: Instant) -> Result<(), ConfigError> {
    if plan.servers != st.servers {
        match st.client.as_mut() {
            Some(c) => {
                c.reconfigure(plan.servers.iter().copied(), now)?;
            }
            None if !plan.servers.is_empty() => {
                let rng: ChaCha20Rng = rand::make_rng();
                let c = Client::new(st.client_cfg, plan.servers.iter().copied(), rng, now)?;
                st.client = Some(c);
            }
            None => {}
        }
    }
    let removed = |a: &SocketAddr| plan.removed.contains(a);
    // A server whose options changed is a new association: it gets a new association ID.
    st.ctl6
        .set_servers(st.servers.iter().map(|s| s.addr).filter(|a| !removed(a)));
    st.ctl6.set_servers(plan.servers.iter().map(|s| s.addr));
    st.raw.retain(|a| !removed(&a));
    st.servers.clone_from(&plan.servers);
    st.kinds.clone_from(&plan.kinds);
    Ok(())
}

fn system_state(st: &State, now: Instant) -> SystemState {
    let mut sys = st.client.as_ref().map_or(
        SystemState {
            precision: st.precision,
            ..SystemState::UNSYNCHRONIZED
        },
        |c| c.system_state(now),
    );
    sys.local_stratum = st.local_stratum;
    sys
}

/// Answers every waiting request on the server socket.
fn serve(st: &mut State, clock: &Clock, sock: &UdpSocket, buf: &mut [u8], out: &mut [u8]) {
    loop {
        let (n, src) = match sock.recv_from(buf) {
            Ok(r) => r,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) => {
                tracing::debug!("server recv: {e}");
                return;
            }
        };
        let t2 = NtpTimestamp::from_unix_nanos(wall_now());
        let now = clock.now();
        let request = &buf[..n];
        if request.first().is_some_and(|b| b & 7 == 6) {
            control_query(st, now, sock, src, request);
            continue;
        }
        let written = match st.restrict.check(now, src, request) {
            Verdict::Serve => {
                let sys = system_state(st, now);
                let t3 = NtpTimestamp::from_unix_nanos(wall_now());
                let r = respond(request, t2, t3, &sys, out);
                st.server_stats.record(r);
                r.ok()
            }
            Verdict::Kiss(code) => kiss_reply(request, code, st.precision, out).ok(),
            Verdict::Drop(why) => {
                tracing::trace!("dropped request from {src}: {why:?}");
                None
            }
        };
        if let Some(len) = written
            && let Err(e) = sock.send_to(&out[..len], src)
        {
            tracing::debug!("server send to {src}: {e}");
        }
    }
}

/// Answers a mode-6 query (unless `restrict ... noquery` or `ignore` covers its source), one
/// datagram per fragment.
fn control_query(st: &mut State, now: Instant, sock: &UdpSocket, src: SocketAddr, request: &[u8]) {
    let flags = st.restrict.lookup(src.ip());
    if flags.contains(Flags::IGNORE) || flags.contains(Flags::NOQUERY) {
        st.ctl6.refused += 1;
        tracing::trace!("mode 6 query from {src} refused by restrict");
        return;
    }
    let served = system_state(st, now);
    let view = View {
        client: st.client.as_ref(),
        kinds: &st.kinds,
        raw: &st.raw,
        served,
        local_stratum: st.local_stratum,
        monitor: st.mode == ClockMode::Monitor,
        now,
        wall: wall_now(),
    };
    let Some(response) = st.ctl6.answer(request, &view) else {
        return;
    };
    let mut packet = [0u8; MAX_PACKET];
    for i in 0..response.fragments() {
        let Some(len) = response.write_fragment(i, &mut packet) else {
            break;
        };
        if let Err(e) = sock.send_to(&packet[..len], src) {
            tracing::debug!("mode 6 reply to {src}: {e}");
            break;
        }
    }
}

/// Feeds every waiting reply on a client socket to the client, T4 sampled right after receive.
fn receive(
    st: &mut State,
    clock: &Clock,
    sock: &UdpSocket,
    other: &Option<UdpSocket>,
    buf: &mut [u8],
) {
    let _ = other;
    let Ok(local) = sock.local_addr() else {
        return;
    };
    loop {
        let (n, src) = match sock.recv_from(buf) {
            Ok(r) => r,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) => {
                tracing::debug!("client recv: {e}");
                return;
            }
        };
        let t4 = wall_now();
        let now = clock.now();
        st.raw.received(src, &buf[..n], t4);
        if let Some(c) = st.client.as_mut() {
            c.handle_reply(now, t4, Datagram::new(src, local, buf[..n].to_vec()));
        }
    }
}

/// Drains the client: sends its requests (reporting T1 for each) and acts on its events.
fn drain(st: &mut State, now: Instant, v4: &UdpSocket, v6: Option<&UdpSocket>) {
    let State {
        client,
        raw,
        mode,
        frequency,
        failed,
        ctl6,
        ..
    } = st;
    let Some(c) = client.as_mut() else {
        return;
    };
    loop {
        let mut progressed = false;
        while let Some(t) = c.poll_transmit() {
            progressed = true;
            let sock = if t.dst.is_ipv6() { v6 } else { Some(v4) };
            let Some(sock) = sock else {
                continue;
            };
            // T1 is sampled just before the send: on loopback the server can run (and stamp
            // T2) before `send_to` returns, which would make a post-send T1 late.
            let t1 = wall_now();
            match sock.send_to(&t.payload, t.dst) {
                Ok(_) => {
                    c.note_sent(&t, t1);
                    raw.sent(t.dst, &t.payload, t1);
                }
                Err(e) => tracing::debug!("send to {}: {e}", t.dst),
            }
        }
        while let Some(ev) = c.poll_event() {
            progressed = true;
            ctl6.on_event(&ev);
            on_event(*mode, frequency, failed, &ev);
        }
        if !progressed {
            break;
        }
    }
    ctl6.observe(c, now);
}

fn on_event(mode: ClockMode, frequency: &mut Option<f64>, failed: &mut bool, ev: &Event) {
    match ev {
        Event::Slew { .. } | Event::Step { .. } | Event::SetFrequency { .. } | Event::Leap(_) => {
            if let Event::SetFrequency { ppm } = ev {
                *frequency = Some(*ppm);
            }
            match apply(mode, ev) {
                Ok(line) => tracing::info!("{line}"),
                Err(e) => tracing::error!("cannot {}: {e}", describe(ev)),
            }
        }
        Event::Panic { .. } => {
            if mode == ClockMode::Control {
                tracing::error!("{}; exiting", describe(ev));
                *failed = true;
            } else {
                tracing::error!("monitor mode, would {}", describe(ev));
            }
        }
        _ => tracing::info!("{}", describe(ev)),
    }
}

fn save_drift(st: &mut State, force: bool) {
    let (Some(path), Some(ppm)) = (&st.drift_path, st.frequency) else {
        return;
    };
    if st.mode == ClockMode::Monitor {
        tracing::debug!(
            "monitor mode, would write {ppm:.6} ppm to {}",
            path.display()
        );
        return;
    }
    if !force && !drift::should_rewrite(st.drift_written, ppm) {
        return;
    }
    match write_drift(path, ppm) {
        Ok(()) => st.drift_written = Some(ppm),
        Err(e) => tracing::warn!("drift file {}: {e}", path.display()),
    }
}

fn accept(poll: &Poll, listener: &UnixListener, conns: &mut [Option<Conn>]) {
    loop {
        let mut stream = match listener.accept() {
            Ok((s, _)) => s,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) => {
                tracing::debug!("control accept: {e}");
                return;
            }
        };
        let Some(i) = conns.iter().position(Option::is_none) else {
            tracing::debug!("control: too many connections, closing one");
            continue;
        };
        let token = Token(FIRST_CONN + i);
        if poll
            .registry()
            .register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)
            .is_ok()
        {
            conns[i] = Some(Conn {
                stream,
                inbox: Vec::new(),
                outbox: Vec::new(),
            });
        }
    }
}

/// Reads a request line, answers it; `true` when the connection is finished.
fn service_conn(st: &State, now: Instant, c: &mut Conn) -> bool {
    if c.outbox.is_empty() {
        let mut chunk = [0u8; 256];
        loop {
            match c.stream.read(&mut chunk) {
                Ok(0) => return true,
                Ok(n) => {
                    c.inbox.extend_from_slice(&chunk[..n]);
                    if c.inbox.len() > control::MAX_REQUEST {
                        return true;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => return true,
            }
        }
        let Some(end) = c.inbox.iter().position(|&b| b == b'\n') else {
            return false;
        };
        let reply = match control::parse_request(&c.inbox[..end]) {
            Some(Request::Peers) => control::encode(0, &peers_text(st, now)),
            Some(Request::Status) => {
                let (text, code) = ntpstat(&sync_status(st, now));
                control::encode(code, &text)
            }
            Some(Request::Stats) => control::encode(0, &stats_text(st)),
            None => control::encode(3, "unknown request\n"),
        };
        c.outbox = reply.into_bytes();
    }
    while !c.outbox.is_empty() {
        match c.stream.write(&c.outbox) {
            Ok(n) => {
                c.outbox.drain(..n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
            Err(_) => return true,
        }
    }
    true
}

fn peers_text(st: &State, now: Instant) -> String {
    let Some(c) = st.client.as_ref() else {
        return peer_table(&[]);
    };
    let rows: Vec<PeerRow> = c
        .associations(now)
        .enumerate()
        .map(|(i, a)| {
            let since = c.last_reply(i).map(|t| now.saturating_duration_since(t));
            let mut row = PeerRow::from_status(&a, since, st.kinds.get(i).copied().unwrap_or('u'));
            if st.mode == ClockMode::Monitor
                && let Some((offset, delay)) = st.raw.best(a.addr)
            {
                row.offset_ms = offset * 1e3;
                row.delay_ms = delay * 1e3;
            }
            row
        })
        .collect();
    peer_table(&rows)
}

fn sync_status(st: &State, now: Instant) -> SyncStatus {
    let sys = system_state(st, now);
    let local = !sys.synchronized && st.local_stratum.is_some();
    SyncStatus {
        synchronized: sys.synchronized || local,
        source: st
            .client
            .as_ref()
            .filter(|_| sys.synchronized)
            .and_then(Client::system_peer)
            .map(|a| a.ip()),
        stratum: if local {
            st.local_stratum.unwrap_or(16)
        } else {
            sys.stratum
        },
        root_delay: sys.root_delay.as_secs_f64(),
        root_dispersion: sys.root_dispersion.as_secs_f64(),
        poll: st.client.as_ref().map_or(6, |c| c.discipline().poll()),
    }
}

fn stats_text(st: &State) -> String {
    let r = st.restrict.stats();
    let s = st.server_stats;
    let mut text = format!(
        "served {} kisses {} ignored {} denied {} rate_limited {} malformed {} bad_mode {}\n",
        s.answered, r.kisses, r.ignored, r.denied, r.rate_limited, s.malformed, s.bad_mode
    );
    let q = st.ctl6.stats();
    text.push_str(&format!(
        "mode6 answered {} errors {} ignored {} refused {}\n",
        q.answered, q.errors, q.ignored, st.ctl6.refused
    ));
    if let Some(c) = &st.client {
        let cs = c.stats();
        text.push_str(&format!(
            "client unknown_source {} no_send_time {} popcorn {} ignored_updates {} \
             accepted {} kiss_rate {} kiss_denied {} unsynchronized {}\n",
            cs.unknown_source,
            cs.no_send_time,
            cs.popcorn,
            cs.ignored_updates,
            cs.rx.accepted,
            cs.rx.kiss_rate,
            cs.rx.kiss_denied,
            cs.rx.unsynchronized
        ));
    }
    text
}
