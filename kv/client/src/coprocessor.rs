//! The coprocessor contract: code a SQL node sends to run inside a store,
//! next to the data (TiKV's coprocessor).
//!
//! A store knows nothing of tables, rows or expressions; the SQL layer
//! knows nothing of Raft, snapshots or MVCC. They meet here: the SQL layer
//! implements [`Coprocessor`] (decoding rows, filtering, aggregating) and
//! the binary hands it to the stores it starts; a store runs it over a
//! [`PairSource`] — a streaming MVCC scan of one Region's part of a range
//! at the reader's timestamp — and sends back only the answer. The plan
//! and the answer are bytes in a format of the SQL layer's choosing.
//!
//! A store without a coprocessor answers
//! [`crate::Error::Unsupported`]; the SQL layer then runs the same plan
//! itself over the pairs it reads.

use crate::txn_kv::Pair;

/// The pairs a coprocessor reads: the committed rows of a range as of the
/// request's timestamp, in key order, a page at a time.
pub trait PairSource {
    /// The next pairs; `None` when the range is done, when the request's
    /// budget is spent (the caller asks again from where it stopped), or
    /// when reading failed (the store reports why instead of the answer).
    fn next_page(&mut self) -> Option<Vec<Pair>>;
}

/// Code a store runs over a range on a SQL node's behalf.
pub trait Coprocessor: Send + Sync + std::fmt::Debug + 'static {
    /// Runs `plan` over the pairs of `source`, returning the answer to
    /// send back; an `Err` is a plan the coprocessor cannot run (a
    /// message for the SQL node).
    fn handle(&self, plan: &[u8], source: &mut dyn PairSource) -> Result<Vec<u8>, String>;
}

/// One answer of a store's coprocessor.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CopPage {
    /// The coprocessor's answer for the part of the range read.
    pub data: Vec<u8>,
    /// Pairs the store read for it.
    pub scanned: u64,
    /// The store that answered (0 for a local store).
    pub store_id: u64,
    /// Where the rest of the range starts; `None` once it is done.
    pub resume: Option<Vec<u8>>,
}

/// Pairs a coprocessor request reads at most before the store answers
/// (the caller asks again for the rest): bounds a request's time and
/// memory on the store whatever the range.
pub const COP_BUDGET_PAIRS: usize = 64 * 1024;

/// Pairs per page of a coprocessor's source.
pub const COP_PAGE_PAIRS: usize = 1024;
