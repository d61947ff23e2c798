//! The control socket in packet mode: the same protocol and connection handling as proxy
//! mode ([`admin`](crate::lvsd::admin)), run against the [`Plane`](super::Plane).

use std::io;

use lvs_core::Instant;
use mio::Interest;

use super::{Entry, PacketDaemon};
use crate::lvsd::daemon::{Ctl, CtlStep, execute_lines};

impl PacketDaemon {
    pub(super) fn accept_ctl(&mut self, slot: usize) {
        loop {
            let Some(Entry::Control(l)) = self.slots[slot].as_ref() else {
                return;
            };
            match l.accept() {
                Ok((sock, _)) => {
                    let interest = Interest::READABLE | Interest::WRITABLE;
                    let _ = self.insert(Entry::Ctl(Box::new(Ctl::new(sock))), interest);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    }

    pub(super) fn drive_ctl(&mut self, slot: usize, now: Instant) {
        let Some(Entry::Ctl(c)) = self.slots[slot].as_mut() else {
            return;
        };
        match c.read() {
            CtlStep::Pending => return,
            CtlStep::Close => {
                self.remove(slot);
                return;
            }
            CtlStep::Write => {}
            CtlStep::Run(request) => {
                let plane = &mut self.plane;
                let reply = execute_lines(&request, |cmd, out| plane.apply(cmd, now, out));
                c.reply(reply);
            }
        }
        if c.write() {
            self.remove(slot);
        }
    }
}
