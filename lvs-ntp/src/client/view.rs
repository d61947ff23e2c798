//! Read-only views of the client for operator tools (`ntpq -p`): values the association
//! snapshots do not carry. Nothing here changes the machine.

use lvs_core::Instant;
use lvs_core::rng::Rng;

use super::{Client, ServerConfig};

impl<R: Rng> Client<R> {
    /// Number of configured associations.
    pub fn association_count(&self) -> usize {
        self.assocs.len()
    }

    /// The configuration of association `index`.
    pub fn server_config(&self, index: usize) -> Option<ServerConfig> {
        self.assocs.get(index).map(|a| a.config)
    }

    /// When association `index` last accepted a reply (`ntpq`'s `when`).
    pub fn last_reply(&self, index: usize) -> Option<Instant> {
        self.assocs.get(index)?.last_reply
    }
}
