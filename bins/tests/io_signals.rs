//! SIGHUP calls the reload hook and SIGTERM stops the loop after the stop hook.
//!
//! Signals are process-wide, so this file holds exactly one test and runs in its own process.

mod io_common;

use core::time::Duration;

use io_common::{Counter, Ev};
use lvs_bins::io::{Control, EventLoop, Exit, Handler, UdpOptions};
use lvs_core::Transmit;
use signal_hook::consts::{SIGHUP, SIGTERM};
use signal_hook::low_level::raise;

/// Raises SIGHUP at the first tick and SIGTERM at the first tick after the reload.
#[derive(Default)]
struct Signaller {
    reloads: u32,
    stops: u32,
    raised_term: bool,
    ticks_seen: u32,
    log: Vec<&'static str>,
}

impl Handler<Counter> for Signaller {
    fn event(&mut self, _ctl: &mut Control<'_>, _m: &mut Counter, e: Ev) {
        let Ev::Tick { .. } = e else {
            return;
        };
        self.ticks_seen += 1;
        assert!(self.ticks_seen < 50, "signals never arrived");
        if self.ticks_seen == 1 {
            self.log.push("raise HUP");
            raise(SIGHUP).unwrap();
        } else if self.reloads == 1 && !self.raised_term {
            self.raised_term = true;
            self.log.push("raise TERM");
            raise(SIGTERM).unwrap();
        }
    }

    fn reload(&mut self, _ctl: &mut Control<'_>, _m: &mut Counter) {
        self.reloads += 1;
        self.log.push("reload");
    }

    fn stop(&mut self, ctl: &mut Control<'_>, m: &mut Counter) {
        self.stops += 1;
        self.log.push("stop");
        // A goodbye packet queued in the stop hook still goes out.
        let to = ctl.sockets().local_addr(lvs_bins::io::Token(0)).unwrap();
        m.send(Transmit::new(to, &b"bye"[..]));
    }
}

#[test]
fn sighup_reloads_and_sigterm_stops_after_the_stop_hook() {
    let mut el = EventLoop::new().unwrap();
    let sock = el
        .sockets()
        .add_udp(&UdpOptions::new("127.0.0.1:0".parse().unwrap()))
        .unwrap();
    assert_eq!(sock, lvs_bins::io::Token(0));
    el.handle_signals().unwrap();
    let mut m = Counter::ticking(el.clock().now(), Duration::from_millis(20));
    let mut h = Signaller::default();
    let exit = el.run(&mut m, &mut h).unwrap();

    assert_eq!(exit, Exit::Signal(SIGTERM));
    assert_eq!((h.reloads, h.stops), (1, 1));
    assert_eq!(h.log, ["raise HUP", "reload", "raise TERM", "stop"]);
    assert_eq!(el.stats().reloads, 1);
    // The stop hook's packet was sent to the loop's own socket before `run` returned.
    assert_eq!(el.sockets_ref().send_stats(sock).unwrap().sent, 1);
}
