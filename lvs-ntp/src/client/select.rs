//! System process algorithms (RFC 5905 §11.2): the intersection (selection) algorithm that
//! separates truechimers from falsetickers, the cluster algorithm that prunes outliers, and
//! the combine algorithm that averages the survivors.
//!
//! Every function works on caller-owned buffers and allocates nothing once those buffers
//! have grown to the number of servers.

/// MAXDIST (1.5 s, ntpsec `maxdist`): used to weigh stratum against distance in the merit.
pub const MAXDIST: f64 = 1.5;

/// One fit association offered to the selection algorithm.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Candidate {
    /// The caller's identifier (an association index).
    pub id: usize,
    /// Offset θ, seconds.
    pub offset: f64,
    /// Root distance Λ, seconds: the half-width of the correctness interval.
    pub distance: f64,
    /// Peer jitter ψ, seconds.
    pub jitter: f64,
    /// The server's stratum.
    pub stratum: u8,
}

impl Candidate {
    /// The cluster merit: stratum × MAXDIST + Λ (lower is better).
    pub fn merit(&self) -> f64 {
        f64::from(self.stratum) * MAXDIST + self.distance
    }
}

/// The intersection interval found by [`intersection`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    /// Lower end, seconds.
    pub low: f64,
    /// Upper end, seconds.
    pub high: f64,
    /// How many falsetickers the interval allows for.
    pub allowed_falsetickers: usize,
}

impl Interval {
    /// Whether `c`'s correctness interval [θ − Λ, θ + Λ] reaches the intersection.
    pub fn contains(&self, c: &Candidate) -> bool {
        c.offset - c.distance <= self.high && c.offset + c.distance >= self.low
    }
}

/// The intersection algorithm (Marzullo's algorithm as modified by RFC 5905 §11.2.1).
///
/// Finds the smallest number of falsetickers `f < n/2` such that at least `n − f`
/// correctness intervals share a point and no more than `f` midpoints lie outside the
/// common interval. `None` means no majority clique exists. `endpoints` is scratch space.
///
/// ```
/// use lvs_ntp::client::select::{Candidate, intersection};
/// let c = |id, offset| Candidate { id, offset, distance: 0.005, jitter: 1e-4, stratum: 1 };
/// let cands = [c(0, 0.000), c(1, 0.001), c(2, -0.001), c(3, 0.050), c(4, 0.0005)];
/// let mut scratch = Vec::new();
/// let iv = intersection(&cands, &mut scratch).unwrap();
/// assert_eq!(iv.allowed_falsetickers, 1);
/// assert!(!iv.contains(&cands[3]));
/// assert!(cands.iter().filter(|c| iv.contains(c)).count() == 4);
/// ```
pub fn intersection(cands: &[Candidate], endpoints: &mut Vec<(f64, i8)>) -> Option<Interval> {
    endpoints.clear();
    for c in cands {
        endpoints.push((c.offset - c.distance, -1));
        endpoints.push((c.offset, 0));
        endpoints.push((c.offset + c.distance, 1));
    }
    // Ties: lower ends first, so intervals that touch count as overlapping.
    endpoints.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let n = cands.len();
    let mut allow = 0;
    while 2 * allow < n {
        let need = (n - allow) as i64;
        let mut found = 0;
        let mut chime = 0i64;
        let mut low = None;
        for &(edge, kind) in endpoints.iter() {
            chime -= i64::from(kind);
            if chime >= need {
                low = Some(edge);
                break;
            }
            if kind == 0 {
                found += 1;
            }
        }
        chime = 0;
        let mut high = None;
        for &(edge, kind) in endpoints.iter().rev() {
            chime += i64::from(kind);
            if chime >= need {
                high = Some(edge);
                break;
            }
            if kind == 0 {
                found += 1;
            }
        }
        if found <= allow
            && let (Some(low), Some(high)) = (low, high)
            && low <= high
        {
            return Some(Interval {
                low,
                high,
                allowed_falsetickers: allow,
            });
        }
        allow += 1;
    }
    None
}

/// The selection jitter of `survivors[i]`: the RMS of its offset differences to the others.
pub fn selection_jitter(survivors: &[Candidate], i: usize) -> f64 {
    let n = survivors.len();
    if n < 2 {
        return 0.0;
    }
    let own = survivors[i].offset;
    let sum: f64 = survivors.iter().map(|c| (c.offset - own).powi(2)).sum();
    (sum / (n - 1) as f64).sqrt()
}

/// The cluster algorithm (RFC 5905 §11.2.2): while more than `min_clock` survivors remain and
/// the largest selection jitter is not below the smallest peer jitter, remove the survivor
/// with the largest selection jitter. Removed ids are appended to `outliers`. Survivors keep
/// their order.
///
/// ```
/// use lvs_ntp::client::select::{Candidate, cluster};
/// let c = |id, offset| Candidate { id, offset, distance: 0.01, jitter: 1e-4, stratum: 1 };
/// let mut s = vec![c(0, 0.0), c(1, 0.0002), c(2, -0.0001), c(3, 0.030)];
/// let mut out = Vec::new();
/// cluster(&mut s, 3, &mut out);
/// assert_eq!(out, [3]);
/// assert_eq!(s.len(), 3);
/// ```
pub fn cluster(survivors: &mut Vec<Candidate>, min_clock: usize, outliers: &mut Vec<usize>) {
    while survivors.len() > min_clock.max(1) {
        let mut worst = 0;
        let mut worst_jitter = f64::NEG_INFINITY;
        for i in 0..survivors.len() {
            let j = selection_jitter(survivors, i);
            if j > worst_jitter {
                worst = i;
                worst_jitter = j;
            }
        }
        let best_peer_jitter = survivors
            .iter()
            .map(|c| c.jitter)
            .fold(f64::INFINITY, f64::min);
        if worst_jitter < best_peer_jitter {
            break;
        }
        outliers.push(survivors.remove(worst).id);
    }
}

/// The result of [`combine`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Combined {
    /// Θ: the survivors' offsets weighted by 1/Λ, seconds.
    pub offset: f64,
    /// ψ_p: the weighted RMS of the survivors' offsets around the system peer's
    /// (`survivors[0]`), seconds.
    pub peer_jitter: f64,
}

/// The combine algorithm (RFC 5905 §11.2.3): offsets weighted by the reciprocal of their root
/// distance. `survivors[0]` is the system peer. `None` for an empty slice.
///
/// ```
/// use lvs_ntp::client::select::{Candidate, combine};
/// let c = |offset, distance| Candidate { id: 0, offset, distance, jitter: 1e-4, stratum: 1 };
/// let r = combine(&[c(0.001, 0.01), c(0.004, 0.02)]).unwrap();
/// assert!((r.offset - 0.002).abs() < 1e-12);
/// ```
pub fn combine(survivors: &[Candidate]) -> Option<Combined> {
    let first = survivors.first()?;
    let mut norm = 0.0;
    let mut offset = 0.0;
    let mut jitter = 0.0;
    for c in survivors {
        let w = 1.0 / c.distance.max(1e-9);
        norm += w;
        offset += c.offset * w;
        jitter += (c.offset - first.offset).powi(2) * w;
    }
    Some(Combined {
        offset: offset / norm,
        peer_jitter: (jitter / norm).sqrt(),
    })
}
