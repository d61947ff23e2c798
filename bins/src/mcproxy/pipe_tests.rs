//! The shared-connection queue with real sessions: requests of several sessions interleaved
//! on one connection, replies cut at every byte boundary, failures mid-flight, quiet meta.

use lvs_sched::mcproxy::{DownPolicy, Router, Session, SessionConfig};
use lvs_sched::ring::{Distribution, HashFunction, ServerSpec, TwemproxyPool};

use super::{Pipe, PipeError};

fn router(n: usize) -> Router {
    let servers = (0..n)
        .map(|i| ServerSpec::parse(&format!("10.0.0.{}:11211:1", i + 1)).unwrap())
        .collect();
    let pool = TwemproxyPool::new(servers, HashFunction::Fnv1a64, Distribution::Ketama).unwrap();
    Router::new(pool, DownPolicy::FailFast).unwrap()
}

/// Sessions and one pipe per server, as a worker keeps them.
struct Rig {
    sessions: Vec<Session>,
    recorded: Vec<Vec<usize>>,
    pipes: Vec<Pipe<usize>>,
    wire: Vec<Vec<u8>>,
}

impl Rig {
    fn new(sessions: usize, servers: usize) -> Self {
        let r = router(servers);
        Self {
            sessions: (0..sessions)
                .map(|_| Session::new(r.clone(), SessionConfig::default()))
                .collect(),
            recorded: vec![vec![0; servers]; sessions],
            pipes: (0..servers).map(|_| Pipe::default()).collect(),
            wire: vec![Vec::new(); servers],
        }
    }

    /// Client `s` sends `req`; its output moves to the pipes, which are "written".
    fn send(&mut self, s: usize, req: &[u8]) {
        self.sessions[s].feed_client(req);
        for i in 0..self.pipes.len() {
            let owed = self.sessions[s].backend_owed(i);
            let out = self.sessions[s].backend_output(i).to_vec();
            self.pipes[i].queue(s, &out, owed - self.recorded[s][i]);
            self.recorded[s][i] = owed;
            self.sessions[s].advance_backend(i, out.len());
            let w = self.pipes[i].output().to_vec();
            self.wire[i].extend_from_slice(&w);
            self.pipes[i].advance(w.len(), 1 << 16);
        }
    }

    /// Server `i` replies `bytes`, delivered in pieces of `chunk`.
    fn reply(&mut self, i: usize, bytes: &[u8], chunk: usize) -> Result<Vec<usize>, PipeError> {
        let mut touched = Vec::new();
        for piece in bytes.chunks(chunk) {
            let (sessions, recorded) = (&mut self.sessions, &mut self.recorded);
            self.pipes[i].dispatch(
                piece,
                |s, b, n| {
                    let f = sessions.get_mut(s)?.feed_backend_shared(i, b, n);
                    recorded[s][i] -= f.replies;
                    Some(f)
                },
                &mut touched,
            )?;
        }
        Ok(touched)
    }

    /// Server `i`'s connection failed: every session that owed replies on it settles them.
    fn fail(&mut self, i: usize) -> Vec<usize> {
        let owners = self.pipes[i].owners();
        for &s in &owners {
            self.recorded[s][i] = 0;
            self.sessions[s].backend_down(i);
            self.sessions[s].backend_up(i);
        }
        self.pipes[i] = Pipe::default();
        owners
    }

    fn take_output(&mut self, s: usize) -> Vec<u8> {
        let out = self.sessions[s].client_output().to_vec();
        self.sessions[s].advance_client(out.len());
        out
    }
}

fn key_on(r: &Router, server: usize, prefix: &str) -> String {
    (0..)
        .map(|n| format!("{prefix}{n}"))
        .find(|k| r.route(k.as_bytes()) == Some(server))
        .unwrap()
}

#[test]
fn two_sessions_interleaved_on_one_connection_get_their_own_replies() {
    let script: [(usize, &[u8]); 5] = [
        (0, b"get a b\r\n"),
        (1, b"set k 0 0 2 noreply\r\nhi\r\nget k\r\n"),
        (0, b"incr n 1\r\n"),
        (1, b"delete gone\r\n"),
        (0, b"gets a\r\n"),
    ];
    let replies: &[u8] = b"VALUE a 0 1\r\nA\r\nEND\r\nSTORED\r\nVALUE k 0 2\r\nhi\r\nEND\r\n\
        NOT_FOUND\r\nNOT_FOUND\r\nVALUE a 0 1 7\r\nA\r\nEND\r\n";
    // Every split of the reply stream gives the same answers.
    for chunk in 1..=replies.len() {
        let mut rig = Rig::new(2, 1);
        for (s, req) in script {
            rig.send(s, req);
        }
        assert_eq!(
            rig.wire[0],
            b"get a b\r\nset k 0 0 2\r\nhi\r\nget k\r\nincr n 1\r\ndelete gone\r\ngets a\r\n"
        );
        assert_eq!(rig.pipes[0].owed(), 6);
        let touched = rig.reply(0, replies, chunk).unwrap();
        assert_eq!(touched, [0, 1], "chunk {chunk}");
        assert_eq!(rig.pipes[0].owed(), 0);
        assert_eq!(
            rig.take_output(0),
            b"VALUE a 0 1\r\nA\r\nEND\r\nNOT_FOUND\r\nVALUE a 0 1 7\r\nA\r\nEND\r\n",
            "chunk {chunk}"
        );
        assert_eq!(
            rig.take_output(1),
            b"VALUE k 0 2\r\nhi\r\nEND\r\nNOT_FOUND\r\n"
        );
        assert_eq!(rig.recorded, [[0], [0]]);
    }
}

#[test]
fn a_connection_failing_mid_flight_fails_only_the_parts_on_it() {
    let mut rig = Rig::new(3, 2);
    let r = router(2);
    let (a0, a1) = (key_on(&r, 0, "a"), key_on(&r, 1, "b"));
    // Session 0: a multi-get across both servers; session 1: a set on server 0 and a get on
    // server 1; session 2: only server 1.
    rig.send(0, format!("get {a0} {a1}\r\n").as_bytes());
    rig.send(1, format!("set {a0} 0 0 1\r\nx\r\nget {a1}\r\n").as_bytes());
    rig.send(2, format!("get {a1}\r\n").as_bytes());
    let v1 = format!("VALUE {a1} 0 1\r\nB\r\nEND\r\n");
    // Server 1 answers everyone; server 0 sends half of session 0's reply and dies.
    let all = v1.repeat(3);
    assert_eq!(rig.reply(1, all.as_bytes(), 7).unwrap(), [0, 1, 2]);
    assert_eq!(rig.take_output(2), v1.as_bytes());
    let half = format!("VALUE {a0} 0 1\r\n");
    assert_eq!(rig.reply(0, half.as_bytes(), 3).unwrap(), [0]);
    assert_eq!(rig.fail(0), [0, 1]);
    // The multi-get keeps server 1's value and reports server 0's key as a miss; the set
    // gets the error, then its get on the healthy server goes through.
    assert_eq!(rig.take_output(0), v1.as_bytes());
    assert_eq!(
        rig.take_output(1),
        format!("SERVER_ERROR backend unavailable\r\n{v1}").as_bytes()
    );
    assert!(rig.take_output(2).is_empty());
    // A new connection to server 0 serves the same sessions again.
    rig.send(1, format!("get {a0}\r\n").as_bytes());
    rig.reply(0, format!("VALUE {a0} 0 1\r\nz\r\nEND\r\n").as_bytes(), 4)
        .unwrap();
    assert_eq!(
        rig.take_output(1),
        format!("VALUE {a0} 0 1\r\nz\r\nEND\r\n").as_bytes()
    );
}

#[test]
fn quiet_meta_pipelines_of_two_sessions_keep_mn_order() {
    let replies: &[u8] = b"VA 1\r\nA\r\nMN\r\nMN\r\nMN\r\nEN\r\nNS\r\nMN\r\nHD\r\n";
    for chunk in 1..=replies.len() {
        let mut rig = Rig::new(2, 1);
        rig.send(0, b"mg a v q\r\nmg b v q\r\n");
        rig.send(1, b"ms c 1 q\r\nx\r\n");
        rig.send(0, b"mn\r\nmg d v\r\n");
        rig.send(1, b"ms e 1 q\r\ny\r\nmn\r\nmd f\r\n");
        assert_eq!(
            rig.wire[0],
            b"mg a v q\r\nmn\r\nmg b v q\r\nmn\r\nms c 1 q\r\nx\r\nmn\r\nmg d v\r\n\
              ms e 1 q\r\ny\r\nmn\r\nmd f\r\n"
        );
        rig.reply(0, replies, chunk).unwrap();
        assert_eq!(
            rig.take_output(0),
            b"VA 1\r\nA\r\nMN\r\nEN\r\n",
            "chunk {chunk}"
        );
        assert_eq!(rig.take_output(1), b"NS\r\nMN\r\nHD\r\n", "chunk {chunk}");
    }
}

#[test]
fn bytes_nobody_asked_for_or_garbage_put_the_connection_out_of_step() {
    let mut rig = Rig::new(1, 1);
    assert_eq!(rig.reply(0, b"END\r\n", 5), Err(PipeError::Unsolicited));
    rig.send(0, b"get a\r\n");
    assert!(matches!(
        rig.reply(0, b"STORED\r\n", 8),
        Err(PipeError::Fault(_))
    ));
    let mut p: Pipe<usize> = Pipe::default();
    p.queue(9, b"get a\r\n", 1);
    let mut touched = Vec::new();
    assert_eq!(
        p.dispatch(b"END\r\n", |_, _, _| None, &mut touched),
        Err(PipeError::Lost)
    );
}
