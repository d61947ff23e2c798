//! lvsd started from an imported legacy file (`--lvs-cf FILE` or `-f keepalived.conf`), its
//! control socket in the test's own directory (`--control`).

#![allow(dead_code, unreachable_pub)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::{Lvsd, TempDir, wait_until};

/// Write `text` to `dir/name` and start `lvsd FLAG dir/name` with its control socket at
/// `dir/lvsd.sock` and its log in `dir/lvsd.log`; waits until the control socket answers.
pub fn start_imported(dir: TempDir, flag: &str, name: &str, text: &str) -> Lvsd {
    let config = dir.0.join(name);
    std::fs::write(&config, text).unwrap();
    let socket = dir.0.join("lvsd.sock");
    let child = Command::new(env!("CARGO_BIN_EXE_lvsd"))
        .arg(flag)
        .arg(&config)
        .arg("--control")
        .arg(&socket)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.0.join("lvsd.log")).unwrap())
        .spawn()
        .unwrap();
    let d = Lvsd {
        child,
        config,
        socket,
        dir,
    };
    wait_until("imported lvsd to answer", Duration::from_secs(10), || {
        d.lvsadm(&["-L", "-n"]).status.success()
    });
    d
}

/// Write an executable shell script.
pub fn script(path: &Path, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// What lvsd has logged so far.
pub fn log(d: &Lvsd) -> String {
    std::fs::read_to_string(d.dir.0.join("lvsd.log")).unwrap_or_default()
}
