//! VRRP v2/v3 (RFC 3768 / RFC 5798) as a Sans-IO codec and state machine that interoperates
//! with keepalived.
//!
//! Nothing is public yet: the codec and the state machine land here following the contract in
//! `lvs_core` (see the workspace's ARCHITECTURE.md). Until then this crate exports no API, so
//! nothing can depend on behaviour that does not exist.
