//! The client library's error type. Routing problems (stale epochs, moved
//! leaders) never reach callers: the client refreshes its cache and retries.

use thiserror::Error;

/// Errors of the client library; each variant says whether a retry helps.
#[derive(Debug, Error)]
pub enum Error {
    /// The request is invalid (e.g. an oversized key); not retryable.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// PD belongs to another cluster than the caller.
    #[error("{0}")]
    IdentityMismatch(String),
    /// Talking to PD failed.
    #[error("PD: {0}")]
    Pd(String),
    /// A request did not finish before its deadline.
    #[error("deadline exceeded after {0:?}: {1}")]
    Deadline(std::time::Duration, String),
    /// A store or PD answered with an error that is not a routing error.
    #[error("{0}")]
    Remote(String),
    /// Data read from a store could not be decoded.
    #[error("corrupted data: {0}")]
    Corruption(String),
    /// The transaction conflicted with another (a newer write, or a lock
    /// that did not clear in time) and was aborted: nothing of it is
    /// visible, and it may be retried as a whole (SQLSTATE 40001).
    #[error("transaction aborted: {0}")]
    TxnConflict(String),
    /// The client could not learn whether the commit happened.
    #[error("transaction outcome unknown: {0}")]
    TxnUndetermined(String),
    /// The transaction's buffered writes outgrew the configured limit;
    /// nothing of it was written.
    #[error("transaction too large: {0}")]
    TxnTooLarge(String),
    /// The store cannot serve the request (a store without a
    /// coprocessor); the caller does the work itself.
    #[error("not supported by the store: {0}")]
    Unsupported(String),
}

/// Results of the client library.
pub type Result<T> = std::result::Result<T, Error>;

impl From<prost::DecodeError> for Error {
    fn from(e: prost::DecodeError) -> Self {
        Error::Corruption(e.to_string())
    }
}
