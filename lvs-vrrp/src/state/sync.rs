//! Sync groups (keepalived `vrrp_sync_group`): members move together.

use lvs_core::Instant;

use super::Instance;
use super::types::{CommandError, State};

/// A set of instances (by index into the caller's slice) that change state together
/// (keepalived `vrrp_sync_group`):
///
/// * A member's own fault (a weight-0 tracked input down) puts every member into
///   [`State::Fault`]; when no member has an own fault left, they all leave it together.
/// * A member that becomes master pulls the backups of the group to master.
/// * A member that falls from master to backup pushes the other masters to backup (each sends
///   priority 0, so its peer takes over within Skew_Time).
///
/// The group is a small component beside the instances: after feeding any member, call
/// [`SyncGroup::reconcile`] with the slice that holds them, then drain every member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncGroup {
    members: Vec<usize>,
    last: Vec<State>,
    faulted: bool,
}

impl SyncGroup {
    /// A group of the instances at `members` in the slice later given to
    /// [`SyncGroup::reconcile`].
    pub fn new(members: impl IntoIterator<Item = usize>) -> Self {
        let members: Vec<usize> = members.into_iter().collect();
        Self {
            last: vec![State::Initialize; members.len()],
            members,
            faulted: false,
        }
    }

    /// The member indices.
    pub fn members(&self) -> &[usize] {
        &self.members
    }

    /// Whether the group holds its members in fault.
    pub fn is_faulted(&self) -> bool {
        self.faulted
    }

    /// Make the members follow each other (see [`SyncGroup`]). Returns
    /// whether any member was moved.
    pub fn reconcile(
        &mut self,
        now: Instant,
        instances: &mut [Instance],
    ) -> Result<bool, CommandError> {
        if self.members.iter().any(|&m| m >= instances.len()) {
            return Err(CommandError::UnknownMember);
        }
        let mut moved = false;
        let own_fault = self.members.iter().any(|&m| instances[m].own_fault());
        if own_fault != self.faulted {
            self.faulted = own_fault;
            for &m in &self.members {
                instances[m].sync_fault(now, own_fault);
            }
            moved = true;
        } else if !self.faulted {
            let states: Vec<State> = self.members.iter().map(|&m| instances[m].state()).collect();
            let changed =
                |to: State| (0..states.len()).find(|&i| states[i] == to && self.last[i] != to);
            let target = if changed(State::Master).is_some() {
                Some((State::Backup, State::Master))
            } else {
                let fell = (0..states.len())
                    .find(|&i| states[i] == State::Backup && self.last[i] == State::Master);
                fell.map(|_| (State::Master, State::Backup))
            };
            if let Some((from, to)) = target {
                for (i, &m) in self.members.iter().enumerate() {
                    if states[i] == from {
                        instances[m].sync_follow(now, to);
                        moved = true;
                    }
                }
            }
        }
        for (i, &m) in self.members.iter().enumerate() {
            self.last[i] = instances[m].state();
        }
        Ok(moved)
    }
}
