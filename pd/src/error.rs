//! PD's error type, and how each error reaches a client.

use protocol::pdpb::{self, ErrorType};
use thiserror::Error;

/// Errors of the placement driver.
#[derive(Debug, Error)]
pub enum PdError {
    /// The cluster has no first Region yet.
    #[error("cluster is not bootstrapped")]
    NotBootstrapped,
    /// A second bootstrap was attempted.
    #[error("cluster is already bootstrapped")]
    AlreadyBootstrapped,
    /// The caller belongs to another cluster.
    #[error("request for cluster {requested} reached cluster {actual}")]
    ClusterMismatch { requested: u64, actual: u64 },
    /// The store was removed from the cluster for good.
    #[error("store {0} is tombstone")]
    StoreTombstone(u64),
    /// No such store.
    #[error("store {0} not found")]
    StoreNotFound(u64),
    /// The request is malformed.
    #[error("invalid request: {0}")]
    InvalidValue(String),
    /// PD's data directory could not be read or written.
    #[error("PD storage: {0}")]
    Storage(String),
}

/// PD results.
pub type Result<T> = std::result::Result<T, PdError>;

impl PdError {
    /// The error as it travels in a response header.
    pub fn to_pb(&self) -> pdpb::Error {
        let ty = match self {
            PdError::NotBootstrapped => ErrorType::NotBootstrapped,
            PdError::AlreadyBootstrapped => ErrorType::AlreadyBootstrapped,
            PdError::ClusterMismatch { .. } => ErrorType::ClusterMismatch,
            PdError::StoreTombstone(_) => ErrorType::StoreTombstone,
            PdError::StoreNotFound(_) => ErrorType::StoreNotFound,
            PdError::InvalidValue(_) => ErrorType::InvalidValue,
            PdError::Storage(_) => ErrorType::Unknown,
        };
        pdpb::Error {
            r#type: ty as i32,
            message: self.to_string(),
        }
    }
}
