//! Connection tracking as IPVS does it: the TCP state machine with its INPUT / OUTPUT /
//! INPUT_ONLY tables and timeouts. The connection table itself (keyed hash, timer wheel,
//! bounded memory, persistence templates) builds on these.

mod tcp;

pub use tcp::{Direction, TcpState, TcpTimeouts, tcp_transition};
