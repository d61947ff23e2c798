//! twemproxy's `modula` distribution (`nc_modula.c`): one slot per unit of weight for live
//! servers only, in nutcracker's server order — sorted by ketama name, not as listed — and a key
//! goes to slot `hash % slots`.

use super::server::nutcracker_order;
use super::{RingError, ServerSpec};

/// The slot table: each live server's index repeated `weight` times, servers sorted by name.
///
/// The table is as long as the live servers' total weight, which is capped at `max_slots`
/// (callers choose the bound; nutcracker itself allocates whatever the weights ask for).
pub fn modula_slots(
    servers: &[ServerSpec],
    ejected: &[bool],
    max_slots: u64,
) -> Result<Vec<u32>, RingError> {
    if servers.is_empty() || servers.len() > super::MAX_SERVERS {
        return Err(RingError::ServerCount);
    }
    let live = |i: usize| !ejected.get(i).copied().unwrap_or(false);
    let total: u64 = servers
        .iter()
        .enumerate()
        .filter(|(i, _)| live(*i))
        .map(|(_, s)| u64::from(s.weight()))
        .sum();
    if total > max_slots.min(u64::from(u32::MAX)) {
        return Err(RingError::TotalWeight);
    }
    let mut slots = Vec::with_capacity(total as usize);
    for i in nutcracker_order(servers)? {
        if live(i) {
            slots.extend(core::iter::repeat_n(i as u32, servers[i].weight() as usize));
        }
    }
    Ok(slots)
}

/// The owner of `hash` in a slot table (`None` when it is empty).
pub(super) fn modula_lookup(slots: &[u32], hash: u32) -> Option<u32> {
    if slots.is_empty() {
        return None;
    }
    Some(slots[(hash % slots.len() as u32) as usize])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_follow_weights_and_skip_ejected() {
        let s: Vec<ServerSpec> = ["a:1:2", "c:1:3", "b:1:1"]
            .iter()
            .map(|e| ServerSpec::parse(e).unwrap())
            .collect();
        // Sorted by name: "a:1", "b:1", "c:1" = indices 0, 2, 1.
        assert_eq!(modula_slots(&s, &[], 100).unwrap(), vec![0, 0, 2, 1, 1, 1]);
        assert_eq!(
            modula_slots(&s, &[false, false, true], 100).unwrap(),
            vec![0, 0, 1, 1, 1]
        );
        assert_eq!(modula_slots(&s, &[], 5), Err(RingError::TotalWeight));
        let slots = modula_slots(&s, &[], 100).unwrap();
        assert_eq!(modula_lookup(&slots, 7), Some(0));
        assert_eq!(modula_lookup(&slots, 8), Some(2));
        assert_eq!(modula_lookup(&[], 9), None);
    }
}
