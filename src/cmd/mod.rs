//! One module per subcommand.

pub mod bench;
pub mod ctl;
pub mod kv;
pub mod pd;
pub mod playground;
pub mod rebalance_bench;
pub mod sql;
pub mod txn_bench;
pub mod txn_exec;

use std::time::Duration;

/// Waits for SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// Parses a duration such as `30m`, `10s` or `500ms`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("invalid duration {s:?}: {e}"))
}

/// Parses a duration that must be more than zero (an interval).
pub fn parse_interval(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d.is_zero() {
        return Err(format!("invalid interval {s:?}: must be more than 0"));
    }
    Ok(d)
}

/// Parses the GC life time: at least 2 s, since clients refresh the
/// service safe points of their running transactions every second.
pub fn parse_gc_life_time(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d < Duration::from_secs(2) {
        return Err(format!(
            "invalid GC life time {s:?}: must be at least 2s (clients register their running transactions every second)"
        ));
    }
    Ok(d)
}

/// Parses a byte size such as `256KiB`, `96MiB` or `1000000`; zero is refused.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let size: bytesize::ByteSize = s.parse().map_err(|e| format!("invalid size {s:?}: {e}"))?;
    if size.as_u64() == 0 {
        return Err(format!("invalid size {s:?}: must be more than 0 bytes"));
    }
    Ok(size.as_u64())
}
