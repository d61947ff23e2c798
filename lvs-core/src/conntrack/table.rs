//! The bounded connection table (see [`ConnTable`]).

use core::hash::{BuildHasher, Hasher};
use core::mem::offset_of;
use core::net::IpAddr;
use core::time::Duration;

use ahash::RandomState;

use super::index::Index;
use crate::Instant;
use crate::rng::Rng;

const CHUNK_BITS: u32 = 12;
const CHUNK: usize = 1 << CHUNK_BITS;
const NIL: u32 = u32::MAX;
/// Tag in `wprev` marking a wheel-slot head; entry indices stay below it.
const HEAD: u32 = 0x8000_0000;
/// Timer ticks per second.
const TICKS_PER_SEC: u64 = 16;
const WHEEL_SLOTS: usize = 16384;
const EVICT_ENTRIES: usize = 64;
/// Entry indices stay below this (the index keeps two slot values for itself).
const MAX_ENTRIES: usize = (1 << 31) - 3;

// A tracked flow (entry + its share of the index at the lowest load) must fit in 64 bytes.
const _: () = assert!(ConnTable::BYTES_PER_FLOW <= 64);
// `touch` reads the first and the last field of an entry (see `Conn`).
const _: () =
    assert!(offset_of!(Conn, caddr) == 0 && offset_of!(Conn, wnext) + 4 == size_of::<Conn>());
const EVICT_SLOTS: usize = 1024;

/// Flag bits stored with a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct ConnFlags(pub u8);

impl ConnFlags {
    /// A persistence template, not a real connection.
    pub const TEMPLATE: u8 = 0x01;
    /// Only client→server packets pass the director (DR/TUN half connection).
    pub const NO_OUTPUT: u8 = 0x02;
    /// Counted as inactive by the scheduler.
    pub const INACTIVE: u8 = 0x04;
    /// May be evicted when the table is full (SYN_RECV / SYNACK and the like).
    pub const EMBRYONIC: u8 = 0x08;
    /// Caller-defined bits.
    pub const USER1: u8 = 0x10;
    /// Caller-defined bits.
    pub const USER2: u8 = 0x20;
    /// Marks a free slot; never set on a live entry (the table strips it on insert).
    pub const FREE: u8 = 0x80;

    /// Whether every bit of `mask` is set.
    pub fn has(self, mask: u8) -> bool {
        self.0 & mask == mask
    }

    /// Set or clear the bits of `mask`.
    pub fn set(&mut self, mask: u8, on: bool) {
        if on {
            self.0 |= mask;
        } else {
            self.0 &= !mask;
        }
    }
}

/// A handle to a live entry. Handles are reused after removal; do not keep one across calls
/// that may expire or remove entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnId(u32);

impl ConnId {
    /// The raw index (for logs).
    pub fn index(self) -> u32 {
        self.0
    }
}

/// What identifies a connection from the client side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnKey {
    /// IP protocol number (0 for fwmark templates).
    pub protocol: u8,
    /// Client address (masked for templates).
    pub caddr: IpAddr,
    /// Client port (0 for templates).
    pub cport: u16,
    /// The caller's index of the virtual address (or fwmark) the client used.
    pub vip: u16,
    /// Virtual port.
    pub vport: u16,
}

/// One tracked connection (52 bytes; `repr(C)`, so the key opens it and the wheel link closes
/// it: [`ConnTable::touch`] reads both to load both cache lines of a straddling entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct Conn {
    caddr: [u8; 16],
    /// Client port.
    pub cport: u16,
    /// Virtual port.
    pub vport: u16,
    /// The caller's virtual address index.
    pub vip: u16,
    /// The caller's service index.
    pub svc: u16,
    /// IP protocol number.
    pub protocol: u8,
    /// Protocol state (the caller's encoding, e.g. [`super::TcpState`] as u8).
    pub state: u8,
    /// Flag bits.
    pub flags: ConnFlags,
    v4: bool,
    /// The caller's real-server index.
    pub dest: u32,
    /// For a connection, the controlling template's [`ConnId`] index (or `u32::MAX`); for a
    /// template, the number of connections it controls.
    pub control: u32,
    expires: u32,
    hash: u32,
    wprev: u32,
    wnext: u32,
}

impl Conn {
    /// The client address.
    pub fn caddr(&self) -> IpAddr {
        from16(self.caddr, self.v4)
    }

    /// The deadline of this entry.
    pub fn expires(&self) -> Instant {
        Instant::from_nanos(u64::from(self.expires) * (1_000_000_000 / TICKS_PER_SEC))
    }

    /// The key this entry is found by.
    pub fn key(&self) -> ConnKey {
        ConnKey {
            protocol: self.protocol,
            caddr: self.caddr(),
            cport: self.cport,
            vip: self.vip,
            vport: self.vport,
        }
    }
}

/// What a new entry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewConn {
    /// The key.
    pub key: ConnKey,
    /// The caller's service index.
    pub svc: u16,
    /// The caller's real-server index.
    pub dest: u32,
    /// Initial state.
    pub state: u8,
    /// Initial flags.
    pub flags: ConnFlags,
    /// Template link or control count (see [`Conn::control`]).
    pub control: u32,
}

/// The result of [`ConnTable::insert`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inserted {
    /// The new entry.
    pub id: ConnId,
    /// An embryonic entry evicted to make room, if the table was full.
    pub evicted: Option<Conn>,
}

/// The table is at `max_entries` and no embryonic entry could be evicted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("connection table full")]
pub struct TableFull;

/// Counters of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TableStats {
    /// Entries inserted.
    pub inserted: u64,
    /// Entries removed because their deadline passed.
    pub expired: u64,
    /// Entries removed by the caller.
    pub removed: u64,
    /// Embryonic entries evicted to make room.
    pub evicted: u64,
    /// Inserts refused because the table was full.
    pub refused: u64,
}

fn to16(a: IpAddr) -> ([u8; 16], bool) {
    match a {
        IpAddr::V4(v4) => (v4.to_ipv6_mapped().octets(), true),
        IpAddr::V6(v6) => (v6.octets(), false),
    }
}

fn from16(b: [u8; 16], v4: bool) -> IpAddr {
    let v6 = core::net::Ipv6Addr::from(b);
    if v4 {
        v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)
    } else {
        IpAddr::V6(v6)
    }
}

/// A fixed block of entries; the array type lets `i & (CHUNK - 1)` index it unchecked.
type Chunk = Box<[Conn; CHUNK]>;

/// A chunk of free entries.
fn new_chunk() -> Chunk {
    let chunk: Box<[Conn]> = vec![EMPTY; CHUNK].into_boxed_slice();
    // A boxed slice of exactly CHUNK entries always converts.
    chunk
        .try_into()
        .unwrap_or_else(|_| unreachable!("a chunk has CHUNK entries"))
}

#[inline]
fn entry(chunks: &[Chunk], i: u32) -> &Conn {
    &chunks[(i >> CHUNK_BITS) as usize][(i as usize) & (CHUNK - 1)]
}

fn tick_of(t: Instant) -> u64 {
    t.as_nanos() / (1_000_000_000 / TICKS_PER_SEC)
}

/// The first tick at or after `now + timeout`: an entry never expires early, and at most one
/// tick late.
#[inline]
fn deadline_tick(now: Instant, timeout: Duration) -> u32 {
    // Straight in u64 nanoseconds: going through `Duration` would split `now` into seconds and
    // nanoseconds (a division) only to join them again.
    let nanos = now.as_nanos().saturating_add(saturating_nanos(timeout));
    u32::try_from(nanos.div_ceil(1_000_000_000 / TICKS_PER_SEC)).unwrap_or(u32::MAX)
}

/// `d` in nanoseconds; durations beyond 584 years saturate (a u128 division costs tens of
/// nanoseconds on the per-packet path).
#[inline]
fn saturating_nanos(d: Duration) -> u64 {
    d.as_secs()
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::from(d.subsec_nanos()))
}

fn ticks_ceil(d: Duration) -> u64 {
    saturating_nanos(d).div_ceil(1_000_000_000 / TICKS_PER_SEC)
}

/// The connection table: one entry per connection keyed on the client side, a keyed hash
/// against flooding, incremental growth, O(1) expiry, and a hard bound on entries.
///
/// # Layout
///
/// Entries live in fixed 4096-entry chunks that never move, so growing the table never copies
/// entries. An open-addressing index of 32-bit slots (entry index + hash tag) finds them: a
/// lookup reads one index line and, for a present key, one entry; an absent key usually reads
/// no entry at all. When the index fills it is rebuilt **incrementally**: every later
/// operation moves a few old slots to the new array, so no single call pays for the whole
/// rehash. Each entry keeps its 32-bit hash for that.
///
/// The hash is aHash over (protocol, client address, client port) keyed with 256 bits drawn from
/// the RNG the caller provides, so an attacker cannot aim flows at one probe run.
///
/// Addresses of the virtual service and the real server are not stored: the caller interns them
/// (a `vip` index and a `dest` index), which keeps an entry at 52 bytes and a tracked flow,
/// index share included, at most 64 bytes.
///
/// # Expiry
///
/// Each entry stores its deadline in 1/16 s ticks. A hashed timer wheel of 16384 slots (1024 s)
/// links entries in doubly linked lists through the entries themselves. Refreshing a deadline
/// on every packet only writes the new deadline: an entry found in a slot before its deadline is
/// simply moved to the right slot then (lazy re-arming), so the per-packet cost is one store.
///
/// # Full table
///
/// Inserts beyond `max_entries` first try to evict an *embryonic* connection (one the caller
/// marked with [`ConnFlags::EMBRYONIC`], e.g. SYN_RECV) found by sampling index slots from a
/// random start, as IPVS's `drop_entry` defence does; if none is found the insert fails with
/// [`TableFull`] and the caller drops the packet and counts it. Established connections are never
/// evicted to make room.
#[derive(Debug)]
pub struct ConnTable {
    chunks: Vec<Chunk>,
    free_head: u32,
    next_unused: u32,
    len: usize,
    max_entries: usize,
    index: Index,
    key: RandomState,
    rng_state: u64,
    wheel: Vec<u32>,
    /// The tick the wheel has processed up to (exclusive).
    wheel_tick: u64,
    stats: TableStats,
}

const EMPTY: Conn = Conn {
    caddr: [0; 16],
    cport: 0,
    vport: 0,
    vip: 0,
    svc: 0,
    protocol: 0,
    state: 0,
    flags: ConnFlags(ConnFlags::FREE),
    v4: false,
    dest: 0,
    control: NIL,
    expires: 0,
    hash: 0,
    wprev: NIL,
    wnext: NIL,
};

impl ConnTable {
    /// A table holding at most `max_entries` entries (at most 2³¹ − 3), with hash keys
    /// drawn from `rng`. `now` anchors the expiry wheel.
    pub fn new<R: Rng + ?Sized>(max_entries: usize, rng: &mut R, now: Instant) -> Self {
        Self::with_capacity(max_entries, 0, rng, now)
    }

    /// [`ConnTable::new`] with room for `expected` entries up front: the index (4 bytes per
    /// slot, two slots per expected entry), so filling up to `expected` never rebuilds it, and
    /// the entry chunks (52 bytes per entry, rounded up to whole 4096-entry chunks), so filling
    /// up to `expected` never allocates (nor takes the page faults of fresh memory).
    pub fn with_capacity<R: Rng + ?Sized>(
        max_entries: usize,
        expected: usize,
        rng: &mut R,
        now: Instant,
    ) -> Self {
        let max_entries = max_entries.min(MAX_ENTRIES);
        let expected = expected.min(max_entries);
        let chunks = (0..expected.div_ceil(CHUNK)).map(|_| new_chunk()).collect();
        Self {
            chunks,
            free_head: NIL,
            next_unused: 0,
            len: 0,
            max_entries,
            index: Index::new(max_entries, expected),
            key: RandomState::with_seeds(
                rng.next_u64(),
                rng.next_u64(),
                rng.next_u64(),
                rng.next_u64(),
            ),
            rng_state: rng.next_u64() | 1,
            wheel: vec![NIL; WHEEL_SLOTS],
            wheel_tick: tick_of(now),
            stats: TableStats::default(),
        }
    }

    /// Number of live entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The hard bound on entries.
    pub fn max_entries(&self) -> usize {
        self.max_entries
    }

    /// Counters.
    pub fn stats(&self) -> TableStats {
        self.stats
    }

    /// Bytes per tracked flow at most, in steady state: one entry plus its share of the index
    /// (4-byte slots at a load of at least 35 %, i.e. under 12 bytes).
    pub const BYTES_PER_FLOW: usize = size_of::<Conn>() + 12;

    #[inline]
    fn hash(&self, protocol: u8, caddr: &[u8; 16], cport: u16) -> u32 {
        let mut h = self.key.build_hasher();
        let (hi, lo) = caddr.split_at(8);
        let hi = u64::from_ne_bytes(hi.try_into().unwrap_or_default());
        // IPv4 clients (mapped, so the top half is zero) hash one word fewer; the input is
        // still the whole key, so the function stays keyed and collision-free per key.
        if hi != 0 {
            h.write_u64(hi);
        }
        h.write_u64(u64::from_ne_bytes(lo.try_into().unwrap_or_default()));
        h.write_u32((u32::from(protocol) << 16) | u32::from(cport));
        let x = h.finish();
        (x ^ (x >> 32)) as u32
    }

    #[inline]
    fn at(&self, i: u32) -> &Conn {
        entry(&self.chunks, i)
    }

    #[inline]
    fn at_mut(&mut self, i: u32) -> &mut Conn {
        &mut self.chunks[(i >> CHUNK_BITS) as usize][(i as usize) & (CHUNK - 1)]
    }

    #[inline]
    fn find(
        &self,
        hash: u32,
        protocol: u8,
        caddr: &[u8; 16],
        cport: u16,
        mut pred: impl FnMut(&Conn) -> bool,
    ) -> Option<ConnId> {
        self.index
            .find(hash, |i| {
                let c = self.at(i);
                c.hash == hash
                    && c.cport == cport
                    && c.protocol == protocol
                    && c.caddr == *caddr
                    && pred(c)
            })
            .map(ConnId)
    }

    /// The key hash `lookup_in` / `lookup_out` use for this client (first step of a batched
    /// lookup: hash a group of packets, then [`ConnTable::bucket_head`] them, then
    /// [`ConnTable::touch`] the candidates, so their cache misses overlap).
    #[inline]
    pub fn key_hash(&self, protocol: u8, caddr: IpAddr, cport: u16) -> u32 {
        let (c16, _) = to16(caddr);
        self.hash(protocol, &c16, cport)
    }

    /// The first entry indexed under a tag matching `hash` (`u32::MAX` when none): reading
    /// it pulls the index line into the cache.
    pub fn bucket_head(&self, hash: u32) -> u32 {
        self.index.first_candidate(hash)
    }

    /// Read entry `index` (as returned by [`ConnTable::bucket_head`]) so its cache line is
    /// loaded; returns a value derived from it. `u32::MAX` is ignored.
    pub fn touch(&self, index: u32) -> u32 {
        if index == NIL || index >= self.next_unused {
            return 0;
        }
        // A 52-byte entry may straddle two cache lines: read both ends.
        let c = self.at(index);
        c.hash ^ u32::from(c.caddr[0]) ^ c.wnext
    }

    /// Find the entry for a client→virtual-service packet (or a template with `cport` 0).
    #[inline]
    pub fn lookup_in(&self, key: &ConnKey) -> Option<ConnId> {
        self.lookup_in_hashed(key, self.key_hash(key.protocol, key.caddr, key.cport))
    }

    /// [`ConnTable::lookup_in`] that also returns the key's hash, for an insert after a miss
    /// ([`ConnTable::insert_hashed`]).
    #[inline(never)]
    pub(crate) fn lookup_in_and_hash(&self, key: &ConnKey) -> (Option<ConnId>, u32) {
        let hash = self.key_hash(key.protocol, key.caddr, key.cport);
        (self.lookup_in_hashed(key, hash), hash)
    }

    /// [`ConnTable::lookup_in`] with the key's hash already computed by
    /// [`ConnTable::key_hash`]`(key.protocol, key.caddr, key.cport)` (a batch computes it in
    /// its warm-up pass). A different `hash` may miss a present entry, never finds a wrong one.
    #[inline]
    pub fn lookup_in_hashed(&self, key: &ConnKey, hash: u32) -> Option<ConnId> {
        let (caddr, _) = to16(key.caddr);
        self.find(hash, key.protocol, &caddr, key.cport, |c| {
            c.vip == key.vip && c.vport == key.vport
        })
    }

    /// Find the entry for a real-server→client packet of a NAT connection: the client is the
    /// packet's destination, `dest` the caller's index of the real server it came from.
    pub fn lookup_out(&self, protocol: u8, caddr: IpAddr, cport: u16, dest: u32) -> Option<ConnId> {
        let (c16, _) = to16(caddr);
        let hash = self.hash(protocol, &c16, cport);
        self.find(hash, protocol, &c16, cport, |c| {
            c.dest == dest && !c.flags.has(ConnFlags::TEMPLATE)
        })
    }

    /// The live entry at raw index `index` (as stored in [`Conn::control`]), if any.
    pub fn live_at(&self, index: u32) -> Option<ConnId> {
        (index < self.next_unused && !self.at(index).flags.has(ConnFlags::FREE))
            .then_some(ConnId(index))
    }

    /// The entry `id`.
    pub fn get(&self, id: ConnId) -> &Conn {
        self.at(id.0)
    }

    /// The entry `id`, mutable (state, flags, dest, control; not the key).
    pub fn get_mut(&mut self, id: ConnId) -> &mut Conn {
        self.at_mut(id.0)
    }

    /// Set the deadline of `id` to `now + timeout` (every packet does this).
    #[inline]
    pub fn refresh(&mut self, id: ConnId, now: Instant, timeout: Duration) {
        self.refresh_to(id, deadline_tick(now, timeout));
    }

    /// The deadline [`ConnTable::refresh`] sets for `now + timeout`, in the table's ticks, so
    /// a caller refreshing many entries with one `now` and one timeout computes it once.
    #[inline]
    pub(crate) fn deadline(now: Instant, timeout: Duration) -> u32 {
        deadline_tick(now, timeout)
    }

    /// [`ConnTable::refresh`] to a deadline from [`ConnTable::deadline`].
    #[inline(always)]
    pub(crate) fn refresh_to(&mut self, id: ConnId, t: u32) {
        let c = self.at_mut(id.0);
        let earlier = t < c.expires;
        c.expires = t;
        if earlier {
            self.wheel_relink(id.0);
        }
    }

    /// Move entry `i` to the wheel slot of its (shorter) deadline, where the wheel will see it
    /// in time. Out of line: a refresh usually moves the deadline later and relinks nothing.
    #[inline(never)]
    fn wheel_relink(&mut self, i: u32) {
        self.wheel_unlink(i);
        self.wheel_link(i);
    }

    fn alloc(&mut self) -> u32 {
        if self.free_head != NIL {
            let i = self.free_head;
            self.free_head = self.at(i).wnext;
            return i;
        }
        let i = self.next_unused;
        if (i as usize) >> CHUNK_BITS >= self.chunks.len() {
            self.chunks.push(new_chunk());
        }
        self.next_unused += 1;
        i
    }

    /// Insert a new entry expiring at `now + timeout`. When the table is full an embryonic
    /// entry may be evicted to make room; it is returned so the caller can unbind it from its
    /// scheduler.
    pub fn insert(
        &mut self,
        now: Instant,
        new: NewConn,
        timeout: Duration,
    ) -> Result<Inserted, TableFull> {
        let hash = self.key_hash(new.key.protocol, new.key.caddr, new.key.cport);
        self.insert_hashed(now, new, timeout, hash)
    }

    /// [`ConnTable::insert`] with the key's hash already computed by
    /// [`ConnTable::key_hash`]`(key.protocol, key.caddr, key.cport)` (the lookup that found no
    /// entry computed it). Crate-internal: a wrong hash would leave the entry unfindable.
    pub(crate) fn insert_hashed(
        &mut self,
        now: Instant,
        new: NewConn,
        timeout: Duration,
        hash: u32,
    ) -> Result<Inserted, TableFull> {
        let mut evicted = None;
        if self.len >= self.max_entries {
            evicted = self.evict_embryonic();
            if evicted.is_none() {
                self.stats.refused += 1;
                return Err(TableFull);
            }
        }
        let (caddr, v4) = to16(new.key.caddr);
        debug_assert_eq!(hash, self.hash(new.key.protocol, &caddr, new.key.cport));
        let i = self.alloc();
        let expires = deadline_tick(now, timeout);
        *self.at_mut(i) = Conn {
            caddr,
            cport: new.key.cport,
            vport: new.key.vport,
            vip: new.key.vip,
            svc: new.svc,
            protocol: new.key.protocol,
            state: new.state,
            flags: ConnFlags(new.flags.0 & !ConnFlags::FREE),
            v4,
            dest: new.dest,
            control: new.control,
            expires,
            hash,
            wprev: NIL,
            wnext: NIL,
        };
        let chunks = &self.chunks;
        self.index.insert(hash, i, |j| entry(chunks, j).hash);
        self.wheel_link(i);
        self.len += 1;
        debug_assert_eq!(self.index.len(), self.len);
        self.stats.inserted += 1;
        Ok(Inserted {
            id: ConnId(i),
            evicted,
        })
    }

    /// Remove `id` now. Returns the removed entry.
    pub fn remove(&mut self, id: ConnId) -> Conn {
        self.stats.removed += 1;
        self.unlink(id.0)
    }

    fn unlink(&mut self, i: u32) -> Conn {
        self.wheel_unlink(i);
        self.free_entry(i)
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64*, seeded from the caller's RNG: only picks eviction samples.
        let mut x = self.rng_state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng_state = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Find an embryonic entry to evict: walk consecutive index slots from a random start,
    /// looking at no more than `EVICT_ENTRIES` entries and `EVICT_SLOTS` slots, so a full
    /// table costs a bounded amount per refused or admitted packet.
    fn evict_embryonic(&mut self) -> Option<Conn> {
        let start = self.next_random() as usize;
        let mut seen = 0;
        for step in 0..EVICT_SLOTS.min(self.index.capacity()) {
            let Some(i) = self.index.sample(start.wrapping_add(step)) else {
                continue;
            };
            let c = self.at(i);
            if c.flags.has(ConnFlags::EMBRYONIC) && !c.flags.has(ConnFlags::TEMPLATE) {
                self.stats.evicted += 1;
                return Some(self.unlink(i));
            }
            seen += 1;
            if seen >= EVICT_ENTRIES {
                return None;
            }
        }
        None
    }

    fn wheel_link(&mut self, i: u32) {
        let t = u64::from(self.at(i).expires).max(self.wheel_tick);
        self.wheel_link_at(i, t);
    }

    /// Link `i` at the head of the slot of tick `t`. A slot head records its slot in `wprev`
    /// (tagged with `HEAD`) so unlinking never has to search.
    fn wheel_link_at(&mut self, i: u32, t: u64) {
        let slot = (t as usize) & (WHEEL_SLOTS - 1);
        let head = self.wheel[slot];
        {
            let c = self.at_mut(i);
            c.wprev = HEAD | slot as u32;
            c.wnext = head;
        }
        if head != NIL {
            self.at_mut(head).wprev = i;
        }
        self.wheel[slot] = i;
    }

    fn wheel_unlink(&mut self, i: u32) {
        let (p, n) = {
            let c = self.at(i);
            (c.wprev, c.wnext)
        };
        if p == NIL {
            return;
        }
        if p & HEAD != 0 {
            self.wheel[(p & !HEAD) as usize] = n;
        } else {
            self.at_mut(p).wnext = n;
        }
        if n != NIL {
            self.at_mut(n).wprev = p;
        }
        let c = self.at_mut(i);
        c.wprev = NIL;
        c.wnext = NIL;
    }

    /// The earliest time at which [`ConnTable::handle_timeout`] has work: the next wheel tick
    /// with a linked entry, at most one wheel revolution ahead.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.len == 0 {
            return None;
        }
        for d in 0..WHEEL_SLOTS as u64 {
            let t = self.wheel_tick + d;
            if self.wheel[(t as usize) & (WHEEL_SLOTS - 1)] != NIL {
                return Some(Instant::from_nanos(
                    t.saturating_mul(1_000_000_000 / TICKS_PER_SEC),
                ));
            }
        }
        None
    }

    /// Expire every entry whose deadline is at or before `now`, calling `on_expire` with each
    /// (so the caller can unbind it from its scheduler, or re-arm a template that still controls
    /// connections by returning `Some(extra)`: the entry then lives `extra` longer).
    pub fn handle_timeout(
        &mut self,
        now: Instant,
        mut on_expire: impl FnMut(ConnId, &Conn) -> Option<Duration>,
    ) {
        let target = tick_of(now);
        if self.len == 0 {
            self.wheel_tick = self.wheel_tick.max(target + 1);
            return;
        }
        while self.wheel_tick <= target {
            let slot = (self.wheel_tick as usize) & (WHEEL_SLOTS - 1);
            let mut i = core::mem::replace(&mut self.wheel[slot], NIL);
            while i != NIL {
                let next = self.at(i).wnext;
                {
                    let c = self.at_mut(i);
                    c.wnext = NIL;
                    c.wprev = NIL;
                }
                if u64::from(self.at(i).expires) <= self.wheel_tick {
                    let c = *self.at(i);
                    match on_expire(ConnId(i), &c) {
                        Some(extra) => {
                            let t = self.wheel_tick.saturating_add(ticks_ceil(extra).max(1));
                            self.at_mut(i).expires = u32::try_from(t).unwrap_or(u32::MAX);
                            self.wheel_link_at(i, t);
                        }
                        None => {
                            self.stats.expired += 1;
                            self.free_entry(i);
                        }
                    }
                } else {
                    let t = u64::from(self.at(i).expires);
                    self.wheel_link_at(i, t);
                }
                i = next;
            }
            self.wheel_tick += 1;
        }
    }

    /// Take an entry already detached from the wheel out of the index and free it.
    fn free_entry(&mut self, i: u32) -> Conn {
        let c = *self.at(i);
        let chunks = &self.chunks;
        let indexed = self.index.remove(c.hash, i, |j| entry(chunks, j).hash);
        debug_assert!(indexed, "a live entry is indexed");
        let free = self.free_head;
        let e = self.at_mut(i);
        *e = EMPTY;
        e.wnext = free;
        self.free_head = i;
        self.len -= 1;
        c
    }

    /// Every live entry (for `ipvsadm -Lnc`-style listings). O(capacity).
    pub fn iter(&self) -> impl Iterator<Item = (ConnId, &Conn)> + '_ {
        (0..self.next_unused)
            .map(move |i| (ConnId(i), self.at(i)))
            .filter(|(_, c)| !c.flags.has(ConnFlags::FREE))
    }
}
