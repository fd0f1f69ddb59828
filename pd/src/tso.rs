//! The timestamp oracle.
//!
//! A timestamp is `physical_ms << 18 | logical`: wall-clock milliseconds
//! with an 18-bit counter for the timestamps handed out within one
//! millisecond. Timestamps are strictly increasing, also across restarts:
//! before handing out a timestamp whose physical part reaches the persisted
//! limit, PD persists a new limit [`TSO_WINDOW_MS`] ahead, and after a
//! restart it starts at the old limit. A clock that goes backwards only
//! stalls the physical part, never the order.

/// Bits of the logical counter.
pub const LOGICAL_BITS: u32 = 18;
const MAX_LOGICAL: u64 = 1 << LOGICAL_BITS;
/// How far ahead of the clock the persisted limit is moved.
pub const TSO_WINDOW_MS: u64 = 3000;

/// The oracle's in-memory state.
#[derive(Debug, Clone)]
pub struct Tso {
    physical: u64,
    logical: u64,
}

/// What `Tso::alloc` needs the caller to do first.
#[derive(Debug, PartialEq, Eq)]
pub enum TsoStep {
    /// The timestamps, first one given.
    Ready(u64),
    /// Persist this new limit, then call `alloc` again.
    PersistLimit(u64),
}

impl Tso {
    /// An oracle that resumes above everything handed out before
    /// `persisted_limit_ms`.
    pub fn new(persisted_limit_ms: u64) -> Self {
        Tso {
            physical: persisted_limit_ms,
            logical: 0,
        }
    }

    /// Allocates `count` (1..2^18) consecutive timestamps at wall clock
    /// `now_ms`, given the currently persisted `limit_ms`.
    pub fn alloc(&mut self, count: u64, now_ms: u64, limit_ms: u64) -> TsoStep {
        let count = count.clamp(1, MAX_LOGICAL - 1);
        if now_ms > self.physical {
            self.physical = now_ms;
            self.logical = 0;
        }
        if self.logical + count > MAX_LOGICAL {
            self.physical += 1;
            self.logical = 0;
        }
        if self.physical >= limit_ms {
            return TsoStep::PersistLimit(self.physical + TSO_WINDOW_MS);
        }
        let first = self.physical << LOGICAL_BITS | self.logical;
        self.logical += count;
        TsoStep::Ready(first)
    }
}

/// The physical milliseconds of a timestamp.
pub fn physical_of(ts: u64) -> u64 {
    ts >> LOGICAL_BITS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alloc(t: &mut Tso, limit: &mut u64, count: u64, now: u64) -> u64 {
        loop {
            match t.alloc(count, now, *limit) {
                TsoStep::Ready(ts) => return ts,
                TsoStep::PersistLimit(l) => *limit = l,
            }
        }
    }

    #[test]
    fn strictly_increasing_even_when_the_clock_goes_back() {
        let mut limit = 0;
        let mut t = Tso::new(limit);
        let mut last = 0;
        for now in [1000, 1000, 999, 5, 1001, 1001, 20_000, 19_000] {
            let ts = alloc(&mut t, &mut limit, 3, now);
            assert!(ts > last, "{ts} after {last}");
            last = ts + 2;
        }
    }

    #[test]
    fn logical_overflow_moves_to_next_millisecond() {
        let mut limit = 0;
        let mut t = Tso::new(limit);
        let a = alloc(&mut t, &mut limit, MAX_LOGICAL - 1, 10);
        let b = alloc(&mut t, &mut limit, 2, 10);
        assert_eq!(physical_of(a), 10);
        assert_eq!(physical_of(b), 11);
    }

    #[test]
    fn restart_resumes_above_the_persisted_limit() {
        let mut limit = 0;
        let mut t = Tso::new(limit);
        let before = alloc(&mut t, &mut limit, 1, 50_000);
        // A restart with a clock far behind still goes forward.
        let mut t2 = Tso::new(limit);
        let after = alloc(&mut t2, &mut limit, 1, 10);
        assert!(after > before);
    }
}
