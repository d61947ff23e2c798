//! The director pair's VRRP inside lvsd: [`VrrpHalf`] runs lvs-vrrpd's
//! [`Daemon`](crate::vrrpd::daemon::Daemon) on its own event loop in a thread beside the data
//! plane, as keepalived runs its VRRP and checker halves side by side.
//!
//! Its configuration is an lvs-vrrpd file, named by the `[vrrp]` table of lvsd's TOML or, for
//! `lvsd -f keepalived.conf`, the `vrrp_*` blocks of the same file. The half has its own
//! signal pipe, so the signals lvsd answers reach it as they would reach lvs-vrrpd: SIGHUP
//! reloads the VRRP file (unchanged instances keep running), SIGTERM / SIGINT make every
//! master resign (priority 0, so the peer director takes over within Skew_Time) and remove
//! its VIPs while lvsd drains its connections. [`VrrpHalf::stop`] does the same when lvsd
//! stops for another reason, and waits for the resignation to leave.
//!
//! # How the VIPs are held
//!
//! * **Proxy mode**: as lvs-vrrpd does, a master adds its VIPs to the interface through
//!   rtnetlink and a backup removes them; the proxy listens on them with
//!   `ip_nonlocal_bind=1`, and the kernel answers ARP for them.
//! * **Packet mode**: a VIP must never be a local address there (the kernel would answer its
//!   TCP with resets while lvsd forwards the frames in user space), so the half runs in
//!   publish mode ([`VrrpHalf::start`] with a [`HeldVips`] handle): a master only writes its
//!   VIPs into the handle, and the packet plane answers ARP for a VIP, and announces it,
//!   only while the handle holds it on the plane's interface. The gratuitous ARP that moves
//!   a VIP to the new master still comes from the VRRP half, as from lvs-vrrpd. A VIP of a
//!   VRRP instance on another interface is never held there, and a service VIP no instance
//!   carries is never answered; lvsd warns about both at start.

use core::net::IpAddr;
use std::path::Path;
use std::sync::mpsc;
use std::thread::JoinHandle;

use crate::io::{Exit, StopHandle};
use crate::vrrpd::held::HeldVips;
use crate::vrrpd::{FileShell, Format, load, start};

/// The VRRP half, running.
#[derive(Debug)]
pub struct VrrpHalf {
    stop: StopHandle,
    thread: Option<JoinHandle<Result<Exit, String>>>,
    instances: usize,
    vips: Vec<(String, IpAddr)>,
}

impl VrrpHalf {
    /// Read and validate `path`, open the VRRP sockets and start the instances in a thread.
    /// Every configuration problem, and a failure to open the sockets (not root, no such
    /// interface), is returned here, before anything runs.
    ///
    /// With `publish` the VIPs are not added to the interfaces but written into the handle
    /// (publish mode, for packet mode: see the module docs).
    pub fn start(path: &Path, format: Format, publish: Option<HeldVips>) -> Result<Self, String> {
        let plan = load(path, format).map_err(|errs| errs.join("; "))?;
        if plan.instances.is_empty() {
            return Err(format!("{}: no VRRP instances", path.display()));
        }
        let instances = plan.instances.len();
        let vips = plan
            .instances
            .iter()
            .flat_map(|i| i.vips.iter().map(|v| (i.interface.clone(), v.addr)))
            .collect();
        let mut shell = FileShell {
            path: path.to_owned(),
            format,
            prefix: "vrrp: ",
        };
        let (tx, rx) = mpsc::channel::<Result<StopHandle, String>>();
        let thread = std::thread::Builder::new()
            .name("vrrp".into())
            .spawn(move || -> Result<Exit, String> {
                // Only this thread gets the real-time priority: the data plane keeps the
                // normal scheduler.
                let started = start(plan, publish).map_err(|e| format!("vrrp: {e}"));
                let (mut el, mut daemon) = match started {
                    Ok(v) => v,
                    Err(e) => {
                        let _ = tx.send(Err(e.clone()));
                        return Err(e);
                    }
                };
                if tx.send(Ok(el.stop_handle())).is_err() {
                    // The starter is gone: resign at once rather than run unsupervised.
                    daemon.shutdown(el.clock().now());
                    return Ok(Exit::Requested);
                }
                el.run(&mut daemon, &mut shell)
                    .map_err(|e| format!("vrrp: event loop: {e}"))
            })
            .map_err(|e| format!("vrrp: thread: {e}"))?;
        match rx.recv() {
            Ok(Ok(stop)) => Ok(Self {
                stop,
                thread: Some(thread),
                instances,
                vips,
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => Err(match thread.join() {
                Ok(Err(e)) => e,
                _ => "vrrp: the VRRP thread died while starting".into(),
            }),
        }
    }

    /// How many instances it started with.
    pub fn instances(&self) -> usize {
        self.instances
    }

    /// The virtual addresses of the instances it started with, each with its instance's
    /// interface.
    pub fn vips(&self) -> &[(String, IpAddr)] {
        &self.vips
    }

    /// Whether the half is still running (it ends by itself on SIGTERM / SIGINT).
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Resign, remove the VIPs and wait for the thread (a no-op if a signal already ended it).
    pub fn stop(mut self) -> Result<(), String> {
        self.finish()
    }

    fn finish(&mut self) -> Result<(), String> {
        let Some(thread) = self.thread.take() else {
            return Ok(());
        };
        if !thread.is_finished() {
            // The loop may have ended between the check and the wake-up: a failed wake is
            // harmless then, and the join below still waits.
            let _ = self.stop.stop();
        }
        match thread.join() {
            Ok(Ok(exit)) => {
                tracing::info!(?exit, "vrrp: stopped");
                Ok(())
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Err("vrrp: the VRRP thread panicked".into()),
        }
    }
}

impl Drop for VrrpHalf {
    fn drop(&mut self) {
        if let Err(e) = self.finish() {
            tracing::error!("{e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lvsd::config::{ConfigFile, VrrpSource};

    fn temp(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("lvsd-vrrp-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn the_vrrp_table_names_the_file_and_its_format() {
        let f = ConfigFile::parse("[vrrp]\nfile = \"/etc/lvs/vrrpd.toml\"\n").unwrap();
        assert_eq!(
            f.vrrp,
            Some(VrrpSource {
                file: "/etc/lvs/vrrpd.toml".into(),
                format: Format::Toml
            })
        );
        let f = ConfigFile::parse("[vrrp]\nfile = \"k.conf\"\nformat = \"keepalived\"\n").unwrap();
        assert_eq!(f.vrrp.unwrap().format, Format::Keepalived);
        assert_eq!(ConfigFile::parse("").unwrap().vrrp, None);
        let e = ConfigFile::parse("\n[vrrp]\nfile = \"x\"\nformat = \"xml\"\n").unwrap_err();
        assert!(e.0.starts_with("line 4: vrrp.format \"xml\""), "{e}");
        assert!(ConfigFile::parse("[vrrp]\nfiles = \"x\"\n").is_err());
    }

    #[test]
    fn a_relative_vrrp_file_is_found_beside_the_lvsd_file() {
        let d = temp("rel");
        let p = d.join("lvsd.toml");
        std::fs::write(&p, "[vrrp]\nfile = \"vrrpd.toml\"\n").unwrap();
        let f = ConfigFile::load(&p).unwrap();
        assert_eq!(f.vrrp.unwrap().file, d.join("vrrpd.toml"));
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn configuration_problems_stop_the_start() {
        let d = temp("bad");
        let missing = d.join("none.toml");
        let e = VrrpHalf::start(&missing, Format::Toml, None).unwrap_err();
        assert!(e.contains("none.toml"), "{e}");
        let empty = d.join("empty.toml");
        std::fs::write(&empty, "").unwrap();
        let e = VrrpHalf::start(&empty, Format::Toml, None).unwrap_err();
        assert!(e.contains("no VRRP instances"), "{e}");
        let bad = d.join("bad.toml");
        std::fs::write(&bad, "[[instance]]\nname = \"A\"\n").unwrap();
        assert!(VrrpHalf::start(&bad, Format::Toml, Some(HeldVips::new())).is_err());
        std::fs::remove_dir_all(d).unwrap();
    }
}
