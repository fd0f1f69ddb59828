//! Routes raft-rs's `slog` records into `tracing`, tagged with the peer.

use slog::{Drain, Level, OwnedKVList, Record};

struct TracingDrain {
    region_id: u64,
    peer_id: u64,
}

impl Drain for TracingDrain {
    type Ok = ();
    type Err = slog::Never;

    fn log(&self, record: &Record, _: &OwnedKVList) -> Result<(), slog::Never> {
        let (region, peer) = (self.region_id, self.peer_id);
        match record.level() {
            Level::Critical | Level::Error => {
                tracing::error!(target: "raft", region, peer, "{}", record.msg())
            }
            Level::Warning => tracing::warn!(target: "raft", region, peer, "{}", record.msg()),
            Level::Info => tracing::debug!(target: "raft", region, peer, "{}", record.msg()),
            Level::Debug | Level::Trace => {
                tracing::trace!(target: "raft", region, peer, "{}", record.msg())
            }
        }
        Ok(())
    }
}

/// A raft-rs logger for one peer.
pub fn peer_logger(region_id: u64, peer_id: u64) -> slog::Logger {
    slog::Logger::root(TracingDrain { region_id, peer_id }.fuse(), slog::o!())
}
