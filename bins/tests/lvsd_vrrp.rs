//! The director pair: two lvsd in network namespaces, each running its VRRP half beside a
//! proxy-mode service on the VIP. One is configured in TOML with a `[vrrp]` table, the other
//! from a single keepalived.conf holding both `vrrp_instance` and `virtual_server` blocks (as
//! keepalived reads it). A client namespace on the same bridge reaches the service through
//! the VIP; the test stops the master lvsd (SIGTERM: its VRRP half resigns while the proxy
//! drains), checks that the peer takes the VIP and the traffic, and that the first comes back
//! by preemption when it restarts.
//!
//! Needs root and iproute2; skips loudly without them (fails under LVS_REQUIRE_INTEROP=1).

mod vrrpd_common;

use std::net::SocketAddr;
use std::time::Duration;

use lvs_bins::lvsd::demo::{Backend, get};
use vrrpd_common::{Lab, NET, can_run, run_in, wait_for};

const LVSD: &str = env!("CARGO_BIN_EXE_lvsd");
const BACKEND_PORT: u16 = 8081;

fn vip() -> String {
    format!("{NET}.0.100")
}

fn service() -> SocketAddr {
    format!("{}:80", vip()).parse().unwrap()
}

/// The scheduling policies (/proc/PID/task/TID/stat field 41) of the process's "vrrp" thread
/// and of its main thread.
fn policies(pid: u32) -> (u32, u32) {
    let policy = |tid: &str| -> u32 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")).unwrap();
        // The fields after the parenthesised command name: state is field 3, policy 41.
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        rest.split(' ').nth(38).unwrap().parse().unwrap()
    };
    let vrrp = std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|tid| {
            std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/comm"))
                .is_ok_and(|c| c.trim() == "vrrp")
        })
        .expect("a thread named vrrp");
    (policy(&vrrp), policy(&pid.to_string()))
}

/// r1's VRRP status file.
fn status_path(lab: &Lab) -> std::path::PathBuf {
    lab.dir.join("r1.status")
}

/// r1's VRRP status file, once it contains `want`.
fn wait_status(lab: &Lab, want: &str) -> String {
    let mut text = String::new();
    let found = wait_for(Duration::from_secs(10), || {
        text = std::fs::read_to_string(status_path(lab)).unwrap_or_default();
        text.contains(want)
    });
    assert!(
        found.is_some(),
        "status file without {want:?}:\n{text}{}",
        lab.logs()
    );
    text
}

/// r1: lvsd TOML + lvs-vrrpd TOML, priority 150.
fn start_r1(lab: &mut Lab) -> usize {
    let vrrp = lab.file(
        "r1-vrrp.toml",
        &format!(
            "[global]\ninterface_poll = 0.2\nrt_priority = 50\nstatus_file = \"{}\"\n\n\
             [[instance]]\n\
             name = \"VI_1\"\ninterface = \"eth0\"\nvrid = 61\npriority = 150\nversion = 3\n\
             advert_int = 0.2\nvirtual_addresses = [\"{}/24\"]\ngarp_master_delay = 0\n",
            status_path(lab).display(),
            vip()
        ),
    );
    let control = lab.dir.join("r1.sock");
    let conf = lab.file(
        "r1-lvsd.toml",
        &format!(
            "control = \"{}\"\ndrain_timeout = 1\n\n[vrrp]\nfile = \"{}\"\n\n\
             [[service]]\nlisten = \"{}\"\nscheduler = \"rr\"\n\n\
             [[service.real]]\naddress = \"127.0.0.1:{BACKEND_PORT}\"\n",
            control.display(),
            vrrp.file_name().unwrap().to_str().unwrap(),
            service()
        ),
    );
    let conf = conf.to_str().unwrap().to_owned();
    lab.spawn("r1", "r1-lvsd", &[LVSD, "-c", &conf, "-vv"])
}

/// r2: one keepalived.conf for both halves, priority 100.
fn start_r2(lab: &mut Lab) -> usize {
    let control = lab.dir.join("r2.sock");
    let conf = lab.file(
        "r2-keepalived.conf",
        &format!(
            "global_defs {{\n  router_id r2\n  vrrp_version 3\n}}\n\
             vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 61\n\
             \x20 priority 100\n  advert_int 0.2\n  virtual_ipaddress {{\n    {}/24\n  }}\n}}\n\
             virtual_server {} 80 {{\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n\
             \x20 real_server 127.0.0.1 {BACKEND_PORT} {{\n    weight 1\n  }}\n}}\n",
            vip(),
            vip()
        ),
    );
    let (conf, control) = (conf.to_str().unwrap(), control.to_str().unwrap());
    let argv = [LVSD, "-f", conf, "--control", control, "-vv"];
    lab.spawn("r2", "r2-lvsd", &argv)
}

/// Backends living in the router namespaces. A backend stops by connecting to itself, so
/// each is dropped from inside its namespace, also when the test fails.
struct Backends(Vec<(std::path::PathBuf, Backend)>);

impl Drop for Backends {
    fn drop(&mut self) {
        for (ns, b) in self.0.drain(..) {
            run_in(ns, move || drop(b));
        }
    }
}

/// The answer to one request through the VIP, from the client namespace.
fn ask(lab: &Lab) -> Result<String, String> {
    let vip = service();
    lab.in_ns("obs", move || get(vip))
}

/// Wait until exactly `who` holds the VIP and the client's requests reach `who`'s backend.
fn wait_serving(lab: &Lab, who: &str, limit: Duration) {
    let ok = wait_for(limit, || {
        lab.holders(&["r1", "r2"], &vip()) == [who] && ask(lab).is_ok_and(|b| b == who)
    });
    assert!(
        ok.is_some(),
        "{who} did not become the sole VIP holder serving the client within {limit:?}: \
         holders {:?}, answer {:?}{}",
        lab.holders(&["r1", "r2"], &vip()),
        ask(lab),
        lab.logs()
    );
}

#[test]
fn a_director_pair_fails_over_and_back_with_its_service() {
    if !can_run("lvsd_vrrp", &["sysctl"]) {
        return;
    }
    let mut lab = Lab::new(2);
    let mut backends = Backends(Vec::new());
    for r in ["r1", "r2"] {
        // A proxy listening on the VIP while its peer holds it: bind before the address is
        // local, as any proxy behind VRRP needs.
        lab.sysctl(r, "net.ipv4.ip_nonlocal_bind=1");
        let name = r.to_owned();
        let addr: SocketAddr = format!("127.0.0.1:{BACKEND_PORT}").parse().unwrap();
        let backend = lab.in_ns(r, move || Backend::start(&name, addr).expect("backend"));
        backends.0.push((lab.ns_path(r), backend));
    }
    let r1 = start_r1(&mut lab);
    let r2 = start_r2(&mut lab);
    wait_serving(&lab, "r1", Duration::from_secs(15));
    // rt_priority: the VRRP thread runs under SCHED_FIFO, the data plane does not.
    let (vrrp_policy, main_policy) = policies(lab.procs[r1].child.id());
    assert_eq!(
        (vrrp_policy, main_policy),
        (1, 0),
        "SCHED_FIFO = 1, SCHED_OTHER = 0"
    );
    // The status file says what r1 is and why.
    let status = wait_status(&lab, "VI_1 eth0 vrid 61 v3: MASTER");
    assert!(status.contains("master: this router"), "{status}");
    assert!(status.contains("master down 0.683 s"), "{status}");
    assert!(
        lab.log(r2).contains("vrrp: running the instances of"),
        "the keepalived.conf's VRRP half runs inside lvsd{}",
        lab.logs()
    );

    // A clean stop of the master: its VRRP half resigns, the backup takes over at once.
    lab.signal(r1, "TERM");
    wait_serving(&lab, "r2", Duration::from_secs(10));
    assert!(
        lab.wait_exit(r1, Duration::from_secs(10)),
        "lvsd r1 did not exit after SIGTERM{}",
        lab.logs()
    );
    let log = lab.log(r1);
    assert!(log.contains("vrrp: stopping: resigning"), "{log}");
    wait_status(&lab, "VI_1 eth0 vrid 61 v3: STOP");
    assert!(
        !lab.holds("r1", &vip()),
        "r1 removed the VIP when it stopped"
    );

    // r1 comes back with the higher priority and preempts (the default).
    let r1b = start_r1(&mut lab);
    wait_serving(&lab, "r1", Duration::from_secs(15));
    // Having heard r2 as master, r1 names it as the next master.
    let status = wait_status(&lab, "next: 10.77.0.2 priority 100");
    assert!(status.contains("v3: MASTER"), "{status}");

    // A reload of the VRRP half by SIGHUP keeps the master.
    lab.signal(r1b, "HUP");
    let reloaded = wait_for(Duration::from_secs(10), || {
        lab.log(r1b).contains("vrrp: configuration reloaded")
    });
    assert!(reloaded.is_some(), "no VRRP reload{}", lab.logs());
    for _ in 0..10 {
        assert_eq!(lab.holders(&["r1", "r2"], &vip()), ["r1"], "{}", lab.logs());
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(backends);
}

/// `--check` validates the VRRP half too (no root needed): instances are counted, and an
/// error in the VRRP file stops the check with its file and line.
#[test]
fn check_covers_the_vrrp_half() {
    let dir = std::env::temp_dir().join(format!("lvsd-vrrp-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ka = dir.join("keepalived.conf");
    std::fs::write(
        &ka,
        "vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 7\n  priority 100\n\
         \x20 virtual_ipaddress {\n    192.0.2.10/24\n  }\n}\n\
         virtual_server 192.0.2.10 80 {\n  lb_algo rr\n  protocol TCP\n\
         \x20 real_server 127.0.0.1 8080 {\n  }\n}\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        let o = std::process::Command::new(LVSD)
            .args(args)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        (o.status.success(), text)
    };
    let ka = ka.to_str().unwrap();
    let (ok, out) = run(&["-f", ka, "--check"]);
    assert!(ok && out.contains("1 services, 1 VRRP instances"), "{out}");
    let (ok, out) = run(&["-f", ka, "--no-vrrp", "--check"]);
    assert!(ok && !out.contains("VRRP instances"), "{out}");

    let bad = dir.join("vrrpd.toml");
    std::fs::write(&bad, "[[instance]]\nname = \"VI_1\"\nvrid = 0\n").unwrap();
    let toml = dir.join("lvsd.toml");
    std::fs::write(&toml, "[vrrp]\nfile = \"vrrpd.toml\"\n").unwrap();
    let (ok, out) = run(&["-c", toml.to_str().unwrap(), "--check"]);
    assert!(!ok && out.contains("vrrpd.toml"), "{out}");
    std::fs::write(&toml, "[vrrp]\nfile = \"vrrpd.toml\"\nformat = \"yaml\"\n").unwrap();
    let (ok, out) = run(&["-c", toml.to_str().unwrap(), "--check"]);
    assert!(!ok && out.contains(":3: vrrp.format \"yaml\""), "{out}");
    std::fs::remove_dir_all(dir).unwrap();
}
