//! The Multi-Raft store: every Region replica on a store, as a sans-IO core.
//!
//! - `storage`: `PeerStorage`, a peer's Raft log and state on the engine.
//! - `peer`: `Peer`, one replica — RawNode, proposals, reads, apply.
//! - `store`: `Store`, all peers of a store, driven in group-committed rounds.
//! - `msg`: the commands that go in and the `Output` that comes out.
//! - `split_check`: measuring a Region and choosing its split keys.

mod config;
mod logger;
mod msg;
mod peer;
pub mod split_check;
mod storage;
mod store;

pub use config::StoreConfig;
pub use msg::{
    Output, PdTask, ReadCommand, ReadView, RegionHeartbeat, SplitApplied, SplitCheck, SplitCommand,
    Token, WriteCommand,
};
pub use peer::Peer;
pub use storage::{conf_state_of, decode_raft, encode_raft, RAFT_INIT_LOG_INDEX};
pub use store::{
    bootstrap_region, first_region, load_store_ident, save_store_ident, RoundWrite, Store,
    MAX_WRITES_IN_FLIGHT,
};
