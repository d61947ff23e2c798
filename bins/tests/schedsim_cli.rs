//! The `lvs-schedsim` binary end to end: kernel sequences, spreads and clear errors.

use std::process::Command;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lvs-schedsim"))
        .args(args)
        .output()
        .expect("run lvs-schedsim");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn wrr_follows_the_kernel_cycle() {
    // After the adds leave cw at 1 the first pass takes everyone once, then the kernel's
    // gcd/max-weight interleave repeats AABABCABC.
    let (code, out, _) = run(&["-s", "wrr", "-w", "4,3,2", "-n", "21"]);
    assert_eq!(code, 0);
    assert!(out.contains("picks: ABCAABABCABCAABABCABC"), "{out}");
}

#[test]
fn wlc_spreads_by_weight_when_connections_stay_open() {
    let (code, out, _) = run(&["-s", "wlc", "-w", "1,2", "-n", "300"]);
    assert_eq!(code, 0);
    let rows: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .filter(|r: &Vec<&str>| r.len() == 5)
        .collect();
    assert!(rows.iter().any(|r| r[..3] == ["A", "1", "100"]), "{out}");
    assert!(rows.iter().any(|r| r[..3] == ["B", "2", "200"]), "{out}");
}

#[test]
fn quiesced_servers_get_nothing_and_bad_input_is_refused() {
    let (code, out, _) = run(&["-s", "rr", "-w", "1,0,1", "-n", "4"]);
    assert_eq!(code, 0);
    assert!(out.contains("picks: ACAC"), "{out}");
    let (code, _, err) = run(&["-s", "nope", "-w", "1"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown scheduler"), "{err}");
    let (code, _, err) = run(&["-s", "sh", "-b", "sh-bogus", "-w", "1"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown scheduler flag"), "{err}");
    let (code, _, _) = run(&["-s", "rr", "-w", "x"]);
    assert_eq!(code, 2, "clap rejects a non-numeric weight");
}
