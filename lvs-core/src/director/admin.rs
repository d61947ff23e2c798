//! Configuration: services and real servers (`ipvsadm -A/-E/-D`, `-a/-e/-d`).

use core::time::Duration;

use super::{Director, RealConfig, RealId, RealSlot, RealState, ServiceConfig, ServiceSlot};
use crate::service::{AddrKey, ServiceError, ServiceId, ServiceKey};
use crate::{DestId, DestParams, Instant, SchedError, Scheduler};

/// Misuse of the configuration interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// A service error (exists, not found, port 0 without persistence).
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// The scheduler refused the change.
    #[error(transparent)]
    Scheduler(#[from] SchedError),
    /// No such real server.
    #[error("no such real server")]
    NoSuchReal,
    /// The real server is already in this service.
    #[error("real server already exists in this service")]
    RealExists,
    /// Too many virtual addresses or real servers.
    #[error("too many virtual addresses or real servers")]
    TooMany,
}

impl Director {
    /// Add a virtual service scheduled by `sched` (build one with `lvs_sched::by_name`).
    pub fn add_service(
        &mut self,
        config: ServiceConfig,
        sched: Box<dyn Scheduler>,
    ) -> Result<ServiceId, AdminError> {
        let vip = match config.key {
            ServiceKey::Addr { addr, .. } => {
                let v = self.vip_id(addr);
                if v == u16::MAX {
                    return Err(AdminError::TooMany);
                }
                Some(v)
            }
            ServiceKey::Fwmark(_) => None,
        };
        let id = self.services.add(config.key, config.persistence)?;
        let slot = ServiceSlot {
            config,
            sched,
            reals: Vec::new(),
            vip,
            quiesce_server: false,
            stats: Default::default(),
            est: Default::default(),
        };
        let i = usize::from(id.0);
        if self.slots.len() <= i {
            self.slots.resize_with(i + 1, || None);
        }
        self.slots[i] = Some(slot);
        Ok(id)
    }

    /// Change a service's persistence and one-packet settings (`ipvsadm -E`), optionally
    /// replacing its scheduler. With a new scheduler, every real server is added to it again in
    /// the service's order; connection counts start from zero in the new scheduler, as in the
    /// kernel.
    pub fn edit_service(
        &mut self,
        id: ServiceId,
        config: ServiceConfig,
        sched: Option<Box<dyn Scheduler>>,
    ) -> Result<(), AdminError> {
        let reals: Vec<(RealId, RealConfig)> = {
            let slot = self.slot(id)?;
            slot.reals
                .iter()
                .filter_map(|&r| self.real_slot(r).ok().map(|s| (r, s.config)))
                .collect()
        };
        let slot = self.slots[usize::from(id.0)]
            .as_mut()
            .ok_or(ServiceError::NotFound)?;
        if config.key != slot.config.key {
            return Err(ServiceError::Exists.into());
        }
        slot.config = config;
        if let Some(mut sched) = sched {
            for (r, c) in reals {
                sched.add_dest(DestId(r.0), params(&c))?;
            }
            slot.sched = sched;
        }
        Ok(())
    }

    /// Remove a service and all its real servers.
    pub fn remove_service(&mut self, id: ServiceId) -> Result<(), AdminError> {
        let key = self.slot(id)?.config.key;
        let reals = self.slot(id)?.reals.clone();
        for r in reals {
            self.remove_real(r)?;
        }
        self.services.remove(key)?;
        self.slots[usize::from(id.0)] = None;
        Ok(())
    }

    /// Find a service by its key.
    pub fn find_service(&self, key: ServiceKey) -> Option<ServiceId> {
        self.services.find(key)
    }

    /// Add a real server to a service.
    pub fn add_real(&mut self, svc: ServiceId, config: RealConfig) -> Result<RealId, AdminError> {
        let exists = self.slot(svc)?.reals.iter().any(|&r| {
            self.real_slot(r)
                .is_ok_and(|s| s.config.addr == config.addr && s.config.port == config.port)
        });
        if exists {
            return Err(AdminError::RealExists);
        }
        let index = match self.reals.iter().position(Option::is_none) {
            Some(i) => i,
            None => {
                if self.reals.len() >= u32::MAX as usize {
                    return Err(AdminError::TooMany);
                }
                self.reals.push(None);
                self.reals.len() - 1
            }
        };
        let id = RealId(index as u32);
        self.slot_mut(svc)?
            .sched
            .add_dest(DestId(id.0), params(&config))?;
        self.slot_mut(svc)?.reals.push(id);
        let state = if config.weight > 0 {
            RealState::Active
        } else {
            RealState::Quiesced
        };
        self.reals[index] = Some(RealSlot {
            svc,
            config,
            state,
            stats: Default::default(),
            est: Default::default(),
            active: 0,
            inactive: 0,
            persistent: 0,
            refs: 0,
        });
        self.by_addr
            .entry(AddrKey::new(0, config.addr, config.port))
            .or_default()
            .push(id);
        if config.weight > 0 {
            self.came_online(svc);
        }
        Ok(id)
    }

    /// Piranha's `quiesce_server` for a service: whenever a real server comes online (added
    /// with a weight, or its weight raised from 0), the least-connection counts of every real
    /// server in the service start again from zero, so the newcomer is not flooded with every
    /// new connection while it catches up. Existing connections keep flowing; they just stop
    /// counting.
    pub fn set_quiesce_server(&mut self, svc: ServiceId, on: bool) -> Result<(), AdminError> {
        self.slot_mut(svc)?.quiesce_server = on;
        Ok(())
    }

    fn came_online(&mut self, svc: ServiceId) {
        if self.slot(svc).is_ok_and(|s| s.quiesce_server) {
            self.reset_counts(svc);
        }
    }

    /// Change a real server's weight and thresholds (`ipvsadm -e`). Address, port and method
    /// stay; a weight above 0 ends a drain.
    pub fn edit_real(
        &mut self,
        id: RealId,
        weight: u32,
        upper: u32,
        lower: u32,
    ) -> Result<(), AdminError> {
        let (svc, was_online) = {
            let r = self.real_slot(id)?;
            (r.svc, r.config.weight > 0)
        };
        {
            let s = &mut self.slots[usize::from(svc.0)]
                .as_mut()
                .ok_or(AdminError::NoSuchReal)?
                .sched;
            s.set_weight(DestId(id.0), weight)?;
            s.set_thresholds(DestId(id.0), upper, lower)?;
        }
        let r = self.real_slot_mut(id)?;
        r.config.weight = weight;
        r.config.upper = upper;
        r.config.lower = lower;
        r.state = if weight > 0 {
            RealState::Active
        } else {
            RealState::Quiesced
        };
        if weight > 0 && !was_online {
            self.came_online(svc);
        }
        Ok(())
    }

    /// Quiesce a real server now and remove it at `now + grace` (or earlier, once it has no
    /// connections left).
    pub fn drain_real(
        &mut self,
        id: RealId,
        now: Instant,
        grace: Duration,
    ) -> Result<(), AdminError> {
        let svc = self.real_slot(id)?.svc;
        self.slot_mut(svc)?.sched.set_weight(DestId(id.0), 0)?;
        let r = self.real_slot_mut(id)?;
        r.config.weight = 0;
        r.state = RealState::Draining {
            deadline: now + grace,
        };
        Ok(())
    }

    /// Remove a real server. From the moment this returns no packet is forwarded to it.
    pub fn remove_real(&mut self, id: RealId) -> Result<(), AdminError> {
        let (svc, addr, port) = {
            let r = self.real_slot(id)?;
            (r.svc, r.config.addr, r.config.port)
        };
        let slot = self.slot_mut(svc)?;
        slot.sched.remove_dest(DestId(id.0))?;
        slot.reals.retain(|&r| r != id);
        if let Some(v) = self.by_addr.get_mut(&AddrKey::new(0, addr, port)) {
            v.retain(|&r| r != id);
            if v.is_empty() {
                self.by_addr.remove(&AddrKey::new(0, addr, port));
            }
        }
        // The slot stays (state Removed) while connections still name it, so their packets
        // can be recognised and dropped or re-scheduled; it is freed by `handle_timeout` once
        // no connection refers to it.
        self.real_slot_mut(id)?.state = RealState::Removed;
        Ok(())
    }

    /// The real servers of a service, in list order.
    pub fn reals_of(&self, svc: ServiceId) -> Result<&[RealId], AdminError> {
        Ok(&self.slot(svc)?.reals)
    }

    /// A real server's configuration and state.
    pub fn real(&self, id: RealId) -> Result<(RealConfig, RealState), AdminError> {
        let r = self.real_slot(id)?;
        Ok((r.config, r.state))
    }

    /// The service's scheduler (e.g. for its load counters).
    pub fn scheduler(&self, svc: ServiceId) -> Result<&dyn Scheduler, AdminError> {
        Ok(self.slot(svc)?.sched.as_ref())
    }

    pub(super) fn slot(&self, id: ServiceId) -> Result<&ServiceSlot, AdminError> {
        self.slots
            .get(usize::from(id.0))
            .and_then(Option::as_ref)
            .ok_or(AdminError::Service(ServiceError::NotFound))
    }

    pub(super) fn slot_mut(&mut self, id: ServiceId) -> Result<&mut ServiceSlot, AdminError> {
        self.slots
            .get_mut(usize::from(id.0))
            .and_then(Option::as_mut)
            .ok_or(AdminError::Service(ServiceError::NotFound))
    }

    pub(super) fn real_slot(&self, id: RealId) -> Result<&RealSlot, AdminError> {
        self.reals
            .get(id.0 as usize)
            .and_then(Option::as_ref)
            .ok_or(AdminError::NoSuchReal)
    }

    pub(super) fn real_slot_mut(&mut self, id: RealId) -> Result<&mut RealSlot, AdminError> {
        self.reals
            .get_mut(id.0 as usize)
            .and_then(Option::as_mut)
            .ok_or(AdminError::NoSuchReal)
    }
}

fn params(c: &RealConfig) -> DestParams {
    DestParams {
        addr: c.addr,
        port: c.port,
        weight: c.weight,
        upper_threshold: c.upper,
        lower_threshold: c.lower,
    }
}
