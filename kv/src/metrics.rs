//! A store's Prometheus metrics, served at `/metrics` on its status address.
//!
//! Counters and histograms are process-wide statics (as in TiKV): recording
//! one is an atomic add, cheap enough for the hot paths that call them.

use std::sync::LazyLock;

use std::time::Instant;

use prometheus::{
    exponential_buckets, Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// The registry every store metric is registered in.
pub static REGISTRY: LazyLock<Registry> = LazyLock::new(Registry::new);

// Metric names, help texts and labels are constants below: building and
// registering them can fail only on a programming error.

fn register<C: prometheus::core::Collector + Clone + 'static>(c: C) -> C {
    let _ = REGISTRY.register(Box::new(c.clone()));
    c
}

fn counter(name: &str, help: &str) -> IntCounter {
    register(IntCounter::new(name, help).expect("valid metric"))
}

fn counter_vec(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    register(IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric"))
}

fn gauge_vec(name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    register(IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric"))
}

/// A latency histogram with buckets from 50 µs to ~26 s.
fn latency_vec(name: &str, help: &str, labels: &[&str]) -> HistogramVec {
    let buckets = exponential_buckets(0.00005, 2.0, 20).unwrap_or_default();
    let opts = HistogramOpts::new(name, help).buckets(buckets);
    register(HistogramVec::new(opts, labels).expect("valid metric"))
}

/// Client requests served, by request type.
pub static KV_REQUESTS: LazyLock<IntCounterVec> =
    LazyLock::new(|| counter_vec("strata_kv_requests_total", "KV requests served", &["type"]));

/// Client request latency, by request type.
pub static KV_REQUEST_SECONDS: LazyLock<HistogramVec> = LazyLock::new(|| {
    latency_vec(
        "strata_kv_request_duration_seconds",
        "KV request latency",
        &["type"],
    )
});

/// Versions removed by GC on this store (as leader; replicas follow).
pub static GC_VERSIONS_DELETED: LazyLock<IntCounter> = LazyLock::new(|| {
    counter(
        "strata_gc_versions_deleted_total",
        "MVCC versions removed by GC",
    )
});

/// Entries proposed to Raft by leaders on this store.
pub static RAFT_PROPOSALS: LazyLock<IntCounter> =
    LazyLock::new(|| counter("strata_raft_proposals_total", "Raft proposals"));

/// Raft entries applied on this store.
pub static RAFT_APPLIED: LazyLock<IntCounter> =
    LazyLock::new(|| counter("strata_raft_applied_entries_total", "Raft entries applied"));

/// Rounds of the store loop and how long each took.
pub static STORE_ROUND_SECONDS: LazyLock<HistogramVec> = LazyLock::new(|| {
    latency_vec(
        "strata_store_round_duration_seconds",
        "Store loop round latency",
        &["store"],
    )
});

/// Batches the store's writer wrote and how long each write took.
pub static STORE_WRITE_SECONDS: LazyLock<HistogramVec> = LazyLock::new(|| {
    latency_vec(
        "strata_store_write_duration_seconds",
        "Store batch write latency (with fsync when synced)",
        &["store"],
    )
});

/// Region peers on a store.
pub static STORE_REGIONS: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    gauge_vec(
        "strata_store_regions",
        "Region peers on the store",
        &["store"],
    )
});

/// Region peers on a store that lead their Region.
pub static STORE_LEADERS: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    gauge_vec(
        "strata_store_leaders",
        "Region leaders on the store",
        &["store"],
    )
});

/// A store's Region and leader counts: its Prometheus gauges, set by the
/// store loop after every round and read by the PD worker for heartbeats.
#[derive(Clone)]
pub struct StoreCounts {
    /// Peers on the store.
    pub regions: IntGauge,
    /// Peers that lead their Region.
    pub leaders: IntGauge,
}

impl StoreCounts {
    /// The gauges of store `store_id`.
    pub fn for_store(store_id: u64) -> Self {
        let label = store_id.to_string();
        StoreCounts {
            regions: STORE_REGIONS.with_label_values(&[&label]),
            leaders: STORE_LEADERS.with_label_values(&[&label]),
        }
    }
}

/// Counts a request and records its latency when dropped.
pub struct RequestTimer {
    kind: &'static str,
    start: Instant,
}

impl RequestTimer {
    /// Starts timing a request of type `kind`.
    pub fn new(kind: &'static str) -> Self {
        RequestTimer {
            kind,
            start: Instant::now(),
        }
    }
}

impl Drop for RequestTimer {
    fn drop(&mut self) {
        KV_REQUESTS.with_label_values(&[self.kind]).inc();
        KV_REQUEST_SECONDS
            .with_label_values(&[self.kind])
            .observe(self.start.elapsed().as_secs_f64());
    }
}

/// Every metric in Prometheus' text format.
pub fn render() -> String {
    // Statics register on first use: make sure all of them are listed.
    LazyLock::force(&KV_REQUESTS);
    LazyLock::force(&KV_REQUEST_SECONDS);
    LazyLock::force(&RAFT_PROPOSALS);
    LazyLock::force(&RAFT_APPLIED);
    LazyLock::force(&STORE_ROUND_SECONDS);
    LazyLock::force(&STORE_WRITE_SECONDS);
    LazyLock::force(&STORE_REGIONS);
    LazyLock::force(&STORE_LEADERS);
    let mut buf = Vec::new();
    let _ = TextEncoder::new().encode(&REGISTRY.gather(), &mut buf);
    String::from_utf8(buf).unwrap_or_default()
}
