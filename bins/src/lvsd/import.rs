//! What the legacy configuration importers share: the `FILE:LINE: message` error, the
//! imported result with its notes, and the checks every imported service goes through.
//!
//! * [`import_lvscf`](super::import_lvscf): Piranha's `lvs.cf` (`lvsd --lvs-cf FILE`).
//! * [`import_keepalived`](super::import_keepalived): keepalived.conf `virtual_server` blocks
//!   (`lvsd -f FILE`).
//!
//! Both produce the same [`Config`] the TOML reader does. A setting lvsd cannot honour is an
//! error naming its file and line; a setting that belongs to another program (heartbeat,
//! VRRP) or that lvsd's proxy mode makes moot is kept out with a note, never silently.

use std::path::Path;

use super::config::{Config, ServiceSpec, check_scheduler};

/// An imported file that cannot be used, with the place of the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct ImportError {
    /// The file (as given, or the included file).
    pub file: String,
    /// 1-based line number (0 when the file could not be read).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl ImportError {
    /// An error at `file:line`.
    pub fn new(file: &str, line: usize, message: impl Into<String>) -> Self {
        Self {
            file: file.to_owned(),
            line,
            message: message.into(),
        }
    }
}

/// How a legacy configuration asked the real servers to be reached. lvsd records it and
/// forwards in proxy mode whatever it says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forwarding {
    /// Masquerading (`network = nat`, `lb_kind NAT`).
    Nat,
    /// Direct routing (`network = direct`, `lb_kind DR`).
    Direct,
    /// IP-in-IP tunnelling (`network = tunnel`, `lb_kind TUN`).
    Tunnel,
}

/// A legacy configuration turned into lvsd's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// The configuration to run.
    pub config: Config,
    /// `FILE:LINE: note: ...` lines about settings kept out or changed in meaning.
    pub notes: Vec<String>,
    /// The forwarding method the file asked for, if it named one.
    pub forwarding: Option<Forwarding>,
    /// The file also holds VRRP blocks (keepalived.conf `vrrp_*`), which
    /// [`crate::vrrpd::load`] reads from the same file.
    pub vrrp: bool,
}

impl Imported {
    /// An empty result with default global settings.
    pub(crate) fn empty() -> Result<Self, ImportError> {
        let config = Config::parse("").map_err(|e| ImportError::new("", 0, e.0))?;
        Ok(Self {
            config,
            notes: Vec::new(),
            forwarding: None,
            vrrp: false,
        })
    }

    /// Record a note about `file:line`.
    pub(crate) fn note(&mut self, file: &str, line: usize, text: impl core::fmt::Display) {
        self.notes.push(format!("{file}:{line}: note: {text}"));
    }

    /// Check a finished service (scheduler, real servers, uniqueness) and add it.
    pub(crate) fn add_service(
        &mut self,
        s: ServiceSpec,
        file: &str,
        line: usize,
    ) -> Result<(), ImportError> {
        let name = format!("service {} {}", s.key.0.label(), s.key.1);
        check_scheduler(&s.scheduler, s.flags)
            .map_err(|e| ImportError::new(file, line, format!("{name}: {e}")))?;
        if self.config.services.iter().any(|o| o.key == s.key) {
            return Err(ImportError::new(
                file,
                line,
                format!("{name} defined twice"),
            ));
        }
        for (i, r) in s.reals.iter().enumerate() {
            if s.reals[..i].iter().any(|o| o.addr == r.addr) {
                return Err(ImportError::new(
                    file,
                    line,
                    format!("{name}: real server {} listed twice", r.addr),
                ));
            }
            if r.weight > i32::MAX as u32 {
                return Err(ImportError::new(
                    file,
                    line,
                    format!("{name}: real server {}: weight out of range", r.addr),
                ));
            }
        }
        if let Some(h) = &s.health {
            for r in &s.reals {
                h.check_for(r.addr, false)
                    .validate()
                    .map_err(|e| ImportError::new(file, line, format!("{name}: {e}")))?;
            }
        }
        self.config.services.push(s);
        Ok(())
    }
}

/// Which legacy format a file is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Legacy {
    /// Piranha's `lvs.cf`.
    LvsCf,
    /// keepalived.conf.
    Keepalived,
}

/// Read a legacy file and import it.
pub fn load(path: &Path, format: Legacy) -> Result<Imported, ImportError> {
    match format {
        Legacy::LvsCf => {
            let file = path.display().to_string();
            let text = std::fs::read_to_string(path)
                .map_err(|e| ImportError::new(&file, 0, format!("cannot read: {e}")))?;
            super::import_lvscf::import(&text, &file)
        }
        Legacy::Keepalived => super::import_keepalived::load(path),
    }
}

/// Parse a whole number with a message naming the key.
pub(crate) fn number<T: core::str::FromStr>(
    v: &str,
    key: &str,
    file: &str,
    line: usize,
) -> Result<T, ImportError> {
    v.parse()
        .map_err(|_| ImportError::new(file, line, format!("{key}: bad number {v:?}")))
}

/// Seconds as a [`Duration`](core::time::Duration): a whole or decimal number above zero.
pub(crate) fn secs(
    v: &str,
    key: &str,
    file: &str,
    line: usize,
) -> Result<core::time::Duration, ImportError> {
    match v.parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 && s <= 1.0e7 => {
            Ok(core::time::Duration::from_secs_f64(s))
        }
        _ => Err(ImportError::new(
            file,
            line,
            format!("{key}: {v:?} is not a number of seconds above zero"),
        )),
    }
}
