//! Connection tracking as IPVS does it: the TCP state machine with its INPUT / OUTPUT /
//! INPUT_ONLY tables and timeouts, and a bounded connection table with keyed hashing,
//! incremental growth and O(1) expiry.

mod index;
mod table;
mod tcp;

pub use table::{
    Conn, ConnFlags, ConnId, ConnKey, ConnTable, Inserted, NewConn, TableFull, TableStats,
};
pub use tcp::{Direction, TcpState, TcpTimeouts, tcp_transition};
