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
    /// Ticks between a leader's checks whether its Region took enough
    /// writes to be measured for a split.
    pub split_check_ticks: u64,
    /// A Region larger than this many bytes of data is split.
    pub region_split_size: u64,
    /// A Region holding more than this many keys is split.
    pub region_split_keys: u64,
}

impl StoreConfig {
    /// Bytes written to a Region after which it is measured again (a
    /// sixteenth of the split size, as TiKV's `region-split-check-diff`).
    pub fn split_check_diff_bytes(&self) -> u64 {
        (self.region_split_size / 16).max(1)
    }

    /// Keys written to a Region after which it is measured again.
    pub fn split_check_diff_keys(&self) -> u64 {
        (self.region_split_keys / 16).max(1)
    }
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
            split_check_ticks: 10,
            region_split_size: 96 << 20,
            region_split_keys: 960_000,
        }
    }
}
