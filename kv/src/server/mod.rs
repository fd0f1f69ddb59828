//! A store's IO edge: the store loop, gRPC services, Raft transport and PD
//! worker around the sans-IO [`Store`](crate::raftstore::Store).

mod gc;
mod kv_service;
mod latches;
mod load_split;
mod node;
mod pd_worker;
mod raft_service;
mod split;
mod store_loop;
mod transport;
mod txn_service;

pub use load_split::LoadSplitConfig;
pub use node::{NodeConfig, NodeHandle};
