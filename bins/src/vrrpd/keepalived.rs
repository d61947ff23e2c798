//! An importer for the VRRP subset of keepalived.conf: `global_defs` (a few keys),
//! `vrrp_script`, `vrrp_instance` and `vrrp_sync_group`. It produces the same [`Config`] the
//! TOML reader does, so both go through one validation.
//!
//! Anything outside the subset is an error that names its line: the daemon never runs with a
//! silently ignored setting. The one exception is the other half of a keepalived.conf:
//! `virtual_server` and `virtual_server_group` blocks are lvsd's (`lvsd -f` reads them from
//! the same file), so they are skipped whole. `state MASTER|BACKUP` is accepted and has no effect (every
//! instance below priority 255 starts as backup, as the RFCs say), and `router_id` is accepted
//! and ignored.
//!
//! Syntax: words separated by white space, `#` and `!` start comments, double quotes group
//! words, and a statement ending in `{` opens a block closed by `}` (braces may also be
//! attached to words or share a line).

use core::net::IpAddr;

use super::config::{
    Config, InstanceToml, ScriptConfig, SyncGroupConfig, TrackInterface, TrackScriptRef,
};

/// One word and the line it is on.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Token {
    text: String,
    line: usize,
    quoted: bool,
}

/// A statement: its words and, if it opened one, its block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stmt {
    pub(crate) line: usize,
    pub(crate) words: Vec<String>,
    pub(crate) block: Option<Vec<Self>>,
}

/// A keepalived.conf error with its line number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct KeepalivedError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

fn err<T>(line: usize, message: impl Into<String>) -> Result<T, KeepalivedError> {
    Err(KeepalivedError {
        line,
        message: message.into(),
    })
}

fn tokenize(text: &str) -> Result<Vec<Token>, KeepalivedError> {
    let mut out = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = n + 1;
        let mut chars = raw.chars().peekable();
        let mut cur = String::new();
        let flush = |cur: &mut String, out: &mut Vec<Token>| {
            if !cur.is_empty() {
                out.push(Token {
                    text: core::mem::take(cur),
                    line,
                    quoted: false,
                });
            }
        };
        while let Some(c) = chars.next() {
            match c {
                '#' | '!' => break,
                '"' => {
                    flush(&mut cur, &mut out);
                    let mut s = String::new();
                    loop {
                        match chars.next() {
                            Some('"') => break,
                            Some(c) => s.push(c),
                            None => return err(line, "unterminated quote"),
                        }
                    }
                    out.push(Token {
                        text: s,
                        line,
                        quoted: true,
                    });
                }
                '{' | '}' => {
                    flush(&mut cur, &mut out);
                    out.push(Token {
                        text: c.to_string(),
                        line,
                        quoted: false,
                    });
                }
                c if c.is_whitespace() => flush(&mut cur, &mut out),
                c => cur.push(c),
            }
        }
        flush(&mut cur, &mut out);
    }
    Ok(out)
}

fn is_open(t: &Token) -> bool {
    !t.quoted && t.text == "{"
}

fn is_close(t: &Token) -> bool {
    !t.quoted && t.text == "}"
}

/// Parse statements until the end of input or a closing brace (consumed).
fn parse_block(
    toks: &[Token],
    pos: &mut usize,
    depth: usize,
    open_line: usize,
) -> Result<Vec<Stmt>, KeepalivedError> {
    if depth > 16 {
        return err(open_line, "blocks nested too deeply");
    }
    let mut stmts = Vec::new();
    while let Some(t) = toks.get(*pos) {
        if is_close(t) {
            if depth == 0 {
                return err(t.line, "unmatched '}'");
            }
            *pos += 1;
            return Ok(stmts);
        }
        if is_open(t) {
            return err(t.line, "'{' without a statement");
        }
        let line = t.line;
        let mut words = Vec::new();
        while let Some(t) = toks.get(*pos) {
            if t.line != line || is_open(t) || is_close(t) {
                break;
            }
            words.push(t.text.clone());
            *pos += 1;
        }
        let block = match toks.get(*pos) {
            Some(t) if is_open(t) => {
                *pos += 1;
                Some(parse_block(toks, pos, depth + 1, line)?)
            }
            _ => None,
        };
        stmts.push(Stmt { line, words, block });
    }
    if depth > 0 {
        return err(open_line, "block opened here is never closed");
    }
    Ok(stmts)
}

/// Tokenize and parse a keepalived.conf text into statements (shared with lvsd's importer).
pub(crate) fn parse(text: &str) -> Result<Vec<Stmt>, KeepalivedError> {
    let toks = tokenize(text)?;
    let mut pos = 0;
    parse_block(&toks, &mut pos, 0, 1)
}

impl Stmt {
    pub(crate) fn key(&self) -> &str {
        self.words.first().map_or("", String::as_str)
    }

    pub(crate) fn args(&self) -> &[String] {
        self.words.get(1..).unwrap_or(&[])
    }

    /// Exactly one argument.
    fn arg(&self) -> Result<&str, KeepalivedError> {
        match self.args() {
            [a] => Ok(a),
            _ => err(self.line, format!("{} takes one value", self.key())),
        }
    }

    fn no_args(&self) -> Result<(), KeepalivedError> {
        if self.args().is_empty() {
            Ok(())
        } else {
            err(self.line, format!("{} takes no value", self.key()))
        }
    }

    fn num<T: core::str::FromStr>(&self) -> Result<T, KeepalivedError> {
        let a = self.arg()?;
        a.parse()
            .or_else(|_| err(self.line, format!("{}: bad number {a:?}", self.key())))
    }

    fn ip(&self) -> Result<IpAddr, KeepalivedError> {
        let a = self.arg()?;
        a.parse()
            .or_else(|_| err(self.line, format!("{}: bad address {a:?}", self.key())))
    }

    fn block(&self) -> Result<&[Self], KeepalivedError> {
        match &self.block {
            Some(b) if self.args().len() <= 1 => Ok(b),
            Some(_) => err(self.line, format!("{}: unexpected words", self.key())),
            None => err(self.line, format!("{} needs a {{ block }}", self.key())),
        }
    }

    fn leaf(&self) -> Result<&Self, KeepalivedError> {
        if self.block.is_some() {
            return err(self.line, format!("{} takes no block", self.key()));
        }
        Ok(self)
    }

    /// Every word of a list block (`virtual_ipaddress`, `group`, `unicast_peer` ...).
    fn list(&self) -> Result<Vec<(usize, &str)>, KeepalivedError> {
        let mut out = Vec::new();
        for s in self.block()? {
            s.leaf()?;
            out.extend(s.words.iter().map(|w| (s.line, w.as_str())));
        }
        Ok(out)
    }

    fn name(&self) -> Result<String, KeepalivedError> {
        match self.args() {
            [n] => Ok(n.clone()),
            _ => err(self.line, format!("{} needs a name", self.key())),
        }
    }
}

/// Global settings that apply to every instance.
#[derive(Debug, Clone, Copy)]
struct Defaults {
    version: u8,
}

/// Read a keepalived.conf text into a [`Config`].
pub fn import(text: &str) -> Result<Config, KeepalivedError> {
    let stmts = parse(text)?;
    let mut c = Config::default();
    let mut defaults = Defaults { version: 2 };
    // global_defs first: vrrp_version applies to instances written before it too.
    for s in stmts.iter().filter(|s| s.key() == "global_defs") {
        global_defs(s, &mut c, &mut defaults)?;
    }
    for s in &stmts {
        match s.key() {
            "global_defs" => {}
            "vrrp_script" => c.scripts.push(script(s)?),
            "vrrp_instance" => c.instances.push(instance(s, defaults)?),
            "vrrp_sync_group" => c.sync_groups.push(sync_group(s)?),
            // The director half of the file: lvsd's importer reads these.
            "virtual_server" | "virtual_server_group" => {}
            k => return err(s.line, format!("unsupported top-level keyword {k:?}")),
        }
    }
    Ok(c)
}

fn global_defs(s: &Stmt, c: &mut Config, d: &mut Defaults) -> Result<(), KeepalivedError> {
    for g in s.block()? {
        g.leaf()?;
        match g.key() {
            "router_id" => {
                g.arg()?;
            }
            "vrrp_version" => d.version = g.num()?,
            "vrrp_garp_interval" => c.global.garp_interval = g.num()?,
            "vrrp_rt_priority" => c.global.rt_priority = g.num()?,
            k => return err(g.line, format!("unsupported global_defs keyword {k:?}")),
        }
    }
    Ok(())
}

fn script(s: &Stmt) -> Result<ScriptConfig, KeepalivedError> {
    let mut out = ScriptConfig {
        name: s.name()?,
        ..ScriptConfig::default()
    };
    for k in s.block()? {
        k.leaf()?;
        match k.key() {
            "script" => {
                if k.args().is_empty() {
                    return err(k.line, "script needs a command");
                }
                out.script = k.args().join(" ");
                if k.args().len() == 1 {
                    // A quoted command keeps its own words.
                    out.script.clone_from(&k.args()[0]);
                }
            }
            "interval" => out.interval = k.num()?,
            "timeout" => out.timeout = Some(k.num()?),
            "weight" => out.weight = k.num()?,
            "rise" => out.rise = k.num()?,
            "fall" => out.fall = k.num()?,
            "init_fail" => {
                k.no_args()?;
                out.init_fail = true;
            }
            other => return err(k.line, format!("unsupported vrrp_script keyword {other:?}")),
        }
    }
    if out.script.is_empty() {
        return err(s.line, format!("vrrp_script {} has no script", out.name));
    }
    Ok(out)
}

fn command(k: &Stmt) -> Result<String, KeepalivedError> {
    match k.args() {
        [] => err(k.line, format!("{} needs a command", k.key())),
        [one] => Ok(one.clone()),
        more => Ok(more.join(" ")),
    }
}

fn weight_clause(
    line: usize,
    words: &[String],
    what: &str,
) -> Result<Option<i16>, KeepalivedError> {
    match words {
        [] => Ok(None),
        [w, n] if w == "weight" => n
            .parse()
            .map(Some)
            .or_else(|_| err(line, format!("{what}: bad weight {n:?}"))),
        _ => err(
            line,
            format!("{what}: only \"weight N\" is supported after the name"),
        ),
    }
}

fn instance(s: &Stmt, d: Defaults) -> Result<InstanceToml, KeepalivedError> {
    let mut i = InstanceToml {
        name: s.name()?,
        version: d.version,
        ..InstanceToml::default()
    };
    let mut auth_type_pass = None;
    for k in s.block()? {
        match k.key() {
            "state" => match k.leaf()?.arg()? {
                "MASTER" | "BACKUP" => {}
                v => return err(k.line, format!("state must be MASTER or BACKUP, not {v:?}")),
            },
            "interface" => i.interface = k.leaf()?.arg()?.to_owned(),
            "virtual_router_id" => i.vrid = k.leaf()?.num()?,
            "priority" => i.priority = k.leaf()?.num()?,
            "advert_int" => i.advert_int = k.leaf()?.num()?,
            "version" => i.version = k.leaf()?.num()?,
            "nopreempt" => {
                k.leaf()?.no_args()?;
                i.preempt = false;
            }
            "preempt_delay" => i.preempt_delay = k.leaf()?.num()?,
            "mcast_src_ip" => i.primary = Some(k.leaf()?.ip()?),
            "unicast_src_ip" => i.unicast_src = Some(k.leaf()?.ip()?),
            "unicast_peer" => {
                for (line, w) in k.list()? {
                    let ip = w
                        .parse()
                        .or_else(|_| err(line, format!("unicast_peer: bad address {w:?}")))?;
                    i.unicast_peers.push(ip);
                }
            }
            "virtual_ipaddress" => {
                for s in k.block()? {
                    s.leaf()?;
                    if s.words.len() != 1 {
                        return err(
                            s.line,
                            "virtual_ipaddress: only \"address[/prefix]\" is supported",
                        );
                    }
                    i.virtual_addresses.push(s.words[0].clone());
                }
            }
            "authentication" => {
                for a in k.block()? {
                    a.leaf()?;
                    match a.key() {
                        "auth_type" => match a.arg()? {
                            "PASS" => auth_type_pass = Some(true),
                            t => return err(a.line, format!("auth_type {t} is not supported")),
                        },
                        "auth_pass" => i.auth_pass = Some(a.arg()?.to_owned()),
                        o => {
                            return err(
                                a.line,
                                format!("unsupported authentication keyword {o:?}"),
                            );
                        }
                    }
                }
            }
            "track_script" => {
                for t in k.block()? {
                    t.leaf()?;
                    let weight = weight_clause(t.line, t.args(), "track_script")?;
                    i.track_script.push(TrackScriptRef {
                        name: t.key().to_owned(),
                        weight,
                    });
                }
            }
            "track_interface" => {
                for t in k.block()? {
                    t.leaf()?;
                    let weight = weight_clause(t.line, t.args(), "track_interface")?;
                    i.track_interface.push(TrackInterface {
                        name: t.key().to_owned(),
                        weight: weight.unwrap_or(0),
                    });
                }
            }
            "dont_track_primary" => {
                k.leaf()?.no_args()?;
                i.dont_track_primary = true;
            }
            "notify_master" => i.notify_master = Some(command(k.leaf()?)?),
            "notify_backup" => i.notify_backup = Some(command(k.leaf()?)?),
            "notify_fault" => i.notify_fault = Some(command(k.leaf()?)?),
            "notify_stop" => i.notify_stop = Some(command(k.leaf()?)?),
            "notify" => i.notify = Some(command(k.leaf()?)?),
            "garp_master_delay" => i.garp_master_delay = k.leaf()?.num()?,
            "garp_master_repeat" => i.garp_master_repeat = k.leaf()?.num()?,
            "garp_master_refresh" => i.garp_master_refresh = k.leaf()?.num()?,
            "garp_master_refresh_repeat" => i.garp_master_refresh_repeat = k.leaf()?.num()?,
            "garp_lower_prio_repeat" => i.garp_lower_prio_repeat = k.leaf()?.num()?,
            "lower_prio_no_advert" => {
                k.leaf()?.no_args()?;
                i.lower_prio_no_advert = true;
            }
            other => {
                return err(
                    k.line,
                    format!("unsupported vrrp_instance keyword {other:?}"),
                );
            }
        }
    }
    if i.auth_pass.is_some() && auth_type_pass.is_none() {
        return err(s.line, "auth_pass without auth_type PASS");
    }
    Ok(i)
}

fn sync_group(s: &Stmt) -> Result<SyncGroupConfig, KeepalivedError> {
    let mut g = SyncGroupConfig {
        name: s.name()?,
        members: Vec::new(),
    };
    for k in s.block()? {
        match k.key() {
            "group" => g
                .members
                .extend(k.list()?.into_iter().map(|(_, w)| w.to_owned())),
            other => {
                return err(
                    k.line,
                    format!("unsupported vrrp_sync_group keyword {other:?}"),
                );
            }
        }
    }
    Ok(g)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vrrpd::config::Plan;

    const SAMPLE: &str = r#"
! Configuration File for keepalived
global_defs {
   router_id LVS_DEVEL
   vrrp_version 3
}

vrrp_script chk_haproxy {
    script "/usr/bin/killall -0 haproxy"   # cheap check
    interval 2
    weight -20
    fall 2
    rise 1
}

vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 0.5
    nopreempt
    virtual_ipaddress {
        192.168.200.16/24
        192.168.200.17
    }
    track_script {
        chk_haproxy weight -30
    }
    track_interface {
        eth1 weight -10
        eth2
    }
    notify_master "/etc/keepalived/notify.sh MASTER"
}

vrrp_instance VI_2 {
    interface eth0
    version 2
    virtual_router_id 52
    authentication {
        auth_type PASS
        auth_pass 1111
    }
    unicast_src_ip 192.168.200.1
    unicast_peer { 192.168.200.2 192.168.200.3 }
    virtual_ipaddress { 192.168.200.20 }
}

vrrp_sync_group VG_1 {
    group {
        VI_1
        VI_2
    }
}
"#;

    #[test]
    fn the_sample_imports_and_validates() {
        let c = import(SAMPLE).unwrap();
        assert_eq!(c.scripts[0].script, "/usr/bin/killall -0 haproxy");
        assert_eq!((c.scripts[0].fall, c.scripts[0].weight), (2, -20));
        let a = &c.instances[0];
        assert_eq!(
            (a.vrid, a.priority, a.version, a.advert_int),
            (51, 150, 3, 0.5)
        );
        assert!(!a.preempt);
        assert_eq!(a.virtual_addresses, ["192.168.200.16/24", "192.168.200.17"]);
        assert_eq!(a.track_script[0].weight, Some(-30));
        assert_eq!(a.track_interface[1].weight, 0);
        assert_eq!(
            a.notify_master.as_deref(),
            Some("/etc/keepalived/notify.sh MASTER")
        );
        let b = &c.instances[1];
        assert_eq!((b.version, b.auth_pass.as_deref()), (2, Some("1111")));
        assert_eq!(b.unicast_peers.len(), 2);
        assert_eq!(c.sync_groups[0].members, ["VI_1", "VI_2"]);
        let plan = Plan::from_config(&c).unwrap();
        assert_eq!(plan.instances.len(), 2);
        assert_eq!(
            plan.instances[0].track_scripts,
            [("chk_haproxy".to_owned(), -30)]
        );
    }

    #[test]
    fn version_defaults_to_2_like_keepalived() {
        let c = import("vrrp_instance A {\n interface e\n virtual_router_id 1\n}\n").unwrap();
        assert_eq!(c.instances[0].version, 2);
    }

    #[test]
    fn unsupported_things_name_their_line() {
        let cases = [
            ("static_ipaddress {\n}\n", 1, "top-level"),
            ("vrrp_instance A {\n  use_vmac\n}\n", 2, "use_vmac"),
            (
                "vrrp_instance A {\n\n  virtual_ipaddress {\n 10.0.0.1 dev eth0\n }\n}\n",
                4,
                "only",
            ),
            (
                "vrrp_instance A {\n authentication {\n  auth_type AH\n }\n}\n",
                3,
                "AH",
            ),
            ("global_defs {\n  vrrp_strict\n}\n", 2, "vrrp_strict"),
            ("vrrp_instance A {\n priority high\n}\n", 2, "bad number"),
            ("vrrp_instance A {\n", 1, "never closed"),
            ("}\n", 1, "unmatched"),
            (
                "vrrp_script s {\n script \"/bin/true\n}\n",
                2,
                "unterminated",
            ),
            (
                "vrrp_sync_group G {\n notify_master x\n}\n",
                2,
                "notify_master",
            ),
            ("vrrp_instance A {\n state INIT\n}\n", 2, "MASTER or BACKUP"),
            (
                "vrrp_instance A {\n authentication {\n auth_pass x\n }\n}\n",
                1,
                "auth_type",
            ),
            ("vrrp_instance A {\n auth_pass x\n}\n", 2, "auth_pass"),
        ];
        for (text, line, needle) in cases {
            let e = import(text).unwrap_err();
            assert_eq!(e.line, line, "{text:?}: {e}");
            assert!(e.to_string().contains(needle), "{text:?}: {e}");
        }
    }

    #[test]
    fn the_director_half_of_the_file_is_skipped_whole() {
        let text = "virtual_server 192.0.2.10 80 {\n lb_algo wrr\n real_server 10.0.0.1 80 {\n  \
                    weight 2\n }\n}\nvirtual_server_group G {\n 192.0.2.10 80\n}\n\
                    vrrp_instance A {\n interface e\n virtual_router_id 7\n}\n";
        let c = import(text).unwrap();
        assert_eq!(c.instances.len(), 1);
        assert_eq!(c.instances[0].vrid, 7);
    }

    #[test]
    fn braces_may_share_lines_and_words() {
        let c = import("vrrp_sync_group G{group{A B}}\n").unwrap();
        assert_eq!(c.sync_groups[0].members, ["A", "B"]);
    }
}
