//! The connection-count schedulers `lc`, `wlc`, `sed`, `nq`, `fo` and `ovf`, answered from a
//! [`Tournament`] index instead of the kernel's O(N) scan, with the same result bit for bit.
//!
//! Each scheduler is a [`Rule`] (which destinations may be chosen and which of two is strictly
//! better, written exactly as the kernel compares them) plugged into [`LeastConn`]. The index is
//! re-ranked in O(log N) on every bound / unbound / changed / weight / threshold notification, so
//! a pick reads the root in O(1). Adding appends in O(log N) (O(N) when the tree must grow);
//! removing rebuilds in O(N) because list positions shift.
//!
//! Arithmetic is widened where the kernel's would wrap: the overhead is a `u64` (the kernel's
//! `int` overflows beyond 2^23 active connections) and cross products are `u128` (`sed` and `nq`
//! multiply in unsigned 32 bits in the kernel, which wraps once (active+1)·weight passes 2^32).
//! Below those limits the results are identical; above them ours are the exact ratios.

use core::marker::PhantomData;

use lvs_core::{ConnState, DestId, DestLoad, DestParams, Flow, Instant, SchedError, Scheduler};

use crate::dest::{Change, Dest, DestTable};
use crate::tournament::{Order, Tournament};

/// A connection-count scheduling rule.
pub trait Rule: Order + core::fmt::Debug + Default {
    /// The ipvsadm name.
    const NAME: &'static str;
    /// Whether the active connection count takes part in the decision.
    const USES_ACTIVE: bool;
    /// Whether the inactive connection count takes part in the decision.
    const USES_INACTIVE: bool;
}

#[inline]
fn wide(x: u64, w: u32) -> u128 {
    u128::from(x) * u128::from(w)
}

/// `(active + 1) / weight` of `a` is strictly below that of `b` (the `sed` key).
#[inline]
fn sed_less(a: &Dest, b: &Dest) -> bool {
    // Kernel: replace least (b) by dest (a) when loh·w_a > doh·w_b.
    wide(u64::from(b.active) + 1, a.params.weight) > wide(u64::from(a.active) + 1, b.params.weight)
}

/// Least-Connection (`lc`): the destination with the fewest connections, counting an active one as
/// 256 inactive ones (overhead = active·256 + inactive). Weight only excludes quiesced (0)
/// destinations. Ties go to the first in list order.
#[derive(Debug, Clone, Copy, Default)]
pub struct LcRule;

impl Order for LcRule {
    fn eligible(d: &Dest) -> bool {
        d.eligible()
    }
    fn better(a: &Dest, b: &Dest) -> bool {
        a.overhead() < b.overhead()
    }
}

impl Rule for LcRule {
    const NAME: &'static str = "lc";
    const USES_ACTIVE: bool = true;
    const USES_INACTIVE: bool = true;
}

/// Weighted Least-Connection (`wlc`): the least overhead / weight, compared without division as
/// the kernel does (`loh·w_d > doh·w_least`), widened to 128 bits.
#[derive(Debug, Clone, Copy, Default)]
pub struct WlcRule;

impl Order for WlcRule {
    fn eligible(d: &Dest) -> bool {
        d.eligible()
    }
    fn better(a: &Dest, b: &Dest) -> bool {
        wide(b.overhead(), a.params.weight) > wide(a.overhead(), b.params.weight)
    }
}

impl Rule for WlcRule {
    const NAME: &'static str = "wlc";
    const USES_ACTIVE: bool = true;
    const USES_INACTIVE: bool = true;
}

/// Shortest Expected Delay (`sed`): the least (active + 1) / weight; inactive connections are
/// ignored.
#[derive(Debug, Clone, Copy, Default)]
pub struct SedRule;

impl Order for SedRule {
    fn eligible(d: &Dest) -> bool {
        d.eligible()
    }
    fn better(a: &Dest, b: &Dest) -> bool {
        sed_less(a, b)
    }
}

impl Rule for SedRule {
    const NAME: &'static str = "sed";
    const USES_ACTIVE: bool = true;
    const USES_INACTIVE: bool = false;
}

/// Never Queue (`nq`): the first idle destination (no active connections) in list order,
/// whatever its weight; when none is idle, as `sed`.
#[derive(Debug, Clone, Copy, Default)]
pub struct NqRule;

impl Order for NqRule {
    fn eligible(d: &Dest) -> bool {
        d.eligible()
    }
    fn better(a: &Dest, b: &Dest) -> bool {
        match (a.active == 0, b.active == 0) {
            (true, false) => true,
            (false, true) | (true, true) => false,
            (false, false) => sed_less(a, b),
        }
    }
}

impl Rule for NqRule {
    const NAME: &'static str = "nq";
    const USES_ACTIVE: bool = true;
    const USES_INACTIVE: bool = false;
}

/// Weighted Failover (`fo`): the highest weight among destinations that are not overloaded.
#[derive(Debug, Clone, Copy, Default)]
pub struct FoRule;

impl Order for FoRule {
    fn eligible(d: &Dest) -> bool {
        d.eligible()
    }
    fn better(a: &Dest, b: &Dest) -> bool {
        a.params.weight > b.params.weight
    }
}

impl Rule for FoRule {
    const NAME: &'static str = "fo";
    const USES_ACTIVE: bool = false;
    const USES_INACTIVE: bool = false;
}

/// Weighted Overflow (`ovf`): the highest weight among destinations whose active connections do
/// not exceed their weight, so traffic overflows to the next one.
#[derive(Debug, Clone, Copy, Default)]
pub struct OvfRule;

impl Order for OvfRule {
    fn eligible(d: &Dest) -> bool {
        d.eligible() && d.active <= d.params.weight
    }
    fn better(a: &Dest, b: &Dest) -> bool {
        a.params.weight > b.params.weight
    }
}

impl Rule for OvfRule {
    const NAME: &'static str = "ovf";
    const USES_ACTIVE: bool = true;
    const USES_INACTIVE: bool = false;
}

/// A connection-count scheduler: the destination table plus a tournament index ordered by `R`.
///
/// Pick is O(1); notifications are O(log N); add is O(log N) amortised; remove is O(N).
#[derive(Debug, Clone, Default)]
pub struct LeastConn<R: Rule> {
    table: DestTable,
    tree: Tournament,
    rule: PhantomData<R>,
}

/// `lc`: least connections (overhead = active·256 + inactive), first in list order on ties.
///
/// Balances on connection counts only; weights just switch a server on (>0) or off (0). Use it
/// for equal servers with long-lived or uneven connections. O(1) pick, O(log N) per update.
pub type Lc = LeastConn<LcRule>;
/// `wlc`: least overhead / weight, the IPVS default.
///
/// Balances connection counts in proportion to weight. Use it for servers of different
/// capacity. O(1) pick, O(log N) per update.
pub type Wlc = LeastConn<WlcRule>;
/// `sed`: least (active + 1) / weight.
///
/// Balances active connections only and counts the incoming one, which favours big servers more
/// than `wlc` does. Use it for heterogeneous servers with queued work. O(1) pick, O(log N) per
/// update. Unsuitable for UDP (never active).
pub type Sed = LeastConn<SedRule>;
/// `nq`: the first idle server, else as `sed`.
///
/// Sends work to any idle server before queueing on a fast one. Use it when latency matters more
/// than using the fastest server. O(1) pick, O(log N) per update.
pub type Nq = LeastConn<NqRule>;
/// `fo`: the highest-weight available server (failover).
///
/// Balances nothing: all traffic goes to one server until it is quiesced or overloaded. Use it
/// for active/standby pairs. O(1) pick, O(log N) per update.
pub type Fo = LeastConn<FoRule>;
/// `ovf`: the highest-weight server whose active connections do not exceed its weight.
///
/// Fills servers in weight order, weight doubling as a connection capacity. Use it for
/// overflow to a secondary pool; unsuitable for UDP (never active). O(1) pick, O(log N) per
/// update.
pub type Ovf = LeastConn<OvfRule>;

impl<R: Rule> LeastConn<R> {
    /// An empty scheduler.
    pub fn new() -> Self {
        Self {
            table: DestTable::new(),
            tree: Tournament::new(),
            rule: PhantomData,
        }
    }

    /// The destination table.
    pub fn table(&self) -> &DestTable {
        &self.table
    }

    /// The list position the kernel's scan would choose, without side effects.
    #[inline]
    pub fn best(&self) -> Option<usize> {
        self.tree.root()
    }

    #[inline]
    fn touched(&mut self, change: Option<Change>, relevant: bool) {
        if let Some(c) = change
            && (relevant || c.overload_flipped)
        {
            self.tree.update::<R>(self.table.list(), c.pos);
        }
    }

    fn uses(state: ConnState) -> bool {
        match state {
            ConnState::Active => R::USES_ACTIVE,
            ConnState::Inactive => R::USES_INACTIVE,
        }
    }
}

impl<R: Rule> Scheduler for LeastConn<R> {
    fn name(&self) -> &'static str {
        R::NAME
    }

    fn add_dest(&mut self, id: DestId, params: DestParams) -> Result<(), SchedError> {
        let pos = self.table.add(id, params)?;
        self.tree.update::<R>(self.table.list(), pos);
        Ok(())
    }

    fn remove_dest(&mut self, id: DestId) -> Result<(), SchedError> {
        self.table.remove(id)?;
        self.tree.rebuild::<R>(self.table.list());
        Ok(())
    }

    fn set_weight(&mut self, id: DestId, weight: u32) -> Result<(), SchedError> {
        let (pos, _) = self.table.set_weight(id, weight)?;
        self.tree.update::<R>(self.table.list(), pos);
        Ok(())
    }

    fn set_thresholds(&mut self, id: DestId, upper: u32, lower: u32) -> Result<(), SchedError> {
        let change = self.table.set_thresholds(id, upper, lower)?;
        self.touched(Some(change), false);
        Ok(())
    }

    fn conn_bound(&mut self, id: DestId, state: ConnState) {
        let change = self.table.bind(id, state);
        self.touched(change, Self::uses(state));
    }

    fn conn_unbound(&mut self, id: DestId, state: ConnState) {
        let change = self.table.unbind(id, state);
        self.touched(change, Self::uses(state));
    }

    fn conn_changed(&mut self, id: DestId, from: ConnState, to: ConnState) {
        let change = self.table.change(id, from, to);
        self.touched(change, from != to && (Self::uses(from) || Self::uses(to)));
    }

    #[inline]
    fn pick(&mut self, _flow: &Flow, _now: Instant) -> Option<DestId> {
        let pos = self.tree.root()?;
        Some(self.table.list()[pos].id)
    }

    fn load(&self, id: DestId) -> Option<DestLoad> {
        self.table.get(id).map(Dest::load)
    }

    fn dests(&self) -> Vec<DestId> {
        self.table.ids()
    }
}
