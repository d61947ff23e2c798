//! A plain round-robin scheduler for director tests (lvs-core cannot depend on lvs-sched),
//! counting connections as the director reports them.

use lvs_core::{ConnState, DestId, DestLoad, DestParams, Flow, Instant, SchedError, Scheduler};

#[derive(Debug, Default)]
pub(crate) struct TestRr {
    dests: Vec<(DestId, DestLoad)>,
    cursor: usize,
}

impl TestRr {
    pub(crate) fn boxed() -> Box<dyn Scheduler> {
        Box::new(Self::default())
    }

    fn find(&mut self, id: DestId) -> Option<&mut DestLoad> {
        self.dests
            .iter_mut()
            .find(|(d, _)| *d == id)
            .map(|(_, l)| l)
    }
}

impl Scheduler for TestRr {
    fn name(&self) -> &'static str {
        "rr"
    }
    fn add_dest(&mut self, id: DestId, p: DestParams) -> Result<(), SchedError> {
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
        self.dests.retain(|(d, _)| *d != id);
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
                ConnState::Active => l.active -= 1,
                ConnState::Inactive => l.inactive -= 1,
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
