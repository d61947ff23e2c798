//! A golden log: one small scenario touching every kind of log entry, compared line for line
//! with the expected text below. A deliberate change to the log format or to the RNG draw order
//! updates the text; anything else that changes it is a determinism bug.
#![cfg(feature = "sim")]

#[path = "common/sim_machines.rs"]
mod machines;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use lvs_core::sim::{LinkConfig, Sim};
use lvs_core::{Datagram, Instant};
use machines::{Peer, ip, sock};

const MS: Duration = Duration::from_millis(1);

fn scenario() -> Sim {
    let mut sim = Sim::new(2024);
    sim.set_default_link(
        LinkConfig::latency(10 * MS)
            .with_jitter(4 * MS)
            .with_loss(0.3),
    );
    let group: IpAddr = "224.0.0.18".parse().unwrap();
    let a = sim.add_node("a", [ip(1)], |boot| {
        Peer::new(boot).pinging(sock(2), 100 * MS, 4)
    });
    let b = sim.add_node("b", [ip(2)], |boot| Peer::new(boot).echoing());
    let c = sim.add_node("c", [ip(3)], move |boot| {
        Peer::new(boot).pinging(SocketAddr::new(group, 0), 150 * MS, 3)
    });
    sim.join(a, group);
    sim.join(b, group);
    sim.set_link(
        a,
        b,
        LinkConfig::latency(10 * MS)
            .with_duplicate(0.5)
            .with_mtu(1500),
    );
    sim.run_until(Instant::from_millis(120));
    sim.partition(&[&[a, b], &[c]]);
    sim.run_until(Instant::from_millis(160));
    sim.heal();
    sim.freeze(b);
    sim.run_until(Instant::from_millis(250));
    sim.thaw(b);
    sim.inject(
        Instant::from_millis(260),
        ip(9),
        Datagram::new(sock(8), sock(9), &b"x"[..]),
    );
    sim.run_until(Instant::from_millis(280));
    sim.kill(c);
    sim.restart(a);
    sim.leave(b, group);
    sim.add_addr(b, ip(100));
    sim.with_node::<Peer, _>(b, |p, _now| p.burst(sock(1), 2));
    sim.run_until(Instant::from_millis(400));
    sim
}

#[test]
fn the_log_matches_the_golden_text() {
    let text = scenario().log_text();
    print!("{text}");
    assert_eq!(text, GOLDEN);
}

const GOLDEN: &str = "\
0.000000000s boot a incarnation=0\n\
0.000000000s boot b incarnation=0\n\
0.000000000s boot c incarnation=0\n\
0.000000000s join a 224.0.0.18\n\
0.000000000s join b 224.0.0.18\n\
0.000000000s timer a Ping\n\
0.000000000s send a #0 10.0.0.1:7 -> 10.0.0.2:7 len=5\n\
0.000000000s dup #0 a -> b\n\
0.000000000s timer c Ping\n\
0.000000000s send c #1 10.0.0.3:0 -> 224.0.0.18:0 len=5\n\
0.010000000s deliver b #0 10.0.0.1:7 -> 10.0.0.2:7 len=5\n\
0.010000000s send b #2 10.0.0.2:7 -> 10.0.0.1:7 len=5\n\
0.010000000s event b Got { at: 0.010000000s, from: 10.0.0.1:7, seq: 0, echo: false }\n\
0.010000000s deliver b #0 10.0.0.1:7 -> 10.0.0.2:7 len=5\n\
0.010000000s send b #3 10.0.0.2:7 -> 10.0.0.1:7 len=5\n\
0.010000000s event b Got { at: 0.010000000s, from: 10.0.0.1:7, seq: 0, echo: false }\n\
0.012742867s deliver a #1 10.0.0.3:0 -> 224.0.0.18:0 len=5\n\
0.012742867s event a Got { at: 0.012742867s, from: 10.0.0.3:0, seq: 0, echo: false }\n\
0.012766462s deliver b #1 10.0.0.3:0 -> 224.0.0.18:0 len=5\n\
0.012766462s send b #4 10.0.0.2:0 -> 10.0.0.3:0 len=5\n\
0.012766462s event b Got { at: 0.012766462s, from: 10.0.0.3:0, seq: 0, echo: false }\n\
0.020143588s deliver a #2 10.0.0.2:7 -> 10.0.0.1:7 len=5\n\
0.020143588s event a Got { at: 0.020143588s, from: 10.0.0.2:7, seq: 0, echo: true }\n\
0.021941863s deliver a #3 10.0.0.2:7 -> 10.0.0.1:7 len=5\n\
0.021941863s event a Got { at: 0.021941863s, from: 10.0.0.2:7, seq: 0, echo: true }\n\
0.026551023s deliver c #4 10.0.0.2:0 -> 10.0.0.3:0 len=5\n\
0.026551023s event c Got { at: 0.026551023s, from: 10.0.0.2:0, seq: 0, echo: true }\n\
0.100000000s timer a Ping\n\
0.100000000s send a #5 10.0.0.1:7 -> 10.0.0.2:7 len=5\n\
0.110000000s deliver b #5 10.0.0.1:7 -> 10.0.0.2:7 len=5\n\
0.110000000s send b #6 10.0.0.2:7 -> 10.0.0.1:7 len=5\n\
0.110000000s event b Got { at: 0.110000000s, from: 10.0.0.1:7, seq: 1, echo: false }\n\
0.120000000s partition [a b] [c]\n\
0.121715054s deliver a #6 10.0.0.2:7 -> 10.0.0.1:7 len=5\n\
0.121715054s event a Got { at: 0.121715054s, from: 10.0.0.2:7, seq: 1, echo: true }\n\
0.150000000s timer c Ping\n\
0.150000000s send c #7 10.0.0.3:0 -> 224.0.0.18:0 len=5\n\
0.150000000s drop #7 c -> a partition\n\
0.150000000s drop #7 c -> b partition\n\
0.160000000s heal\n\
0.160000000s freeze b\n\
0.200000000s timer a Ping\n\
0.200000000s send a #8 10.0.0.1:7 -> 10.0.0.2:7 len=5\n\
0.210000000s queue b #8 frozen\n\
0.250000000s thaw b queued=1\n\
0.250000000s inject #9 at=0.260000000s -> 10.0.0.9 10.0.0.8:7 -> 10.0.0.9:7 len=1\n\
0.250000000s drop #9 outside -> ? no-route\n\
0.250000000s deliver b #8 10.0.0.1:7 -> 10.0.0.2:7 len=5\n\
0.250000000s send b #10 10.0.0.2:7 -> 10.0.0.1:7 len=5\n\
0.250000000s event b Got { at: 0.250000000s, from: 10.0.0.1:7, seq: 2, echo: false }\n\
0.262884368s deliver a #10 10.0.0.2:7 -> 10.0.0.1:7 len=5\n\
0.262884368s event a Got { at: 0.262884368s, from: 10.0.0.2:7, seq: 2, echo: true }\n\
0.280000000s kill c\n\
0.280000000s restart a incarnation=1\n\
0.280000000s boot a incarnation=1\n\
0.280000000s leave b 224.0.0.18\n\
0.280000000s addr b +10.0.0.100\n\
0.280000000s command b\n\
0.280000000s send b #11 10.0.0.2:7 -> 10.0.0.1:7 len=5\n\
0.280000000s send b #12 10.0.0.2:7 -> 10.0.0.1:7 len=5\n\
0.280000000s timer a Ping\n\
0.280000000s send a #13 10.0.0.1:7 -> 10.0.0.2:7 len=5\n\
0.290000000s deliver b #13 10.0.0.1:7 -> 10.0.0.2:7 len=5\n\
0.290000000s send b #14 10.0.0.2:7 -> 10.0.0.1:7 len=5\n\
0.290000000s event b Got { at: 0.290000000s, from: 10.0.0.1:7, seq: 0, echo: false }\n\
0.291104624s deliver a #12 10.0.0.2:7 -> 10.0.0.1:7 len=5\n\
0.291104624s event a Got { at: 0.291104624s, from: 10.0.0.2:7, seq: 1001, echo: false }\n\
0.292347949s deliver a #11 10.0.0.2:7 -> 10.0.0.1:7 len=5\n\
0.292347949s event a Got { at: 0.292347949s, from: 10.0.0.2:7, seq: 1000, echo: false }\n\
0.303265890s deliver a #14 10.0.0.2:7 -> 10.0.0.1:7 len=5\n\
0.303265890s event a Got { at: 0.303265890s, from: 10.0.0.2:7, seq: 0, echo: true }\n\
0.380000000s timer a Ping\n\
0.380000000s send a #15 10.0.0.1:7 -> 10.0.0.2:7 len=5\n\
0.390000000s deliver b #15 10.0.0.1:7 -> 10.0.0.2:7 len=5\n\
0.390000000s send b #16 10.0.0.2:7 -> 10.0.0.1:7 len=5\n\
0.390000000s drop #16 b -> a loss\n\
0.390000000s event b Got { at: 0.390000000s, from: 10.0.0.1:7, seq: 1, echo: false }\n\
";
