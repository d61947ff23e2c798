//! Fuzz entry points for the configuration parsers of the binaries. Each
//! `fuzz/fuzz_targets/*.rs` target is a one-line call into a function here, and `cargo test`
//! replays the committed corpus in `fuzz/corpus/<target>/` through the same function.
//!
//! Every function feeds the bytes (as lossy UTF-8) to the same parsing entry point the binary
//! uses, without the file system or name lookups: `include` is answered "file not found" or
//! refused, and host names are refused instead of resolved. Errors are fine; a panic is a bug.

use crate::lvsd::{import_keepalived, import_lvscf};
use crate::mcproxy::Config as McproxyConfig;
use crate::named::NamedConf;
use crate::named::parse::Source;
use crate::ntpd::config::Config as NtpConfig;
use crate::vrrpd::config::Plan;
use crate::vrrpd::keepalived;

/// The name the main file goes by in error messages.
const MAIN: &str = "fuzz.conf";

/// One named.conf in memory: every other name (an `include`) is not found.
struct OneFile(String);

impl Source for OneFile {
    fn read(&mut self, name: &str) -> Result<String, String> {
        if name == MAIN {
            Ok(self.0.clone())
        } else {
            Err("file not found".into())
        }
    }
}

/// named.conf, checked as `lvs-named -checkconf` does.
pub fn named_conf(data: &[u8]) {
    let text = String::from_utf8_lossy(data).into_owned();
    let _ = NamedConf::load(&mut OneFile(text), MAIN);
}

/// The nutcracker YAML subset `lvs-mcproxy` reads, with literal addresses only.
pub fn nutcracker_yml(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(c) = McproxyConfig::parse_numeric(&text, MAIN, false) {
        assert!(!c.pools.is_empty(), "an accepted config has a pool");
    }
}

/// The same pools in TOML, as `lvs-mcproxy -c <file>.toml` reads them (literal addresses).
pub fn mcproxy_toml(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(c) = McproxyConfig::parse_numeric(&text, MAIN, true) {
        assert!(!c.pools.is_empty(), "an accepted config has a pool");
    }
}

/// The keepalived.conf subset `lvs-vrrpd` imports, then validated into a plan.
pub fn keepalived_conf(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(config) = keepalived::import(&text) {
        let _ = Plan::from_config(&config);
    }
}

/// Piranha's `lvs.cf`, as `lvsd --lvs-cf` imports it.
pub fn lvs_cf(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = import_lvscf::import(&text, MAIN);
}

/// keepalived.conf as `lvsd` imports its virtual servers, with `include` refused.
pub fn lvsd_keepalived(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = import_keepalived::import_no_include(&text, MAIN);
}

/// The ntp.conf subset `lvs-ntpd` reads.
pub fn ntp_conf(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = NtpConfig::from_ntp_conf(&text);
}
