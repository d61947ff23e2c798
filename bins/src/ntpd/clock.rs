//! The system clock side of `lvs-ntpd`: the wall-clock sampler, the kernel calls that carry
//! out the client's [`Event`]s (or, in monitor mode, a log line saying what would be done),
//! and the drift file, written atomically.

use std::io::{self, Write as _};
use std::path::Path;

use lvs_ntp::UnixNanos;
use lvs_ntp::client::Event;
use lvs_ntp::wire::LeapIndicator;

/// The wall clock now, as NTP timestamps are sampled (CLOCK_REALTIME).
pub fn wall_now() -> UnixNanos {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_REALTIME always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    UnixNanos(i128::from(ts.tv_sec) * 1_000_000_000 + i128::from(ts.tv_nsec))
}

/// Whether this process holds CAP_SYS_TIME in its effective set (bit 25 of `CapEff`).
pub fn has_cap_sys_time() -> bool {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return false;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .is_some_and(|caps| caps & (1 << 25) != 0)
}

/// What the daemon does with clock events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockMode {
    /// Log only.
    Monitor,
    /// Call the kernel.
    Control,
}

/// Carries out (or, in monitor mode, describes) one clock event. Returns the log line.
pub fn apply(mode: ClockMode, event: &Event) -> io::Result<String> {
    let what = describe(event);
    if mode == ClockMode::Monitor {
        return Ok(format!("monitor mode, would {what}"));
    }
    match *event {
        Event::Slew { offset } => {
            let ns = offset.as_nanos();
            let tv = libc::timeval {
                tv_sec: ns.div_euclid(1_000_000_000),
                tv_usec: ns.rem_euclid(1_000_000_000) / 1000,
            };
            // SAFETY: a valid timeval in, no old value requested.
            check(unsafe { libc::adjtime(&tv, core::ptr::null_mut()) })?;
        }
        Event::Step { offset } => {
            let ns = offset.as_nanos();
            let mut tx = timex();
            tx.modes = libc::ADJ_SETOFFSET | libc::ADJ_NANO;
            tx.time.tv_sec = ns.div_euclid(1_000_000_000);
            tx.time.tv_usec = ns.rem_euclid(1_000_000_000);
            // SAFETY: a valid timex.
            check(unsafe { libc::adjtimex(&mut tx) })?;
        }
        Event::SetFrequency { ppm } => {
            let mut tx = timex();
            tx.modes = libc::ADJ_FREQUENCY;
            // The kernel's unit is ppm with a 16-bit binary fraction.
            tx.freq = (ppm.clamp(-500.0, 500.0) * 65536.0).round() as libc::c_long;
            // SAFETY: a valid timex.
            check(unsafe { libc::adjtimex(&mut tx) })?;
        }
        Event::Leap(leap) => {
            let mut tx = timex();
            tx.modes = libc::ADJ_STATUS;
            // SAFETY: reading the status first (modes 0 is a read).
            let mut cur = timex();
            check(unsafe { libc::adjtimex(&mut cur) })?;
            let base = cur.status & !(libc::STA_INS | libc::STA_DEL);
            tx.status = base
                | match leap {
                    LeapIndicator::InsertSecond => libc::STA_INS,
                    LeapIndicator::DeleteSecond => libc::STA_DEL,
                    _ => 0,
                };
            // SAFETY: a valid timex.
            check(unsafe { libc::adjtimex(&mut tx) })?;
        }
        _ => {}
    }
    Ok(what)
}

fn timex() -> libc::timex {
    // SAFETY: timex is plain old data; all-zero is a valid value (modes 0 = read only).
    unsafe { core::mem::zeroed() }
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// A human description of an event.
pub fn describe(event: &Event) -> String {
    match event {
        Event::Slew { offset } => format!("slew the clock by {:+.9} s", offset.as_secs_f64()),
        Event::Step { offset } => format!("step the clock by {:+.9} s", offset.as_secs_f64()),
        Event::SetFrequency { ppm } => format!("set the frequency to {ppm:+.3} ppm"),
        Event::Panic { offset } => format!(
            "refuse an offset of {:+.3} s beyond the panic threshold; set the clock by hand",
            offset.as_secs_f64()
        ),
        Event::Leap(l) => format!("set the kernel leap state to {l:?}"),
        Event::SystemPeer { server } => format!("select {server} as system peer"),
        Event::Unreachable { server } => format!("mark {server} unreachable"),
        Event::RateLimited { server, minpoll } => {
            format!("slow down for {server} (RATE kiss): minpoll {minpoll}")
        }
        Event::Demobilised { server, code } => format!("stop polling {server} (kiss {code})"),
    }
}

/// Writes the drift file atomically: a temporary file beside it, fsync, then rename.
pub fn write_drift(path: &Path, ppm: f64) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(lvs_ntp::client::drift::format(ppm).as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

/// Reads the drift file: `Ok(None)` if it does not exist.
pub fn read_drift(path: &Path) -> io::Result<Option<f64>> {
    match std::fs::read_to_string(path) {
        Ok(text) => lvs_ntp::client::drift::parse(&text)
            .map(Some)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lvs_ntp::NtpDuration;

    #[test]
    fn drift_round_trip_is_atomic() {
        let dir = std::env::temp_dir().join(format!("lvs-ntpd-drift-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("drift");
        assert_eq!(read_drift(&path).unwrap(), None);
        write_drift(&path, -12.5).unwrap();
        assert_eq!(read_drift(&path).unwrap(), Some(-12.5));
        assert!(!dir.join("drift.tmp").exists());
        std::fs::write(&path, "garbage").unwrap();
        assert!(read_drift(&path).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn monitor_mode_touches_nothing() {
        let e = Event::Step {
            offset: NtpDuration::from_nanos(1_500_000_000),
        };
        let line = apply(ClockMode::Monitor, &e).unwrap();
        assert_eq!(line, "monitor mode, would step the clock by +1.500000000 s");
    }

    #[test]
    fn wall_clock_is_sane() {
        assert!(wall_now().0 > 1_600_000_000_000_000_000);
    }
}
