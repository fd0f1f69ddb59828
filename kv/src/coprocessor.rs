//! The store's side of the coprocessor (`client::coprocessor`): the
//! streaming MVCC scan a coprocessor reads, shared by the gRPC service and
//! the local store.

use client::coprocessor::{Coprocessor, PairSource, COP_PAGE_PAIRS};
use client::keys::key_after;
use client::txn_key::encode_key;
use client::Pair;

use crate::engine::Snapshot;
use crate::mvcc::{MvccError, MvccReader};

/// Bytes of one page of a coprocessor's source at most.
const PAGE_BYTES: usize = 4 << 20;

/// The committed pairs of an encoded range `[start, end)` as of `ts`, a
/// page at a time, until the range or the budget ends.
pub struct MvccSource<'a, S: Snapshot + ?Sized> {
    reader: MvccReader<'a, S>,
    /// Encoded start of the next page.
    next: Vec<u8>,
    end: Vec<u8>,
    ts: u64,
    /// Pairs still to read in this request.
    budget: usize,
    scanned: u64,
    /// The last user key handed out.
    last: Option<Vec<u8>>,
    /// The range is read to its end.
    done: bool,
    failure: Option<MvccError>,
}

/// How a coprocessor request over a source ended.
pub struct SourceEnd {
    /// Pairs read.
    pub scanned: u64,
    /// The user key to continue from, if the range was not read to its
    /// end.
    pub resume: Option<Vec<u8>>,
}

impl<'a, S: Snapshot + ?Sized> MvccSource<'a, S> {
    /// A source over the encoded range `[start, end)` of `snap` at `ts`,
    /// reading at most `budget` pairs.
    pub fn new(snap: &'a S, start: Vec<u8>, end: Vec<u8>, ts: u64, budget: usize) -> Self {
        let done = !end.is_empty() && start >= end;
        MvccSource {
            reader: MvccReader::new(snap),
            next: start,
            end,
            ts,
            budget,
            scanned: 0,
            last: None,
            done,
            failure: None,
        }
    }

    /// Runs `cop` over this source: its answer and how the read ended, or
    /// the error that stopped the read (a lock met, for the caller to
    /// resolve) or the plan.
    pub fn run(
        mut self,
        cop: &dyn Coprocessor,
        plan: &[u8],
    ) -> Result<(Vec<u8>, SourceEnd), CopFailure> {
        let data = cop.handle(plan, &mut self).map_err(CopFailure::Plan)?;
        if let Some(e) = self.failure {
            return Err(CopFailure::Read(e));
        }
        let resume = match (self.done, self.last) {
            (true, _) => None,
            (false, Some(last)) => Some(key_after(&last)),
            // The coprocessor stopped before reading anything (it wanted
            // nothing more): nothing is left to ask for.
            (false, None) => None,
        };
        Ok((
            data,
            SourceEnd {
                scanned: self.scanned,
                resume,
            },
        ))
    }
}

/// Why a coprocessor request failed.
#[derive(Debug)]
pub enum CopFailure {
    /// Reading the range failed (a lock, a corrupted version).
    Read(MvccError),
    /// The coprocessor refused the plan.
    Plan(String),
}

impl<S: Snapshot + ?Sized> PairSource for MvccSource<'_, S> {
    fn next_page(&mut self) -> Option<Vec<Pair>> {
        if self.done || self.failure.is_some() || self.budget == 0 {
            return None;
        }
        let limit = COP_PAGE_PAIRS.min(self.budget);
        let (pairs, more) = match self
            .reader
            .scan_page(&self.next, &self.end, self.ts, limit, PAGE_BYTES)
        {
            Ok(page) => page,
            Err(e) => {
                self.failure = Some(e);
                return None;
            }
        };
        if !more && pairs.len() < limit {
            self.done = true;
        }
        let Some((last, _)) = pairs.last() else {
            self.done = true;
            return None;
        };
        self.next = encode_key(&key_after(last));
        self.last = Some(last.clone());
        self.budget -= pairs.len();
        self.scanned += pairs.len() as u64;
        Some(
            pairs
                .into_iter()
                .map(|(key, value)| Pair { key, value })
                .collect(),
        )
    }
}
