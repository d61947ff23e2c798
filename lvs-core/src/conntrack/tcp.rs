//! The IPVS TCP state machine (`ip_vs_proto_tcp.c`, newest tables).
//!
//! IPVS does not track TCP sequence numbers; it moves a connection through coarse states from
//! the flags of each segment and the direction it travels, and every packet re-arms the
//! connection's timer with the timeout of its (new) state. Three tables exist:
//! * **INPUT** (client → server) and **OUTPUT** (server → client) for NAT, which sees both
//!   directions;
//! * **INPUT_ONLY** for the "half connections" of DR and TUN, whose replies bypass the director
//!   (`NOOUTPUT`); seeing a single OUTPUT packet clears that mode.
//!
//! `secure_tcp` swaps in the `dos` variants, in which a connection becomes ESTABLISHED only
//! after the server's side has been seen.
//!
//! The flag index has priority RST > SYN > FIN > ACK; a segment with none of them moves the
//! connection to CLOSE.

use core::fmt;
use core::time::Duration;

/// An IPVS TCP connection state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum TcpState {
    /// NONE: created, nothing seen yet.
    None = 0,
    /// ESTABLISHED.
    Established = 1,
    /// SYN_SENT.
    SynSent = 2,
    /// SYN_RECV.
    SynRecv = 3,
    /// FIN_WAIT.
    FinWait = 4,
    /// TIME_WAIT.
    TimeWait = 5,
    /// CLOSE.
    Close = 6,
    /// CLOSE_WAIT.
    CloseWait = 7,
    /// LAST_ACK.
    LastAck = 8,
    /// LISTEN.
    Listen = 9,
    /// SYNACK.
    SynAck = 10,
}

impl TcpState {
    /// Every state in table order.
    pub const ALL: [Self; 11] = [
        Self::None,
        Self::Established,
        Self::SynSent,
        Self::SynRecv,
        Self::FinWait,
        Self::TimeWait,
        Self::Close,
        Self::CloseWait,
        Self::LastAck,
        Self::Listen,
        Self::SynAck,
    ];

    /// The name `ipvsadm -Lnc` prints.
    pub const fn name(self) -> &'static str {
        match self {
            Self::None => "NONE",
            Self::Established => "ESTABLISHED",
            Self::SynSent => "SYN_SENT",
            Self::SynRecv => "SYN_RECV",
            Self::FinWait => "FIN_WAIT",
            Self::TimeWait => "TIME_WAIT",
            Self::Close => "CLOSE",
            Self::CloseWait => "CLOSE_WAIT",
            Self::LastAck => "LAST_ACK",
            Self::Listen => "LISTEN",
            Self::SynAck => "SYNACK",
        }
    }

    /// Whether a connection in this state counts as active for the scheduler (newer kernels:
    /// ES, SYN_SENT, SYN_RECV and SYNACK).
    pub const fn is_active(self) -> bool {
        matches!(
            self,
            Self::Established | Self::SynSent | Self::SynRecv | Self::SynAck
        )
    }
}

impl fmt::Display for TcpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which way a segment travels, as IPVS sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Client → real server.
    Input,
    /// Real server → client (seen only in NAT).
    Output,
}

/// Per-state timeouts, settable as `ipvsadm --set tcp tcpfin udp` does for ES, FIN_WAIT and UDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpTimeouts {
    table: [Duration; 11],
}

impl Default for TcpTimeouts {
    /// The kernel defaults: NONE 2 s, ES 900, SYN_SENT 120, SYN_RECV 60, FIN_WAIT 120,
    /// TIME_WAIT 120, CLOSE 10, CLOSE_WAIT 60, LAST_ACK 30, LISTEN 120, SYNACK 120.
    fn default() -> Self {
        let s = Duration::from_secs;
        Self {
            table: [
                s(2),
                s(900),
                s(120),
                s(60),
                s(120),
                s(120),
                s(10),
                s(60),
                s(30),
                s(120),
                s(120),
            ],
        }
    }
}

impl TcpTimeouts {
    /// The timeout of `state`.
    pub fn get(&self, state: TcpState) -> Duration {
        self.table[state as usize]
    }

    /// Set the timeout of `state`.
    pub fn set(&mut self, state: TcpState, d: Duration) {
        self.table[state as usize] = d;
    }
}

use TcpState::{
    Close as CL, CloseWait as CW, Established as ES, FinWait as FW, LastAck as LA, Listen as LI,
    SynAck as SA, SynRecv as SR, SynSent as SS, TimeWait as TW,
};

type Row = [TcpState; 11];

/// Rows per table: syn, fin, ack, rst.
const NORMAL: [[Row; 4]; 3] = [
    // INPUT
    [
        [SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR],
        [CL, CW, SS, TW, TW, TW, CL, CW, LA, LI, TW],
        [ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES],
        [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, SR],
    ],
    // OUTPUT
    [
        [SS, ES, SS, SR, SS, SS, SS, SS, SS, LI, SR],
        [TW, FW, SS, TW, FW, TW, CL, TW, LA, LI, TW],
        [ES, ES, SS, ES, FW, TW, CL, CW, LA, ES, ES],
        [CL, CL, SS, CL, CL, TW, CL, CL, CL, CL, CL],
    ],
    // INPUT_ONLY
    [
        [SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR],
        [CL, FW, SS, TW, FW, TW, CL, CW, LA, LI, TW],
        [ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES],
        [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL],
    ],
];

const DOS: [[Row; 4]; 3] = [
    // INPUT
    [
        [SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SA],
        [CL, CW, SS, TW, TW, TW, CL, CW, LA, LI, SA],
        [ES, ES, SS, SR, FW, TW, CL, CW, CL, LI, SA],
        [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL],
    ],
    // OUTPUT
    [
        [SS, ES, SS, SA, SS, SS, SS, SS, SS, LI, SA],
        [TW, FW, SS, TW, FW, TW, CL, TW, LA, LI, TW],
        [ES, ES, SS, ES, FW, TW, CL, CW, LA, ES, ES],
        [CL, CL, SS, CL, CL, TW, CL, CL, CL, CL, CL],
    ],
    // INPUT_ONLY
    [
        [SA, ES, ES, SR, SA, SA, SA, SA, SA, SA, SA],
        [CL, FW, SS, TW, FW, TW, CL, CW, LA, LI, TW],
        [ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES],
        [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL],
    ],
];

/// The flag index: RST > SYN > FIN > ACK, `None` when none is set.
fn flag_index(flags: u8) -> Option<usize> {
    if flags & 0x04 != 0 {
        Some(3)
    } else if flags & 0x02 != 0 {
        Some(0)
    } else if flags & 0x01 != 0 {
        Some(1)
    } else if flags & 0x10 != 0 {
        Some(2)
    } else {
        None
    }
}

/// The state after a segment with TCP `flags` travelling in `dir`.
///
/// `no_output` is the connection's NOOUTPUT flag (DR/TUN); it is cleared when an OUTPUT
/// segment is seen, and selects the INPUT_ONLY table otherwise. `secure` selects the `dos`
/// tables (`secure_tcp`).
///
/// ```
/// use lvs_core::conntrack::{Direction, TcpState, tcp_transition};
/// let mut no_output = true; // a DR connection
/// let s = tcp_transition(TcpState::None, Direction::Input, 0x02, &mut no_output, false);
/// assert_eq!(s, TcpState::SynRecv);
/// let s = tcp_transition(s, Direction::Input, 0x10, &mut no_output, false);
/// assert_eq!(s, TcpState::Established);
/// // In half-connection mode a client FIN goes to FIN_WAIT, not CLOSE_WAIT.
/// assert_eq!(tcp_transition(s, Direction::Input, 0x11, &mut no_output, false), TcpState::FinWait);
/// ```
pub fn tcp_transition(
    state: TcpState,
    dir: Direction,
    flags: u8,
    no_output: &mut bool,
    secure: bool,
) -> TcpState {
    let table = match dir {
        Direction::Output => {
            *no_output = false;
            1
        }
        Direction::Input if *no_output => 2,
        Direction::Input => 0,
    };
    let Some(idx) = flag_index(flags) else {
        return TcpState::Close;
    };
    let tables = if secure { &DOS } else { &NORMAL };
    tables[table][idx][state as usize]
}

#[cfg(test)]
mod tests {
    use super::*;
    use TcpState::None as NO;

    const SYN: u8 = 0x02;
    const FIN: u8 = 0x01;
    const ACK: u8 = 0x10;
    const RST: u8 = 0x04;

    fn step(s: TcpState, dir: Direction, flags: u8, no_out: &mut bool) -> TcpState {
        tcp_transition(s, dir, flags, no_out, false)
    }

    #[test]
    fn nat_three_way_handshake_and_close() {
        let mut n = false;
        let s = step(TcpState::None, Direction::Input, SYN, &mut n);
        assert_eq!(s, SR);
        let s = step(s, Direction::Output, SYN | ACK, &mut n);
        assert_eq!(s, SR, "SYN has priority over ACK");
        let s = step(s, Direction::Input, ACK, &mut n);
        assert_eq!(s, ES);
        let s = step(s, Direction::Input, FIN | ACK, &mut n);
        assert_eq!(s, CW);
        let s = step(s, Direction::Output, FIN | ACK, &mut n);
        assert_eq!(s, TW);
        assert_eq!(step(s, Direction::Input, ACK, &mut n), TW);
    }

    #[test]
    fn flag_priority_and_flagless_segments() {
        let mut n = false;
        assert_eq!(
            step(ES, Direction::Input, RST | SYN | FIN | ACK, &mut n),
            CL,
            "RST wins"
        );
        assert_eq!(
            step(ES, Direction::Input, SYN | FIN, &mut n),
            ES,
            "SYN beats FIN"
        );
        assert_eq!(
            step(ES, Direction::Input, 0x08, &mut n),
            CL,
            "PSH only: CLOSE"
        );
    }

    #[test]
    fn half_connection_table_and_output_clears_no_output() {
        let mut n = true;
        assert_eq!(step(ES, Direction::Input, FIN, &mut n), FW);
        assert_eq!(step(SA, Direction::Input, RST, &mut n), CL);
        assert!(n);
        // One OUTPUT packet switches the connection to full tables for good.
        assert_eq!(step(ES, Direction::Output, ACK, &mut n), ES);
        assert!(!n);
        assert_eq!(step(ES, Direction::Input, FIN, &mut n), CW);
    }

    #[test]
    fn secure_tcp_needs_the_server_side() {
        let mut n = false;
        let sec = |s, d, f, n: &mut bool| tcp_transition(s, d, f, n, true);
        let s = sec(NO, Direction::Input, SYN, &mut n);
        assert_eq!(s, SR);
        assert_eq!(
            sec(s, Direction::Input, ACK, &mut n),
            SR,
            "client ACK alone does not establish"
        );
        let s = sec(s, Direction::Output, SYN | ACK, &mut n);
        assert_eq!(s, SA);
        assert_eq!(sec(s, Direction::Input, ACK, &mut n), SA);
        assert_eq!(sec(s, Direction::Output, ACK, &mut n), ES);
        let mut dr = true;
        assert_eq!(sec(NO, Direction::Input, SYN, &mut dr), SA);
    }

    #[test]
    fn direction_flag_and_table_wiring_is_exhaustive() {
        // Exhaustive over state x flag x direction x table: each (direction, NOOUTPUT, secure)
        // combination must select its own table and each flag its own row.
        for (t, tables) in [(false, &NORMAL), (true, &DOS)] {
            for (ti, dir, no_out) in [
                (0, Direction::Input, false),
                (1, Direction::Output, false),
                (2, Direction::Input, true),
            ] {
                for (fi, flags) in [(0, SYN), (1, FIN), (2, ACK), (3, RST)] {
                    for s in TcpState::ALL {
                        let mut n = no_out;
                        assert_eq!(
                            tcp_transition(s, dir, flags, &mut n, t),
                            tables[ti][fi][s as usize]
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn defaults_and_activity() {
        let t = TcpTimeouts::default();
        assert_eq!(t.get(ES), Duration::from_secs(900));
        assert_eq!(t.get(SR), Duration::from_secs(60));
        assert_eq!(t.get(CL), Duration::from_secs(10));
        let active: Vec<_> = TcpState::ALL
            .into_iter()
            .filter(|s| s.is_active())
            .collect();
        assert_eq!(active, [ES, SS, SR, SA]);
        assert_eq!(SA.to_string(), "SYNACK");
    }
}
