//! A fixed timer table: one optional deadline per timer kind.
//!
//! Most machines have a handful of timers (advertisement, master-down, poll, retransmit). Each
//! kind is an enum variant; the table holds at most one deadline per kind, so setting a timer
//! replaces the previous deadline and no stale timer can fire. Lookups are a scan over a few
//! slots, which beats any heap at this size. Components with millions of timers (the connection
//! table) use a timer wheel instead.

use crate::Instant;

/// An enum of timer kinds usable as keys of a [`TimerTable`].
pub trait TimerKey: Copy + core::fmt::Debug + 'static {
    /// Every kind, in priority order: when two deadlines tie, the earlier entry fires first.
    const ALL: &'static [Self];
    /// The position of `self` in [`TimerKey::ALL`].
    fn index(self) -> usize;
}

/// One deadline per [`TimerKey`] variant; `N` must equal `K::ALL.len()`.
///
/// ```
/// use lvs_core::{Instant, TimerKey, TimerTable};
///
/// #[derive(Clone, Copy, Debug, PartialEq)]
/// enum Timer { Advert, MasterDown }
/// impl TimerKey for Timer {
///     const ALL: &'static [Self] = &[Timer::Advert, Timer::MasterDown];
///     fn index(self) -> usize { self as usize }
/// }
///
/// let mut t = TimerTable::<Timer, 2>::new();
/// t.set(Timer::MasterDown, Instant::from_secs(3));
/// t.set(Timer::Advert, Instant::from_secs(1));
/// assert_eq!(t.next(), Some((Instant::from_secs(1), Timer::Advert)));
/// let due: Vec<_> = t.expire(Instant::from_secs(2)).collect();
/// assert_eq!(due, [Timer::Advert]);
/// assert_eq!(t.next(), Some((Instant::from_secs(3), Timer::MasterDown)));
/// ```
#[derive(Debug, Clone)]
pub struct TimerTable<K: TimerKey, const N: usize> {
    slots: [Option<Instant>; N],
    _kind: core::marker::PhantomData<K>,
}

impl<K: TimerKey, const N: usize> Default for TimerTable<K, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: TimerKey, const N: usize> TimerTable<K, N> {
    /// An empty table.
    ///
    /// # Panics
    /// At compile-time-evaluable construction when `N != K::ALL.len()` (a programming error).
    pub fn new() -> Self {
        assert_eq!(
            N,
            K::ALL.len(),
            "TimerTable size must equal the number of timer kinds"
        );
        Self {
            slots: [None; N],
            _kind: core::marker::PhantomData,
        }
    }

    /// Arm `key` at `at`, replacing any earlier deadline for it.
    pub fn set(&mut self, key: K, at: Instant) {
        self.slots[key.index()] = Some(at);
    }

    /// Disarm `key`.
    pub fn stop(&mut self, key: K) {
        self.slots[key.index()] = None;
    }

    /// Disarm every timer.
    pub fn stop_all(&mut self) {
        self.slots = [None; N];
    }

    /// The deadline of `key`, if armed.
    pub fn get(&self, key: K) -> Option<Instant> {
        self.slots[key.index()]
    }

    /// Whether `key` is armed.
    pub fn is_set(&self, key: K) -> bool {
        self.get(key).is_some()
    }

    /// Whether `key` is armed and due at `now`.
    pub fn is_due(&self, key: K, now: Instant) -> bool {
        self.get(key).is_some_and(|at| at <= now)
    }

    /// The earliest armed deadline; ties go to the kind listed first in [`TimerKey::ALL`].
    pub fn next(&self) -> Option<(Instant, K)> {
        let mut best: Option<(Instant, K)> = None;
        for &k in K::ALL {
            if let Some(at) = self.slots[k.index()]
                && best.is_none_or(|(b, _)| at < b)
            {
                best = Some((at, k));
            }
        }
        best
    }

    /// Disarm and yield every timer due at `now`, earliest first (ties in [`TimerKey::ALL`]
    /// order).
    pub fn expire(&mut self, now: Instant) -> Expired<'_, K, N> {
        Expired { table: self, now }
    }
}

/// The iterator returned by [`TimerTable::expire`].
#[derive(Debug)]
pub struct Expired<'a, K: TimerKey, const N: usize> {
    table: &'a mut TimerTable<K, N>,
    now: Instant,
}

impl<K: TimerKey, const N: usize> Iterator for Expired<'_, K, N> {
    type Item = K;
    fn next(&mut self) -> Option<K> {
        let (at, k) = self.table.next()?;
        if at > self.now {
            return None;
        }
        self.table.stop(k);
        Some(k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, Debug, PartialEq)]
    enum T {
        A,
        B,
        C,
    }
    impl TimerKey for T {
        const ALL: &'static [Self] = &[Self::A, Self::B, Self::C];
        fn index(self) -> usize {
            self as usize
        }
    }

    #[test]
    fn set_replaces_and_ties_follow_declaration_order() {
        let mut t = TimerTable::<T, 3>::new();
        t.set(T::C, Instant::from_secs(5));
        t.set(T::B, Instant::from_secs(5));
        t.set(T::A, Instant::from_secs(9));
        t.set(T::A, Instant::from_secs(7));
        assert_eq!(t.get(T::A), Some(Instant::from_secs(7)));
        let due: Vec<_> = t.expire(Instant::from_secs(7)).collect();
        assert_eq!(due, [T::B, T::C, T::A]);
        assert_eq!(t.next(), None);
    }

    #[test]
    fn nothing_fires_early_and_stop_disarms() {
        let mut t = TimerTable::<T, 3>::new();
        t.set(T::A, Instant::from_secs(2));
        t.set(T::B, Instant::from_secs(1));
        assert_eq!(t.expire(Instant::from_millis(999)).count(), 0);
        t.stop(T::B);
        assert!(!t.is_set(T::B));
        assert!(t.is_due(T::A, Instant::from_secs(2)));
        assert!(!t.is_due(T::A, Instant::from_secs(1)));
        t.stop_all();
        assert_eq!(t.next(), None);
    }
}
