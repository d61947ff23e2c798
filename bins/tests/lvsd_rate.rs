//! `lvsadm -L -n --rate` and `lvsadm -L -n -c` against a running lvsd: the estimator's rates
//! follow live traffic within a few 2 s sampling periods, and the connection entries name the
//! real client, virtual and real server addresses.

mod lvsd_support;

use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use lvsd_support::{Echo, Lvsd, echo_round, free_port, wait_until};

fn vip() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], free_port()))
}

fn run(d: &Lvsd, args: &[&str]) -> String {
    let o = d.lvsadm(args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

/// The numbers of the row that starts with `head` (a service or a `  -> ` real server line).
fn numbers(text: &str, head: &str) -> Option<Vec<u64>> {
    let line = text.lines().find(|l| l.starts_with(head))?;
    line[head.len()..]
        .split_whitespace()
        .map(|f| f.parse().ok())
        .collect()
}

/// Stops the traffic thread even when an assertion fails.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[test]
fn rate_follows_traffic_with_ipvsadm_columns() {
    let echo = Echo::start();
    let vip = vip();
    let cfg = format!(
        "[[service]]\nlisten = \"{vip}\"\nscheduler = \"rr\"\n[[service.real]]\naddress = \"{}\"\n",
        echo.addr
    );
    let d = Lvsd::start("rate", &cfg);
    let idle = run(&d, &["-L", "-n", "--rate"]);
    assert!(
        idle.contains(
            "Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS\n  \
             -> RemoteAddress:Port\n"
        ),
        "{idle}"
    );
    let svc_head = format!("{:<33}", format!("TCP  {vip}"));
    let real_head = format!("  -> {:<28}", echo.addr.to_string());
    assert_eq!(numbers(&idle, &svc_head), Some(vec![0; 5]), "{idle}");

    // About 20 new connections a second, each with a few echoed messages.
    let stop = Arc::new(AtomicBool::new(false));
    let _guard = StopOnDrop(stop.clone());
    let traffic = std::thread::spawn(move || {
        let mut sent = 0u32;
        while !stop.load(Ordering::SeqCst) {
            let Ok(mut c) = TcpStream::connect(vip) else {
                continue;
            };
            for _ in 0..4 {
                assert_eq!(echo_round(&mut c, b"rate probe"), b"rate probe");
            }
            sent += 1;
            std::thread::sleep(Duration::from_millis(50));
        }
        sent
    });
    let mut last = String::new();
    let took = wait_until("non-zero rates", Duration::from_secs(12), || {
        last = run(&d, &["-L", "-n", "--rate"]);
        let (Some(s), Some(r)) = (numbers(&last, &svc_head), numbers(&last, &real_head)) else {
            return false;
        };
        // CPS, InPPS, OutPPS, InBPS, OutBPS for the service and its only server.
        s.len() == 5 && s[0] > 0 && s[1] > 0 && s[2] > 0 && s[3] > 0 && s[4] > 0 && r == s
    });
    drop(_guard);
    let sent = traffic.join().unwrap();
    assert!(sent > 0);
    // Three 2 s samples at most (plus slack for a loaded machine).
    assert!(took < Duration::from_secs(12), "{took:?}\n{last}");
    let stats = run(&d, &["-L", "-n", "--stats"]);
    let conns = numbers(&stats, &svc_head).unwrap()[0];
    assert!(conns >= u64::from(sent), "{stats}");
}

#[test]
fn connection_entries_list_open_and_time_wait_connections() {
    let echo = Echo::start();
    let vip = vip();
    let cfg = format!(
        "time_wait = 120\n[[service]]\nlisten = \"{vip}\"\nscheduler = \"rr\"\n\
         [[service.real]]\naddress = \"{}\"\n",
        echo.addr
    );
    let d = Lvsd::start("conns", &cfg);
    let mut conns: Vec<TcpStream> = (0..2).map(|_| TcpStream::connect(vip).unwrap()).collect();
    for c in &mut conns {
        assert_eq!(echo_round(c, b"hello"), b"hello");
    }
    let clients: Vec<SocketAddr> = conns.iter().map(|c| c.local_addr().unwrap()).collect();
    let text = run(&d, &["-L", "-n", "-c"]);
    assert!(
        text.starts_with(
            "IPVS connection entries\n\
             pro expire state       source             virtual            destination\n"
        ),
        "{text}"
    );
    let rows: Vec<Vec<&str>> = text
        .lines()
        .skip(2)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 2, "{text}");
    for client in &clients {
        let row = rows
            .iter()
            .find(|r| r[3] == client.to_string())
            .unwrap_or_else(|| panic!("{client} missing:\n{text}"));
        let (v, dst) = (vip.to_string(), echo.addr.to_string());
        assert_eq!(row[..3], ["TCP", row[1], "ESTABLISHED"], "{text}");
        assert_eq!(row[4..], [v.as_str(), dst.as_str()], "{text}");
        let (m, s) = row[1].split_once(':').unwrap();
        let secs = m.parse::<u64>().unwrap() * 60 + s.parse::<u64>().unwrap();
        assert!((890..=900).contains(&secs), "{text}");
    }
    // The closed one stays listed in TIME_WAIT for time_wait seconds.
    drop(conns.remove(0));
    let closed = clients[0].to_string();
    let mut last = String::new();
    wait_until("a TIME_WAIT entry", Duration::from_secs(5), || {
        last = run(&d, &["-L", "-n", "-c"]);
        last.lines().any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() == 6 && f[2] == "TIME_WAIT" && f[3] == closed && f[1].starts_with("0")
        })
    });
    let open = clients[1].to_string();
    assert!(
        last.lines()
            .any(|l| l.contains("ESTABLISHED") && l.contains(&open)),
        "{last}"
    );
}
