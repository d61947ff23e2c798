//! A tournament (segment) tree over list positions: the index that lets the connection-count
//! schedulers answer "which destination would the kernel's full scan choose?" by reading one
//! root, and re-rank a destination in O(log N) when its counters change.
//!
//! Every leaf holds its list position when the destination may be chosen, or [`NONE`]. Every
//! inner node holds the winner of its two children, where the right child wins only when it is
//! *strictly* better. Because the left subtree always covers earlier list positions, the root is
//! the first destination (in list order) among those with the best key: exactly the result of
//! the kernel's `list_for_each_entry` scan with a strict comparison.

use crate::dest::Dest;

/// "No candidate" marker in a node.
pub const NONE: u32 = u32::MAX;

/// An ordering rule over destinations: which may be chosen and which of two is strictly better.
pub trait Order {
    /// Whether `d` may be chosen at all.
    fn eligible(d: &Dest) -> bool;
    /// Whether `a` is strictly better than `b` (both eligible). Must be a strict weak order.
    fn better(a: &Dest, b: &Dest) -> bool;
}

/// The tree. Node 1 is the root; the leaves start at `size`.
#[derive(Debug, Clone, Default)]
pub struct Tournament {
    size: usize,
    nodes: Vec<u32>,
}

impl Tournament {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// The winner's list position, if any destination is eligible.
    #[inline]
    pub fn root(&self) -> Option<usize> {
        match self.nodes.get(1) {
            Some(&w) if w != NONE => Some(w as usize),
            _ => None,
        }
    }

    #[inline]
    fn winner<O: Order>(list: &[Dest], l: u32, r: u32) -> u32 {
        if r == NONE {
            return l;
        }
        if l == NONE {
            return r;
        }
        if O::better(&list[r as usize], &list[l as usize]) {
            r
        } else {
            l
        }
    }

    #[inline]
    fn leaf<O: Order>(list: &[Dest], pos: usize) -> u32 {
        match list.get(pos) {
            Some(d) if O::eligible(d) => pos as u32,
            _ => NONE,
        }
    }

    /// Rebuild from scratch in O(N) (after an add that outgrows the tree, or a removal, which
    /// shifts positions).
    pub fn rebuild<O: Order>(&mut self, list: &[Dest]) {
        let size = list.len().max(1).next_power_of_two();
        self.size = size;
        self.nodes.clear();
        self.nodes.resize(2 * size, NONE);
        for pos in 0..list.len() {
            self.nodes[size + pos] = Self::leaf::<O>(list, pos);
        }
        for n in (1..size).rev() {
            self.nodes[n] = Self::winner::<O>(list, self.nodes[2 * n], self.nodes[2 * n + 1]);
        }
    }

    /// Re-rank position `pos` after its destination changed, in O(log N). Positions beyond the
    /// tree trigger a rebuild.
    ///
    /// Walks from the leaf to the root carrying the subtree winner: each level reads only the
    /// sibling's winner and compares the two (left = lower positions, as in [`Tournament::rebuild`]).
    #[inline]
    pub fn update<O: Order>(&mut self, list: &[Dest], pos: usize) {
        let size = self.size;
        if pos >= size || self.nodes.len() != 2 * size {
            self.rebuild::<O>(list);
            return;
        }
        let nodes = &mut self.nodes[..2 * size];
        let p = pos as u32;
        let mut n = size + pos;
        let mut cur = Self::leaf::<O>(list, pos);
        nodes[n] = cur;
        while n > 1 {
            let sibling = nodes[n ^ 1];
            let new = if n & 1 == 0 {
                Self::winner::<O>(list, cur, sibling)
            } else {
                Self::winner::<O>(list, sibling, cur)
            };
            n /= 2;
            let old = core::mem::replace(&mut nodes[n], new);
            // An unchanged winner that is not `pos` has an unchanged key: nothing above moves.
            if new == old && new != p {
                break;
            }
            cur = new;
        }
    }
}
