//! A plain round-robin scheduler for tests, fuzzing and examples of the director (`lvs-core`
//! cannot depend on `lvs-sched`, which has the real ones). It counts connections exactly as the
//! director reports them, so tests can compare its counts with the director's.

use crate::{ConnState, DestId, DestLoad, DestParams, Flow, Instant, SchedError, Scheduler};

/// Round robin over destinations with weight > 0, counting connections as reported.
#[derive(Debug, Default)]
pub struct RoundRobin {
    dests: Vec<(DestId, DestLoad)>,
    cursor: usize,
}

impl RoundRobin {
    /// A boxed empty scheduler, ready for `Director::add_service`.
    pub fn boxed() -> Box<dyn Scheduler> {
        Box::new(Self::default())
    }

    fn find(&mut self, id: DestId) -> Option<&mut DestLoad> {
        self.dests
            .iter_mut()
            .find(|(d, _)| *d == id)
            .map(|(_, l)| l)
    }
}

impl Scheduler for RoundRobin {
    fn name(&self) -> &'static str {
        "rr"
    }
    fn add_dest(&mut self, id: DestId, p: DestParams) -> Result<(), SchedError> {
        if self.dests.iter().any(|(d, _)| *d == id) {
            return Err(SchedError::DuplicateDest(id));
        }
        self.dests.push((
            id,
            DestLoad {
                weight: p.weight,
                ..DestLoad::default()
            },
        ));
        Ok(())
    }
    fn remove_dest(&mut self, id: DestId) -> Result<(), SchedError> {
        let before = self.dests.len();
        self.dests.retain(|(d, _)| *d != id);
        if self.dests.len() == before {
            return Err(SchedError::NoSuchDest(id));
        }
        Ok(())
    }
    fn set_weight(&mut self, id: DestId, w: u32) -> Result<(), SchedError> {
        self.find(id).ok_or(SchedError::NoSuchDest(id))?.weight = w;
        Ok(())
    }
    fn set_thresholds(&mut self, id: DestId, _: u32, _: u32) -> Result<(), SchedError> {
        self.find(id).map(|_| ()).ok_or(SchedError::NoSuchDest(id))
    }
    fn conn_bound(&mut self, id: DestId, s: ConnState) {
        if let Some(l) = self.find(id) {
            match s {
                ConnState::Active => l.active += 1,
                ConnState::Inactive => l.inactive += 1,
            }
        }
    }
    fn conn_unbound(&mut self, id: DestId, s: ConnState) {
        if let Some(l) = self.find(id) {
            match s {
                ConnState::Active => l.active = l.active.saturating_sub(1),
                ConnState::Inactive => l.inactive = l.inactive.saturating_sub(1),
            }
        }
    }
    fn conn_changed(&mut self, id: DestId, from: ConnState, to: ConnState) {
        self.conn_unbound(id, from);
        self.conn_bound(id, to);
    }
    fn pick(&mut self, _: &Flow, _: Instant) -> Option<DestId> {
        for _ in 0..self.dests.len() {
            let i = self.cursor % self.dests.len();
            self.cursor = i + 1;
            if self.dests[i].1.weight > 0 {
                return Some(self.dests[i].0);
            }
        }
        None
    }
    fn load(&self, id: DestId) -> Option<DestLoad> {
        self.dests.iter().find(|(d, _)| *d == id).map(|(_, l)| *l)
    }
    fn dests(&self) -> Vec<DestId> {
        self.dests.iter().map(|(d, _)| *d).collect()
    }
}
