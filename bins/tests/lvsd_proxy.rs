//! lvsd in proxy mode, end to end over loopback sockets: scheduling spread, persistence,
//! failover and recovery driven by the health checks.

mod lvsd_support;

use std::net::SocketAddr;
use std::time::Duration;

use lvsd_support::{Backend, Lvsd, free_port, get, wait_until};

fn backends(names: &[&str]) -> Vec<Backend> {
    names
        .iter()
        .map(|n| Backend::start(n, "127.0.0.1:0".parse().unwrap()).unwrap())
        .collect()
}

fn reals(bs: &[Backend], weights: &[u32]) -> String {
    bs.iter()
        .zip(weights)
        .map(|(b, w)| format!("[[service.real]]\naddress = \"{}\"\nweight = {w}\n", b.addr))
        .collect()
}

fn vip() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], free_port()))
}

#[test]
fn wrr_3_2_1_spreads_6000_connections_50_33_17() {
    let bs = backends(&["a", "b", "c"]);
    let vip = vip();
    let cfg = format!(
        "time_wait = 0\n[[service]]\nlisten = \"{vip}\"\nscheduler = \"wrr\"\n{}",
        reals(&bs, &[3, 2, 1])
    );
    let d = Lvsd::start("spread", &cfg);
    let mut counts = [0u32; 3];
    for i in 0..6000 {
        let body = get(vip).unwrap_or_else(|e| panic!("request {i} failed: {e}"));
        counts[["a", "b", "c"].iter().position(|n| *n == body).unwrap()] += 1;
    }
    for (c, want) in counts.iter().zip([50.0, 100.0 / 3.0, 100.0 / 6.0]) {
        let pct = f64::from(*c) * 100.0 / 6000.0;
        assert!((pct - want).abs() <= 2.0, "spread {counts:?}");
    }
    // Every connection has closed again; the counters saw all of them.
    let stats = String::from_utf8(d.lvsadm(&["-L", "-n", "--stats"]).stdout).unwrap();
    let svc = stats.lines().find(|l| l.starts_with("TCP")).unwrap();
    assert_eq!(svc.split_whitespace().nth(2), Some("6000"), "{stats}");
    for b in &bs {
        assert_eq!(d.real_row(b.addr).map(|r| r.1), Some(0));
    }
}

#[test]
fn persistence_sends_one_client_to_one_server() {
    let bs = backends(&["a", "b", "c"]);
    let (sticky, plain) = (vip(), vip());
    let cfg = format!(
        "[[service]]\nlisten = \"{sticky}\"\nscheduler = \"rr\"\npersistence = 300\n{r}\
         [[service]]\nlisten = \"{plain}\"\nscheduler = \"rr\"\n{r}",
        r = reals(&bs, &[1, 1, 1])
    );
    let _d = Lvsd::start("persist", &cfg);
    let seen: std::collections::BTreeSet<String> = (0..30).map(|_| get(sticky).unwrap()).collect();
    assert_eq!(seen.len(), 1, "persistent service used {seen:?}");
    // The same client without persistence is spread by rr.
    let spread: std::collections::BTreeSet<String> = (0..30).map(|_| get(plain).unwrap()).collect();
    assert_eq!(spread.len(), 3, "{spread:?}");
}

#[test]
fn dead_backend_is_taken_out_within_fall_intervals_and_comes_back_after_rise() {
    let mut bs = backends(&["a", "b", "c"]);
    let vip = vip();
    let (interval_ms, rise, fall) = (100u64, 2u32, 3u32);
    let cfg = format!(
        "[[service]]\nlisten = \"{vip}\"\nscheduler = \"wlc\"\n\
         [service.health]\nkind = \"http\"\npath = \"/\"\ninterval = {}\ntimeout = 0.5\nrise = {rise}\nfall = {fall}\n{}",
        interval_ms as f64 / 1000.0,
        reals(&bs, &[1, 1, 1])
    );
    let d = Lvsd::start("failover", &cfg);
    for _ in 0..30 {
        get(vip).unwrap();
    }
    let victim = bs[1].addr;
    bs[1].kill();
    // Probes start every interval; the first one after the kill fails at once (refused),
    // so `fall` failures take at most fall × interval. Slack for the lvsadm polling and for
    // a CI machine busy with other tests.
    let slack = Duration::from_millis(1500);
    let took = wait_until(
        "the dead backend to be quiesced",
        Duration::from_secs(5),
        || d.real_row(victim).map(|r| r.0) == Some(0),
    );
    let bound = Duration::from_millis(interval_ms * u64::from(fall)) + slack;
    assert!(took <= bound, "taken out after {took:?} (bound {bound:?})");
    for i in 0..300 {
        let body = get(vip).unwrap_or_else(|e| panic!("request {i} after failover failed: {e}"));
        assert_ne!(body, "b");
    }
    bs[1] = Backend::start("b", victim).unwrap();
    let took = wait_until("the backend to come back", Duration::from_secs(5), || {
        d.real_row(victim).map(|r| r.0) == Some(1)
    });
    let bound = Duration::from_millis(interval_ms * u64::from(rise)) + slack;
    assert!(took <= bound, "back after {took:?} (bound {bound:?})");
    let back = (0..60).filter(|_| get(vip).unwrap() == "b").count();
    assert!(back > 0, "the restored backend got no requests");
}
