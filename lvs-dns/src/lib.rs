//! A caching DNS forwarder (BIND's `forward only`) as a Sans-IO machine, with a zero-copy
//! message codec.
//!
//! Nothing is public yet: the codec and the forwarder land here following the contract in
//! `lvs_core` (see the workspace's ARCHITECTURE.md). Until then this crate exports no API, so
//! nothing can depend on behaviour that does not exist.
