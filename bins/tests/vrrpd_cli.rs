//! `lvs-vrrpd --check`: exit status and messages for valid and invalid configurations, in
//! both formats. Needs no privileges.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_lvs-vrrpd");

fn check(flag: &str, name: &str, text: &str) -> (bool, String) {
    let dir = std::env::temp_dir().join(format!("lvs-vrrpd-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    let out = Command::new(BIN)
        .args([flag])
        .arg(&path)
        .arg("--check")
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn a_valid_toml_config_checks_ok() {
    let (ok, out) = check(
        "-c",
        "good.toml",
        "[[instance]]\nname = \"VI_1\"\ninterface = \"eth0\"\nvrid = 51\nvirtual_addresses = [\"192.0.2.1\"]\n",
    );
    assert!(ok, "{out}");
    assert!(out.contains("OK (1 instances"), "{out}");
}

#[test]
fn an_invalid_toml_config_lists_every_problem_and_fails() {
    let (ok, out) = check(
        "-c",
        "bad.toml",
        "[[instance]]\nname = \"VI_1\"\ninterface = \"eth0\"\nvrid = 51\nversion = 4\n\
         virtual_addresses = [\"192.0.2.300\"]\n",
    );
    assert!(!ok, "{out}");
    assert!(out.contains("version must be 2 or 3"), "{out}");
    assert!(out.contains("bad address"), "{out}");
}

#[test]
fn keepalived_conf_checks_and_unsupported_keywords_name_the_line() {
    let good = "vrrp_instance VI_1 {\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n\
                priority 100\n  virtual_ipaddress {\n    192.0.2.1/24\n  }\n}\n";
    let (ok, out) = check("-f", "good.conf", good);
    assert!(ok, "{out}");
    let bad = "vrrp_instance VI_1 {\n  interface eth0\n  use_vmac\n}\n";
    let (ok, out) = check("-f", "bad.conf", bad);
    assert!(!ok, "{out}");
    assert!(out.contains("line 3") && out.contains("use_vmac"), "{out}");
}

#[test]
fn a_missing_file_fails() {
    let out = Command::new(BIN)
        .args(["-c", "/nonexistent/lvs-vrrpd.toml", "--check"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}
