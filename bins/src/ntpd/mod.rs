//! `lvs-ntpd`: an NTP client and server daemon around [`lvs_ntp`], with ntpd's operator
//! surface (`ntp.conf`, `restrict`, the `ntpq -p` table, `ntpstat`, `ntpdate -q`).
//!
//! * [`config`]: the ntp.conf subset and its TOML form.
//! * [`daemon`]: the event loop (server, client, control socket, signals).
//! * [`clock`]: kernel clock calls, monitor mode and the drift file.
//! * [`control`]: the control socket protocol behind `--peers` and `--status`.
//! * [`mode6`]: what `ntpq` and `ntpstat` read over NTP control messages (mode 6).
//! * [`query`]: the one-shot `-q` query.
//! * [`reload`]: what SIGHUP re-reads.
//! * [`raw`]: offsets measured against the unmodified clock (monitor mode's peer table).
//!
//! Monitor mode (forced with `--monitor`, or when the process lacks CAP_SYS_TIME) logs every
//! clock change the client asks for instead of making it, and writes no drift file. The client
//! still assumes its corrections are made, so its own offsets are residuals against a clock
//! that was never corrected; the peer table in monitor mode therefore shows the offset and
//! delay measured against the real clock ([`raw`]).

pub mod clock;
pub mod config;
pub mod control;
pub mod daemon;
pub mod mode6;
pub mod query;
pub mod raw;
pub mod reload;
