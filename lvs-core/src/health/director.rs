//! Applying health events to a [`Director`].
//!
//! The policy, chosen so that no configuration is ever lost:
//! * [`Event::Down`] with `remove: false` **quiesces** the real server (weight 0: it keeps its
//!   connections and takes no new ones);
//! * [`Event::Down`] with `remove: true` (the check's service timeout, or a check configured not
//!   to quiesce, or omega at shutdown) **drains** it: [`Director::drain_real`] with this
//!   binding's grace, after which the director removes it. Its settings stay in the binding;
//! * [`Event::Up`] restores the configured weight (or the dynamic weight the event carries)
//!   with [`Director::edit_real`], which also ends a drain in progress; if the server was
//!   already removed it is added again with [`Director::add_real`] (under a new [`RealId`]);
//! * [`Event::Weight`] sets the weight of a live server;
//! * [`Event::Probe`] is for the shell and is ignored here.

use core::time::Duration;
use std::collections::BTreeMap;

use super::Event;
use crate::Instant;
use crate::director::{AdminError, Director, RealConfig, RealId, RealState};
use crate::service::ServiceId;

/// What [`DirectorBinding::apply`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Nothing: a probe request, an unbound id, or a server that is already gone.
    Nothing,
    /// The server's weight was set (restored on up, or a dynamic weight).
    Weight(RealId, u32),
    /// The server was removed earlier and has been added again.
    Added(RealId),
    /// The server was quiesced (weight 0).
    Quiesced(RealId),
    /// The server is draining and will be removed.
    Draining(RealId),
}

#[derive(Debug, Clone, Copy)]
struct Bound {
    svc: ServiceId,
    config: RealConfig,
    real: RealId,
}

/// Maps check ids to real servers and applies [`Event`]s to a [`Director`].
#[derive(Debug, Clone)]
pub struct DirectorBinding<K> {
    bound: BTreeMap<K, Bound>,
    grace: Duration,
}

impl<K: Copy + Ord> DirectorBinding<K> {
    /// An empty binding; removals drain for `grace` before the director removes the server.
    pub fn new(grace: Duration) -> Self {
        Self {
            bound: BTreeMap::new(),
            grace,
        }
    }

    /// Bind check `id` to real server `real` of service `svc`, whose healthy settings are
    /// `config` (as passed to [`Director::add_real`]).
    pub fn bind(&mut self, id: K, svc: ServiceId, real: RealId, config: RealConfig) {
        self.bound.insert(id, Bound { svc, config, real });
    }

    /// Forget check `id`.
    pub fn unbind(&mut self, id: K) {
        self.bound.remove(&id);
    }

    /// The real server check `id` currently stands for (it changes when a removed server is
    /// added again).
    pub fn real(&self, id: K) -> Option<RealId> {
        self.bound.get(&id).map(|b| b.real)
    }

    /// Apply one event.
    pub fn apply(
        &mut self,
        director: &mut Director,
        now: Instant,
        event: &Event<K>,
    ) -> Result<Applied, AdminError> {
        let (id, action) = match *event {
            Event::Probe { .. } => return Ok(Applied::Nothing),
            Event::Up { id, weight, .. } => (id, Action::Up(weight)),
            Event::Down { id, remove, .. } => (id, Action::Down { remove }),
            Event::Weight { id, weight } => (id, Action::Weight(weight)),
        };
        let Some(b) = self.bound.get_mut(&id) else {
            return Ok(Applied::Nothing);
        };
        let live = is_live(director, b);
        let c = b.config;
        match action {
            Action::Up(weight) => {
                let w = weight.unwrap_or(c.weight);
                if live {
                    director.edit_real(b.real, w, c.upper, c.lower)?;
                    Ok(Applied::Weight(b.real, w))
                } else {
                    b.real = director.add_real(b.svc, RealConfig { weight: w, ..c })?;
                    Ok(Applied::Added(b.real))
                }
            }
            Action::Weight(w) if live => {
                director.edit_real(b.real, w, c.upper, c.lower)?;
                Ok(Applied::Weight(b.real, w))
            }
            Action::Down { remove: false } if live => {
                director.edit_real(b.real, 0, c.upper, c.lower)?;
                Ok(Applied::Quiesced(b.real))
            }
            Action::Down { remove: true } if live => {
                director.drain_real(b.real, now, self.grace)?;
                Ok(Applied::Draining(b.real))
            }
            _ => Ok(Applied::Nothing),
        }
    }
}

enum Action {
    Up(Option<u32>),
    Down { remove: bool },
    Weight(u32),
}

/// Whether the bound id still names this server in the director (ids are reused after a
/// removed server's slot is freed).
fn is_live(director: &Director, b: &Bound) -> bool {
    let Ok((cfg, state)) = director.real(b.real) else {
        return false;
    };
    state != RealState::Removed
        && cfg.addr == b.config.addr
        && cfg.port == b.config.port
        && director
            .reals_of(b.svc)
            .is_ok_and(|reals| reals.contains(&b.real))
}
