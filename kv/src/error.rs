//! The `kv` crate's error type. Routing problems are not here: they are
//! [`RegionError`](protocol::errorpb::RegionError)s, answered to the client
//! that routed the request, which refreshes its cache and retries.

use thiserror::Error;

use crate::engine::EngineError;

/// Errors of a store and of the client library.
#[derive(Debug, Error)]
pub enum Error {
    /// The storage engine failed; the store must stop.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// Persisted state could not be decoded: the data directory is damaged.
    #[error("corrupted store state: {0}")]
    Corruption(String),
    /// Raft refused an operation.
    #[error("raft: {0}")]
    Raft(#[from] raft::Error),
    /// The request is invalid (e.g. an oversized key); not retryable.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The data directory belongs to another cluster or store.
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
    /// The store is shutting down.
    #[error("store is shutting down")]
    Shutdown,
    /// A thread of the store could not start, or stopped unexpectedly.
    #[error("store thread: {0}")]
    Thread(String),
    /// The transaction conflicted with another (a newer write, or a lock
    /// that did not clear in time) and was aborted: nothing of it is
    /// visible, and it may be retried as a whole (SQLSTATE 40001).
    #[error("transaction aborted: {0}")]
    TxnConflict(String),
    /// The client could not learn whether the commit happened.
    #[error("transaction outcome unknown: {0}")]
    TxnUndetermined(String),
}

/// Results of the `kv` crate.
pub type Result<T> = std::result::Result<T, Error>;

impl From<client::Error> for Error {
    fn from(e: client::Error) -> Self {
        use client::Error as C;
        match e {
            C::InvalidRequest(m) => Error::InvalidRequest(m),
            C::IdentityMismatch(m) => Error::IdentityMismatch(m),
            C::Pd(m) => Error::Pd(m),
            C::Deadline(d, m) => Error::Deadline(d, m),
            C::Remote(m) => Error::Remote(m),
            C::Corruption(m) => Error::Corruption(m),
            C::TxnConflict(m) => Error::TxnConflict(m),
            C::TxnUndetermined(m) => Error::TxnUndetermined(m),
            C::TxnTooLarge(m) | C::Unsupported(m) => Error::InvalidRequest(m),
        }
    }
}

impl From<prost::DecodeError> for Error {
    fn from(e: prost::DecodeError) -> Self {
        Error::Corruption(e.to_string())
    }
}

impl From<protobuf::ProtobufError> for Error {
    fn from(e: protobuf::ProtobufError) -> Self {
        Error::Corruption(e.to_string())
    }
}
