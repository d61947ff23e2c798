//! Program health checks in a proxy-mode lvsd on loopback: a TOML `kind = "program"` check
//! whose output (nanny's OK/FAIL) flips a real server down and up, and a keepalived
//! `MISC_CHECK` with `misc_dynamic` whose exit status sets the weight `lvsadm -L -n` shows.

mod lvsd_support;

#[path = "lvsd_support/legacy.rs"]
mod legacy;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use legacy::{script, start_imported};
use lvsd_support::{Backend, Lvsd, TempDir, free_port, get, wait_until};

const LIMIT: Duration = Duration::from_secs(20);

fn weight(d: &Lvsd, addr: SocketAddr) -> Option<u32> {
    d.real_row(addr).map(|r| r.0)
}

fn set(path: &Path, text: &str) {
    // Write then rename, so the check never reads a half-written file.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[test]
fn program_check_output_takes_a_server_down_and_back() {
    let a = Backend::start("a", "127.0.0.1:0".parse().unwrap()).unwrap();
    let b = Backend::start("b", "127.0.0.1:0".parse().unwrap()).unwrap();
    let scratch = TempDir::new("program-state");
    let dir = &scratch.0;
    // The check prints the state file of the port it is given, and FAIL when %h was not
    // replaced by the real server's address.
    let check = dir.join("check.sh");
    script(
        &check,
        &format!(
            "if [ \"$1\" = 127.0.0.1 ]; then cat {}/state-$2; else echo FAIL; fi\n",
            dir.display()
        ),
    );
    set(&dir.join(format!("state-{}", a.addr.port())), "OK\n");
    set(&dir.join(format!("state-{}", b.addr.port())), "OK\n");
    let vip = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let cfg = format!(
        "[[service]]\nlisten = \"{vip}\"\nscheduler = \"rr\"\n\
         [service.health]\nkind = \"program\"\ncommand = \"/bin/sh {} %h %p\"\nexpect = \"OK\"\n\
         interval = 0.2\ntimeout = 2.0\nrise = 1\nfall = 1\n\
         [[service.real]]\naddress = \"{}\"\nweight = 3\n\
         [[service.real]]\naddress = \"{}\"\nweight = 2\n",
        check.display(),
        a.addr,
        b.addr
    );
    let d = Lvsd::start("program", &cfg);
    assert_eq!(weight(&d, a.addr), Some(3), "{}", d.list());
    set(&dir.join(format!("state-{}", a.addr.port())), "FAIL\n");
    wait_until("a to go down", LIMIT, || weight(&d, a.addr) == Some(0));
    assert_eq!(weight(&d, b.addr), Some(2));
    // Every request now lands on b.
    for _ in 0..20 {
        assert_eq!(get(vip).unwrap(), "b");
    }
    set(&dir.join(format!("state-{}", a.addr.port())), "OK\n");
    wait_until("a to come back", LIMIT, || weight(&d, a.addr) == Some(3));
    wait_until("a to serve again", LIMIT, || {
        get(vip).is_ok_and(|s| s == "a")
    });
}

#[test]
fn misc_check_dynamic_weight_shows_in_lvsadm() {
    let a = Backend::start("a", "127.0.0.1:0".parse().unwrap()).unwrap();
    let scratch = TempDir::new("misc-state");
    let dir = TempDir::new("misc");
    let exit_file = scratch.0.join("exit");
    let check = scratch.0.join("misc.sh");
    // keepalived passes nothing; the real server's address written in misc_path is replaced
    // by %h, so the script gets it as $1.
    script(
        &check,
        &format!(
            "[ \"$1\" = 127.0.0.1 ] || exit 1\nexit $(cat {})\n",
            exit_file.display()
        ),
    );
    set(&exit_file, "12");
    let vip_port = free_port();
    let conf = format!(
        "virtual_server 127.0.0.1 {vip_port} {{\n  delay_loop 1\n  lb_algo wrr\n  lb_kind NAT\n  \
         protocol TCP\n  real_server 127.0.0.1 {} {{\n    weight 5\n    MISC_CHECK {{\n      \
         misc_path \"/bin/sh {} 127.0.0.1\"\n      misc_timeout 3\n      misc_dynamic\n    \
         }}\n  }}\n}}\n",
        a.addr.port(),
        check.display()
    );
    let d = start_imported(dir, "-f", "keepalived.conf", &conf);
    // Exit 12 = up with weight 10.
    wait_until("the dynamic weight 10", LIMIT, || {
        weight(&d, a.addr) == Some(10)
    });
    let vip = SocketAddr::from(([127, 0, 0, 1], vip_port));
    assert_eq!(get(vip).unwrap(), "a");
    set(&exit_file, "4");
    wait_until("the dynamic weight 2", LIMIT, || {
        weight(&d, a.addr) == Some(2)
    });
    // Exit 1 = down (weight 0), exit 0 = up with the weight kept.
    set(&exit_file, "1");
    wait_until("down on exit 1", LIMIT, || weight(&d, a.addr) == Some(0));
    set(&exit_file, "0");
    wait_until("up again on exit 0", LIMIT, || {
        weight(&d, a.addr).is_some_and(|w| w > 0)
    });
}

#[test]
fn a_hung_program_is_killed_at_its_timeout_and_reaped() {
    let a = Backend::start("a", "127.0.0.1:0".parse().unwrap()).unwrap();
    let scratch = TempDir::new("hung");
    let check = scratch.0.join("hang.sh");
    let pids = scratch.0.join("pids");
    // Records its pid, then hangs far longer than the probe timeout.
    script(
        &check,
        &format!("echo $$ >> {}\nexec sleep 600\n", pids.display()),
    );
    let vip = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let cfg = format!(
        "[[service]]\nlisten = \"{vip}\"\n\
         [service.health]\nkind = \"program\"\ncommand = \"/bin/sh {}\"\n\
         interval = 0.3\ntimeout = 0.3\nrise = 1\nfall = 1\n\
         [[service.real]]\naddress = \"{}\"\n",
        check.display(),
        a.addr
    );
    let d = Lvsd::start("hung", &cfg);
    wait_until("the hung check to fail", LIMIT, || {
        weight(&d, a.addr) == Some(0)
    });
    // Several probes have run and timed out; none is left running or as a zombie.
    wait_until("three probes", LIMIT, || {
        std::fs::read_to_string(&pids).is_ok_and(|s| s.lines().count() >= 3)
    });
    let text = std::fs::read_to_string(&pids).unwrap();
    let started: Vec<&str> = text.lines().collect();
    // All but the newest probe are past their deadline (0.3 s) plus a sweep.
    for pid in &started[..started.len() - 1] {
        let stat = Path::new("/proc").join(pid).join("stat");
        wait_until(&format!("probe {pid} to be gone"), LIMIT, || !stat.exists());
    }
}
