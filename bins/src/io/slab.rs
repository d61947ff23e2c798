//! A generational slot table for the connections of an event loop (mcproxy's workers, lvsd's
//! proxy and packet loops): every connection lives in one slot, and its mio token carries the
//! slot's generation, so a readiness event for a closed connection never reaches the
//! connection that reused its slot: the stale key misses every lookup and the event is
//! dropped.
//!
//! # Token layout
//!
//! A [`Key`] is a slot index and the slot's generation. Its tokens (64-bit `usize`) are:
//!
//! | bits   | meaning                                                           |
//! |--------|-------------------------------------------------------------------|
//! | 63..32 | generation                                                        |
//! | 31     | 0 for [`Key::token`], 1 for [`Key::second_token`]                 |
//! | 30..0  | index + 1, so 1 ..= 2^30 (a table holds at most 2^30 slots)      |
//!
//! Every other token is left to the loop and [`Key::from_token`] rejects it: `Token(0)` (a
//! slot's tokens are never 0) and any token whose low 31 bits exceed 2^30, among them
//! `usize::MAX` and `usize::MAX - 1`. Loops put their signal, waker and packet-socket tokens
//! there.
//!
//! A value can be lent out ([`Slab::take`]) and put back under the same key; while it is
//! lent its slot is neither free nor visible to [`Slab::keys`].

use mio::Token;

/// Most slots a table holds (index + 1 stays below the second-token bit).
const MAX_SLOTS: u32 = 1 << 30;
/// The bit of the token that tells [`Key::second_token`] from [`Key::token`].
const SECOND: usize = 1 << 31;

/// The address of a slot: index and generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Key {
    index: u32,
    generation: u32,
}

impl Key {
    /// The mio token (never 0, never one of the reserved tokens: see the module docs).
    pub(crate) fn token(self) -> Token {
        Token(((self.generation as usize) << 32) | (self.index as usize + 1))
    }

    /// A second token for the same slot, for a connection with two sockets (the client and
    /// the backend side of a proxied connection); [`Key::from_token`] maps it to the same key.
    pub(crate) fn second_token(self) -> Token {
        Token(self.token().0 | SECOND)
    }

    /// The key a token was made from ([`Key::token`] or [`Key::second_token`]); `None` for
    /// the tokens no key makes.
    pub(crate) fn from_token(t: Token) -> Option<Self> {
        let low = (t.0 & (SECOND - 1)).checked_sub(1)?;
        let index = u32::try_from(low).ok().filter(|&i| i < MAX_SLOTS)?;
        Some(Self {
            index,
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

/// The slot table.
#[derive(Debug)]
pub(crate) struct Slab<T> {
    slots: Vec<Slot<T>>,
    free: Vec<u32>,
    len: usize,
    /// Most slots; [`MAX_SLOTS`] except in tests.
    limit: u32,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Self {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
            limit: MAX_SLOTS,
        }
    }
}

impl<T> Slab<T> {
    /// Stores `value`, or hands it back when every one of the 2^30 slots is in use.
    pub(crate) fn try_insert(&mut self, value: T) -> Result<Key, T> {
        if let Some(index) = self.free.pop() {
            let slot = &mut self.slots[index as usize];
            slot.value = Some(value);
            self.len += 1;
            return Ok(Key {
                index,
                generation: slot.generation,
            });
        }
        let Some(index) = u32::try_from(self.slots.len())
            .ok()
            .filter(|&i| i < self.limit)
        else {
            return Err(value);
        };
        self.slots.push(Slot {
            generation: 0,
            value: Some(value),
            lent: false,
        });
        self.len += 1;
        Ok(Key {
            index,
            generation: 0,
        })
    }

    fn slot(&mut self, k: Key) -> Option<&mut Slot<T>> {
        self.slots
            .get_mut(k.index as usize)
            .filter(|s| s.generation == k.generation)
    }

    /// The value at `k`, if it is still there (and not lent).
    pub(crate) fn get(&self, k: Key) -> Option<&T> {
        self.slots
            .get(k.index as usize)
            .filter(|s| s.generation == k.generation)?
            .value
            .as_ref()
    }

    /// The value at `k`, if it is still there (and not lent).
    pub(crate) fn get_mut(&mut self, k: Key) -> Option<&mut T> {
        self.slot(k)?.value.as_mut()
    }

    /// Whether `k` holds a value (present or lent).
    pub(crate) fn contains(&self, k: Key) -> bool {
        self.slots
            .get(k.index as usize)
            .is_some_and(|s| s.generation == k.generation && (s.value.is_some() || s.lent))
    }

    /// Removes the value at `k`; the slot's next user gets a new generation.
    pub(crate) fn remove(&mut self, k: Key) -> Option<T> {
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
    pub(crate) fn take(&mut self, k: Key) -> Option<T> {
        let slot = self.slot(k)?;
        let v = slot.value.take()?;
        slot.lent = true;
        Some(v)
    }

    /// Returns a value lent by [`take`](Self::take).
    pub(crate) fn put_back(&mut self, k: Key, v: T) {
        if let Some(slot) = self.slot(k)
            && slot.lent
        {
            slot.lent = false;
            slot.value = Some(v);
        }
    }

    /// Number of values stored or lent.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Keys of every value present (not lent), in slot order.
    pub(crate) fn keys(&self) -> impl Iterator<Item = Key> + '_ {
        self.iter().map(|(k, _)| k)
    }

    /// Every value present (not lent) with its key, in slot order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (Key, &T)> + '_ {
        self.slots.iter().zip(0..).filter_map(|(s, index)| {
            let k = Key {
                index,
                generation: s.generation,
            };
            s.value.as_ref().map(|v| (k, v))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_keys_miss_after_reuse() {
        let mut s = Slab::default();
        let a = s.try_insert("a").unwrap();
        assert_eq!(Key::from_token(a.token()), Some(a));
        assert_ne!(a.token(), Token(0));
        assert_eq!(s.remove(a), Some("a"));
        let b = s.try_insert("b").unwrap();
        assert_ne!(a, b);
        assert_eq!(s.get_mut(a), None);
        assert_eq!(s.get(a), None);
        assert_eq!(s.get_mut(b), Some(&mut "b"));
        assert_eq!(s.len(), 1);
        assert_eq!(Key::from_token(Token(0)), None);
    }

    #[test]
    fn take_put_back_and_release() {
        let mut s = Slab::default();
        let a = s.try_insert(1).unwrap();
        let v = s.take(a).unwrap();
        assert_eq!(s.remove(a), None, "a lent slot is not removed");
        assert_eq!(s.keys().count(), 0);
        s.put_back(a, v + 1);
        assert_eq!(s.get_mut(a), Some(&mut 2));
        assert_eq!(s.remove(a), Some(2));
        assert_eq!(s.len(), 0);
        let b = s.try_insert(5).unwrap();
        assert_eq!(s.get_mut(a), None);
        assert_eq!(s.keys().collect::<Vec<_>>(), [b]);
    }

    #[test]
    fn second_tokens_and_reserved_tokens() {
        let mut s = Slab::default();
        let keys: Vec<Key> = (0..3).map(|i| s.try_insert(i).unwrap()).collect();
        s.remove(keys[1]);
        let again = s.try_insert(7).unwrap();
        for k in [keys[0], keys[2], again] {
            assert_ne!(k.token(), k.second_token());
            assert_eq!(Key::from_token(k.token()), Some(k));
            assert_eq!(Key::from_token(k.second_token()), Some(k));
        }
        // The reused slot's tokens differ from the stale key's, and the stale key misses.
        assert_ne!(again.token(), keys[1].token());
        assert_ne!(again.second_token(), keys[1].second_token());
        assert_eq!(s.get(keys[1]), None);
        // Tokens the loops reserve are never a key's.
        for t in [
            0,
            usize::MAX,
            usize::MAX - 1,
            SECOND,
            MAX_SLOTS as usize + 1,
        ] {
            assert_eq!(Key::from_token(Token(t)), None, "token {t:#x}");
        }
        let last = Key {
            index: MAX_SLOTS - 1,
            generation: u32::MAX,
        };
        assert_eq!(Key::from_token(last.token()), Some(last));
        assert_eq!(Key::from_token(last.second_token()), Some(last));
        // Slot order, with the reused slot in its place.
        let seen: Vec<(Key, i32)> = s.iter().map(|(k, v)| (k, *v)).collect();
        assert_eq!(seen, [(keys[0], 0), (again, 7), (keys[2], 2)]);
    }

    #[test]
    fn a_full_table_hands_the_value_back() {
        let mut s = Slab {
            limit: 2,
            ..Slab::default()
        };
        let a = s.try_insert("a").unwrap();
        s.try_insert("b").unwrap();
        assert_eq!(s.try_insert("c"), Err("c"));
        assert_eq!(s.len(), 2);
        s.remove(a);
        let c = s.try_insert("c").unwrap();
        assert_eq!(s.get(c), Some(&"c"));
    }
}
