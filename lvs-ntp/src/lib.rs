//! NTP (RFC 5905) as Sans-IO machines: the packet codec, the client's clock filter, selection
//! and discipline, and a stateless server responder.
//!
//! Nothing is public yet: the codec and machines land here following the contract in
//! `lvs_core` (see the workspace's ARCHITECTURE.md). Until then this crate exports no API, so
//! nothing can depend on behaviour that does not exist.
