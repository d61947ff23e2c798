//! Running the health probes the checker asks for, non-blockingly, in the daemon's own loop:
//! a non-blocking connect, an optional request, a bounded read, and a pure judge from
//! [`lvs_core::health::judge`]; or an external program (Piranha `send_program`, keepalived
//! `MISC_CHECK`) run as a child process whose standard output is read through a non-blocking
//! pipe.
//!
//! A program probe's child runs in its own process group. When the probe is dropped before
//! the child has been reaped (its deadline passed, or a reload dropped it) the whole group is
//! killed with `SIGKILL` and the child is reaped at once, so no probe leaves a zombie.

use std::io::{self, Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

use lvs_core::Instant;
use lvs_core::health::judge::{self, MEMCACHED_VERSION};
use lvs_core::health::{FailReason, HttpCheck, ProbeResult, ProbeSpec, ProgramCheck, ProgramJudge};
use mio::event::Source;
use mio::net::{TcpStream, UdpSocket};
use mio::unix::pipe::Receiver;
use mio::{Interest, Registry, Token};

use super::table::ProbeRequest;

/// The most response bytes a probe reads (HTTP bodies beyond are not needed for status and
/// are cut; a digest check over a longer body fails).
pub const MAX_RESPONSE: usize = 64 * 1024;

/// The most bytes of a program's standard output that are kept (only the first line is
/// judged); anything beyond is read and discarded so the program never blocks on a full pipe.
pub const MAX_PROGRAM_OUTPUT: usize = 4096;

#[derive(Debug, Clone)]
enum Goal {
    /// Pass on connect.
    Connect,
    /// Read `len` bytes (or to EOF) and match.
    Expect { expect: Vec<u8>, len: usize },
    /// Pass once the request is written.
    Written,
    /// Read to EOF and judge as HTTP.
    Http(HttpCheck),
    /// Read one line and judge as memcached.
    Memcached,
}

/// A TCP probe's socket and progress.
#[derive(Debug)]
struct TcpProbe {
    sock: TcpStream,
    connected: bool,
    request: Vec<u8>,
    written: usize,
    response: Vec<u8>,
    goal: Goal,
}

/// A program probe's child process and what it printed so far.
#[derive(Debug)]
struct ProgramRun {
    child: Child,
    reaped: bool,
    stdout: Receiver,
    out: Vec<u8>,
    eof: bool,
    judge: ProgramJudge,
}

/// A UDP probe's socket (connected to the target, the request already sent) and what its
/// one reply datagram must be.
#[derive(Debug)]
struct UdpProbe {
    sock: UdpSocket,
    goal: UdpGoal,
}

#[derive(Debug)]
enum UdpGoal {
    /// Send/expect over UDP: the reply must start with this.
    Expect(Vec<u8>),
    /// A DNS query with this ID: the reply must answer it with NOERROR.
    Dns(u16),
}

#[derive(Debug)]
enum Io {
    Tcp(TcpProbe),
    Udp(UdpProbe),
    Program(ProgramRun),
}

/// One probe in flight. It is a [`mio::event::Source`]: the daemon registers it for
/// readiness (the socket of a TCP probe, the stdout pipe of a program probe).
#[derive(Debug)]
pub struct Probe {
    /// The check it reports to.
    pub check: u32,
    /// When the checker gives up on it (the daemon drops it then).
    pub deadline: Instant,
    io: Io,
}

impl Probe {
    /// Start a probe: a non-blocking connect to the target, or a program spawned. `Err` is the
    /// immediate result when it cannot even start (the caller reports it).
    pub fn start(req: &ProbeRequest) -> Result<Self, ProbeResult> {
        let (request, goal) = match &req.probe {
            ProbeSpec::Tcp => (Vec::new(), Goal::Connect),
            ProbeSpec::SendExpect(se) => match &se.expect {
                Some(e) => (
                    se.send.clone(),
                    Goal::Expect {
                        expect: e.clone(),
                        len: se.read_len(),
                    },
                ),
                None if se.send.is_empty() => (Vec::new(), Goal::Connect),
                None => (se.send.clone(), Goal::Written),
            },
            ProbeSpec::Http(h) => (judge::http_request(h, req.target), Goal::Http(h.clone())),
            ProbeSpec::Memcached => (MEMCACHED_VERSION.to_vec(), Goal::Memcached),
            ProbeSpec::Program(p) => {
                return Ok(Self {
                    check: req.id,
                    deadline: req.deadline,
                    io: Io::Program(ProgramRun::spawn(p)?),
                });
            }
            ProbeSpec::Udp(se) => {
                return UdpProbe::start(
                    req.target,
                    &se.send,
                    se.expect.clone().map(UdpGoal::Expect),
                )
                .map(|u| Self {
                    check: req.id,
                    deadline: req.deadline,
                    io: Io::Udp(u),
                });
            }
            ProbeSpec::Dns(d) => {
                let id: u16 = rand::random();
                let query = dns_query(id, &d.name, d.qtype)
                    .map_err(|_| ProbeResult::Fail(FailReason::DnsMalformed))?;
                return UdpProbe::start(req.target, &query, Some(UdpGoal::Dns(id))).map(|u| Self {
                    check: req.id,
                    deadline: req.deadline,
                    io: Io::Udp(u),
                });
            }
            other => {
                tracing::warn!("probe kind {other:?} is not run by lvsd");
                return Err(ProbeResult::Fail(FailReason::Io));
            }
        };
        let sock =
            TcpStream::connect(req.target).map_err(|_| ProbeResult::Fail(FailReason::Connect))?;
        Ok(Self {
            check: req.id,
            deadline: req.deadline,
            io: Io::Tcp(TcpProbe {
                sock,
                connected: false,
                request,
                written: 0,
                response: Vec::new(),
                goal,
            }),
        })
    }

    /// Whether this probe runs a program (its exit is not signalled by readiness once its
    /// output has ended, so the daemon also calls [`Probe::advance`] from its periodic sweep).
    pub fn is_program(&self) -> bool {
        matches!(self.io, Io::Program(_))
    }

    /// Make progress after readiness. `Some(result)` when the probe is finished.
    pub fn advance(&mut self) -> Option<ProbeResult> {
        match &mut self.io {
            Io::Tcp(t) => t.advance(),
            Io::Udp(u) => u.advance(),
            Io::Program(p) => p.advance(),
        }
    }
}

impl Source for Probe {
    fn register(&mut self, reg: &Registry, token: Token, interest: Interest) -> io::Result<()> {
        match &mut self.io {
            Io::Tcp(t) => t.sock.register(reg, token, interest),
            Io::Udp(u) => u.sock.register(reg, token, interest),
            Io::Program(p) => p.stdout.register(reg, token, interest),
        }
    }

    fn reregister(&mut self, reg: &Registry, token: Token, interest: Interest) -> io::Result<()> {
        match &mut self.io {
            Io::Tcp(t) => t.sock.reregister(reg, token, interest),
            Io::Udp(u) => u.sock.reregister(reg, token, interest),
            Io::Program(p) => p.stdout.reregister(reg, token, interest),
        }
    }

    fn deregister(&mut self, reg: &Registry) -> io::Result<()> {
        match &mut self.io {
            Io::Tcp(t) => t.sock.deregister(reg),
            Io::Udp(u) => u.sock.deregister(reg),
            Io::Program(p) => p.stdout.deregister(reg),
        }
    }
}

impl ProgramRun {
    /// Spawn the (already expanded) program in its own process group, standard output piped,
    /// standard input and error on `/dev/null`.
    fn spawn(p: &ProgramCheck) -> Result<Self, ProbeResult> {
        let abnormal = ProbeResult::Fail(FailReason::ProgramAbnormal);
        let Some((prog, args)) = p.argv.split_first() else {
            return Err(abnormal);
        };
        let mut child = Command::new(prog)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| {
                tracing::warn!("health program {prog:?}: {e}");
                abnormal
            })?;
        let Some(pipe) = child.stdout.take() else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(abnormal);
        };
        let run = Self {
            child,
            reaped: false,
            stdout: Receiver::from(pipe),
            out: Vec::new(),
            eof: false,
            judge: p.judge.clone(),
        };
        // On error `run` is dropped, which kills and reaps the child.
        run.stdout.set_nonblocking(true).map_err(|_| abnormal)?;
        Ok(run)
    }

    /// Read what is available (keeping at most [`MAX_PROGRAM_OUTPUT`] bytes), then judge if
    /// the child has exited.
    fn advance(&mut self) -> Option<ProbeResult> {
        self.drain();
        match self.child.try_wait() {
            Ok(Some(status)) => {
                self.reaped = true;
                // Everything the child wrote before exiting is in the pipe now.
                self.drain();
                Some(judge::judge_program(status.code(), &self.out, &self.judge))
            }
            Ok(None) => None,
            Err(_) => Some(ProbeResult::Fail(FailReason::ProgramAbnormal)),
        }
    }

    fn drain(&mut self) {
        let mut buf = [0u8; 4096];
        while !self.eof {
            match self.stdout.read(&mut buf) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    let room = MAX_PROGRAM_OUTPUT - self.out.len();
                    self.out.extend_from_slice(&buf[..n.min(room)]);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => self.eof = true,
            }
        }
    }
}

impl Drop for ProgramRun {
    fn drop(&mut self) {
        if self.reaped {
            return;
        }
        // Not reaped yet, so the pid (the group's id) cannot have been reused: kill the whole
        // group (the program and anything it started), then reap the child.
        if let Ok(pgid) = i32::try_from(self.child.id()) {
            // SAFETY: kill(2) with a negative pid signals a process group; no memory involved.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A DNS query for `name` / `qtype` (class IN, recursion desired) with ID `id`.
fn dns_query(id: u16, name: &str, qtype: u16) -> Result<Vec<u8>, lvs_dns::wire::WireError> {
    use lvs_dns::wire::{Flags, MessageBuilder, NameBuf, class};
    let name = NameBuf::from_text(name)?;
    let mut b = MessageBuilder::new(bytes::BytesMut::with_capacity(512))?;
    b.set_id(id);
    b.set_flags(Flags::RD);
    b.question(&name.as_name(), qtype, class::IN)?;
    Ok(b.as_bytes().to_vec())
}

impl UdpProbe {
    /// Connect a fresh socket to `target` and send `request`. Without a goal the probe has
    /// passed once the datagram is sent (nanny's UDP check with no expect string).
    fn start(
        target: std::net::SocketAddr,
        request: &[u8],
        goal: Option<UdpGoal>,
    ) -> Result<Self, ProbeResult> {
        let io = ProbeResult::Fail(FailReason::Io);
        let any: std::net::SocketAddr = if target.is_ipv4() {
            (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let sock = UdpSocket::bind(any).map_err(|_| io)?;
        sock.connect(target)
            .map_err(|_| ProbeResult::Fail(FailReason::Connect))?;
        sock.send(request).map_err(|_| io)?;
        match goal {
            Some(goal) => Ok(Self { sock, goal }),
            None => Err(ProbeResult::Pass),
        }
    }

    /// Judge the first datagram that arrives (an ICMP port unreachable fails the probe).
    fn advance(&mut self) -> Option<ProbeResult> {
        let mut buf = [0u8; 4096];
        loop {
            match self.sock.recv(&mut buf) {
                Ok(n) => {
                    let got = &buf[..n];
                    return Some(match &self.goal {
                        UdpGoal::Expect(e) => judge::judge_expect(got, e),
                        UdpGoal::Dns(id) => judge::judge_dns(got, *id),
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    return Some(ProbeResult::Fail(FailReason::Connect));
                }
                Err(_) => return Some(ProbeResult::Fail(FailReason::Io)),
            }
        }
    }
}

impl TcpProbe {
    fn advance(&mut self) -> Option<ProbeResult> {
        if !self.connected {
            match self.sock.take_error() {
                Ok(Some(_)) | Err(_) => return Some(ProbeResult::Fail(FailReason::Connect)),
                Ok(None) => {}
            }
            match self.sock.peer_addr() {
                Ok(_) => self.connected = true,
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return None,
                Err(_) => return Some(ProbeResult::Fail(FailReason::Connect)),
            }
            if matches!(self.goal, Goal::Connect) {
                return Some(ProbeResult::Pass);
            }
        }
        while self.written < self.request.len() {
            match self.sock.write(&self.request[self.written..]) {
                Ok(0) => return Some(ProbeResult::Fail(FailReason::Io)),
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Some(ProbeResult::Fail(FailReason::Io)),
            }
        }
        if matches!(self.goal, Goal::Written) {
            return Some(ProbeResult::Pass);
        }
        let mut buf = [0u8; 4096];
        loop {
            let room = MAX_RESPONSE - self.response.len();
            let eof = if room == 0 {
                true
            } else {
                match self.sock.read(&mut buf[..room.min(4096)]) {
                    Ok(0) => true,
                    Ok(n) => {
                        self.response.extend_from_slice(&buf[..n]);
                        false
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => false,
                    Err(_) => return Some(ProbeResult::Fail(FailReason::Io)),
                }
            };
            if let Some(r) = self.judge(eof) {
                return Some(r);
            }
        }
    }

    fn judge(&self, eof: bool) -> Option<ProbeResult> {
        let got = &self.response;
        match &self.goal {
            Goal::Expect { expect, len } if eof || got.len() >= *len => {
                Some(judge::judge_expect(got, expect))
            }
            Goal::Http(h) if eof => Some(judge::judge_http(got, h)),
            Goal::Memcached if eof || got.contains(&b'\n') => Some(judge::judge_memcached(got)),
            _ if eof => Some(ProbeResult::Fail(FailReason::ShortReply)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;
    use lvs_core::health::SendExpect;
    use std::net::TcpListener;

    fn run(
        req: &ProbeRequest,
        serve: impl FnOnce(std::net::TcpStream) + Send + 'static,
        listener: TcpListener,
    ) -> ProbeResult {
        let t = std::thread::spawn(move || {
            if let Ok((s, _)) = listener.accept() {
                serve(s);
            }
        });
        let mut p = Probe::start(req).unwrap();
        let r = finish(&mut p);
        drop(p);
        t.join().unwrap();
        r
    }

    /// Advances `p` until it has a result (failing the test after 5 s).
    fn finish(p: &mut Probe) -> ProbeResult {
        let end = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(r) = p.advance() {
                return r;
            }
            assert!(std::time::Instant::now() < end, "probe did not finish");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn req(target: std::net::SocketAddr, probe: ProbeSpec) -> ProbeRequest {
        ProbeRequest {
            id: 1,
            target,
            probe,
            deadline: Instant::MAX,
        }
    }

    /// Run a UDP or DNS probe against a responder that answers one datagram with
    /// `answer(request)` (or not at all for `None`).
    fn run_udp(
        probe: ProbeSpec,
        answer: impl FnOnce(&[u8]) -> Option<Vec<u8>> + Send + 'static,
    ) -> ProbeResult {
        let srv = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let target = srv.local_addr().unwrap();
        let t = std::thread::spawn(move || {
            let mut b = [0u8; 512];
            let (n, from) = srv.recv_from(&mut b).unwrap();
            if let Some(reply) = answer(&b[..n]) {
                srv.send_to(&reply, from).unwrap();
            }
        });
        let mut p = match Probe::start(&req(target, probe)) {
            Ok(p) => p,
            Err(r) => {
                t.join().unwrap();
                return r;
            }
        };
        let r = finish(&mut p);
        t.join().unwrap();
        r
    }

    #[test]
    fn udp_probe_matches_the_reply_and_passes_on_send_without_expect() {
        let se = SendExpect::nanny(0, Some("ping\\n"), Some("pong"), false);
        let echo = |want: &'static [u8], reply: &'static [u8]| {
            move |q: &[u8]| {
                assert_eq!(q, want);
                Some(reply.to_vec())
            }
        };
        assert_eq!(
            run_udp(ProbeSpec::Udp(se.clone()), echo(b"ping\n", b"pong!")),
            ProbeResult::Pass
        );
        assert_eq!(
            run_udp(ProbeSpec::Udp(se), echo(b"ping\n", b"nope")),
            ProbeResult::Fail(FailReason::Mismatch)
        );
        let sent_only = SendExpect::nanny(0, Some("hello"), None, false);
        assert_eq!(
            run_udp(ProbeSpec::Udp(sent_only), |_| None),
            ProbeResult::Pass
        );
        // A closed port answers with ICMP port unreachable: the probe fails at once.
        let closed = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let target = closed.local_addr().unwrap();
        drop(closed);
        let probe = ProbeSpec::Udp(SendExpect::nanny(0, Some("x"), Some("y"), false));
        let mut p = Probe::start(&req(target, probe)).unwrap();
        let r = finish(&mut p);
        assert_eq!(r, ProbeResult::Fail(FailReason::Connect));
    }

    #[test]
    fn dns_probe_asks_the_name_and_judges_the_rcode() {
        let check = lvs_core::health::DnsCheck {
            name: "www.example.com.".into(),
            qtype: 28,
        };
        let reply = |rcode: u8| {
            move |q: &[u8]| {
                // One question, recursion desired, for the name and type asked.
                assert_eq!((q[2], q[5]), (0x01, 1));
                assert!(q.windows(6).any(|w| w == b"\x07examp"), "{q:?}");
                assert_eq!(&q[q.len() - 4..], &[0, 28, 0, 1]);
                let mut r = q.to_vec();
                r[2] |= 0x80;
                r[3] = 0x80 | rcode;
                Some(r)
            }
        };
        assert_eq!(
            run_udp(ProbeSpec::Dns(check.clone()), reply(0)),
            ProbeResult::Pass
        );
        assert_eq!(
            run_udp(ProbeSpec::Dns(check.clone()), reply(3)),
            ProbeResult::Fail(FailReason::DnsRcode(3))
        );
        // A reply to another query ID is not an answer.
        let wrong_id = |q: &[u8]| {
            let mut r = q.to_vec();
            r[0] ^= 0xff;
            r[2] |= 0x80;
            Some(r)
        };
        assert_eq!(
            run_udp(ProbeSpec::Dns(check), wrong_id),
            ProbeResult::Fail(FailReason::DnsMalformed)
        );
    }

    #[test]
    fn http_probe_passes_on_200_and_fails_on_503() {
        for (reply, want) in [
            (&b"HTTP/1.0 200 OK\r\n\r\nok"[..], ProbeResult::Pass),
            (
                b"HTTP/1.0 503 Busy\r\n\r\n",
                ProbeResult::Fail(FailReason::HttpStatus(503)),
            ),
        ] {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let r = req(
                l.local_addr().unwrap(),
                ProbeSpec::Http(HttpCheck::get("/")),
            );
            let got = run(
                &r,
                move |mut s| {
                    let mut b = [0u8; 512];
                    let _ = s.read(&mut b);
                    let _ = s.write_all(reply);
                },
                l,
            );
            assert_eq!(got, want);
        }
    }

    #[test]
    fn send_expect_and_connect_probes() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let se = SendExpect {
            send: b"PING\r\n".to_vec(),
            expect: Some(b"+PONG".to_vec()),
        };
        let r = req(l.local_addr().unwrap(), ProbeSpec::SendExpect(se));
        let got = run(
            &r,
            |mut s| {
                let mut b = [0u8; 6];
                let _ = s.read_exact(&mut b);
                let _ = s.write_all(b"+PONG\r\n");
            },
            l,
        );
        assert_eq!(got, ProbeResult::Pass);

        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let got = run(&req(addr, ProbeSpec::Tcp), |_| {}, l);
        assert_eq!(got, ProbeResult::Pass);
        // Nothing listens there any more: refused.
        let mut p = Probe::start(&req(addr, ProbeSpec::Tcp)).unwrap();
        let end = std::time::Instant::now() + Duration::from_secs(5);
        let r = loop {
            if let Some(r) = p.advance() {
                break r;
            }
            assert!(std::time::Instant::now() < end);
            std::thread::sleep(Duration::from_millis(2));
        };
        assert_eq!(r, ProbeResult::Fail(FailReason::Connect));
    }
}
