//! A generational slab: every connection of a worker lives in one slot, and its mio token
//! carries the slot's generation, so a readiness event for a closed connection never reaches
//! the connection that reused its slot.

use mio::Token;

/// The address of a slot: index and generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) struct Key {
    index: u32,
    generation: u32,
}

impl Key {
    /// The mio token (never 0, which the worker keeps for signals).
    pub(super) fn token(self) -> Token {
        Token(((self.generation as usize) << 32) | (self.index as usize + 1))
    }

    /// The key a token was made from.
    pub(super) fn from_token(t: Token) -> Option<Self> {
        let low = (t.0 & 0xffff_ffff).checked_sub(1)?;
        Some(Self {
            index: u32::try_from(low).ok()?,
            generation: u32::try_from(t.0 >> 32).ok()?,
        })
    }
}

#[derive(Debug)]
struct Slot<T> {
    generation: u32,
    value: Option<T>,
    /// Taken out by [`Slab::take`], to be put back: the slot is not free.
    lent: bool,
}

/// The slab.
#[derive(Debug)]
pub(super) struct Slab<T> {
    slots: Vec<Slot<T>>,
    free: Vec<u32>,
    len: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Self {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Slab<T> {
    /// Stores `value`.
    pub(super) fn insert(&mut self, value: T) -> Key {
        self.len += 1;
        if let Some(index) = self.free.pop() {
            let slot = &mut self.slots[index as usize];
            slot.value = Some(value);
            return Key {
                index,
                generation: slot.generation,
            };
        }
        let index = u32::try_from(self.slots.len()).expect("fewer than 2^32 connections");
        self.slots.push(Slot {
            generation: 0,
            value: Some(value),
            lent: false,
        });
        Key {
            index,
            generation: 0,
        }
    }

    fn slot(&mut self, k: Key) -> Option<&mut Slot<T>> {
        self.slots
            .get_mut(k.index as usize)
            .filter(|s| s.generation == k.generation)
    }

    /// The value at `k`, if it is still there.
    pub(super) fn get_mut(&mut self, k: Key) -> Option<&mut T> {
        self.slot(k)?.value.as_mut()
    }

    /// Whether `k` holds a value (present or lent).
    pub(super) fn contains(&self, k: Key) -> bool {
        self.slots
            .get(k.index as usize)
            .is_some_and(|s| s.generation == k.generation && (s.value.is_some() || s.lent))
    }

    /// Removes the value at `k`; the slot's next user gets a new generation.
    pub(super) fn remove(&mut self, k: Key) -> Option<T> {
        let slot = self.slot(k)?;
        if slot.lent {
            return None;
        }
        let v = slot.value.take()?;
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(k.index);
        self.len -= 1;
        Some(v)
    }

    /// Lends the value at `k` out; [`put_back`](Self::put_back) returns it to the same key.
    pub(super) fn take(&mut self, k: Key) -> Option<T> {
        let slot = self.slot(k)?;
        let v = slot.value.take()?;
        slot.lent = true;
        Some(v)
    }

    /// Returns a value lent by [`take`](Self::take).
    pub(super) fn put_back(&mut self, k: Key, v: T) {
        if let Some(slot) = self.slot(k)
            && slot.lent
        {
            slot.lent = false;
            slot.value = Some(v);
        }
    }

    /// Number of values stored or lent.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Keys of every value present (not lent).
    pub(super) fn keys(&self) -> impl Iterator<Item = Key> + '_ {
        self.slots.iter().enumerate().filter_map(|(i, s)| {
            s.value.as_ref().map(|_| Key {
                index: i as u32,
                generation: s.generation,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_keys_miss_after_reuse() {
        let mut s = Slab::default();
        let a = s.insert("a");
        assert_eq!(Key::from_token(a.token()), Some(a));
        assert_ne!(a.token(), Token(0));
        assert_eq!(s.remove(a), Some("a"));
        let b = s.insert("b");
        assert_ne!(a, b);
        assert_eq!(s.get_mut(a), None);
        assert_eq!(s.get_mut(b), Some(&mut "b"));
        assert_eq!(s.len(), 1);
        assert_eq!(Key::from_token(Token(0)), None);
    }

    #[test]
    fn take_put_back_and_release() {
        let mut s = Slab::default();
        let a = s.insert(1);
        let v = s.take(a).unwrap();
        assert_eq!(s.remove(a), None, "a lent slot is not removed");
        assert_eq!(s.keys().count(), 0);
        s.put_back(a, v + 1);
        assert_eq!(s.get_mut(a), Some(&mut 2));
        assert_eq!(s.remove(a), Some(2));
        assert_eq!(s.len(), 0);
        let b = s.insert(5);
        assert_eq!(s.get_mut(a), None);
        assert_eq!(s.keys().collect::<Vec<_>>(), [b]);
    }
}
