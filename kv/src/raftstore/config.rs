//! Tunables of the Raft store, in ticks of the store loop.

/// How a store drives its Raft groups.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Ticks without a leader before a follower campaigns (randomised up to twice this).
    pub election_ticks: usize,
    /// Ticks between a leader's heartbeats.
    pub heartbeat_ticks: usize,
    /// Ticks between a leader's Region heartbeats to PD.
    pub pd_heartbeat_ticks: u64,
    /// Ticks between checks whether the Raft log should be truncated.
    pub raft_log_gc_ticks: u64,
    /// Applied entries kept in the log before it is truncated.
    pub raft_log_gc_threshold: u64,
    /// How far a follower may lag before the leader truncates the log
    /// anyway (the follower then catches up by snapshot).
    pub raft_log_gc_max_lag: u64,
    /// Ticks a read may wait for its ReadIndex before it is failed.
    pub read_timeout_ticks: u64,
    /// Largest append message, in bytes.
    pub max_size_per_msg: u64,
    /// Append messages in flight per follower.
    pub max_inflight_msgs: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            election_ticks: 10,
            heartbeat_ticks: 2,
            pd_heartbeat_ticks: 10,
            raft_log_gc_ticks: 10,
            raft_log_gc_threshold: 1024,
            raft_log_gc_max_lag: 20_000,
            read_timeout_ticks: 20,
            max_size_per_msg: 1 << 20,
            max_inflight_msgs: 256,
        }
    }
}
