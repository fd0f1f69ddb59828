//! A store's Prometheus metrics, served at `/metrics` on its status address.
//!
//! Counters and histograms are process-wide statics (as in TiKV): recording
//! one is an atomic add, cheap enough for the hot paths that call them.

use std::sync::LazyLock;

use std::time::Instant;

use prometheus::{
    exponential_buckets, Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// The registry every store metric is registered in.
pub static REGISTRY: LazyLock<Registry> = LazyLock::new(Registry::new);

fn register<C: prometheus::core::Collector + Clone + 'static>(c: C) -> C {
    // Names are unique constants below, so registration cannot clash.
    let _ = REGISTRY.register(Box::new(c.clone()));
    c
}

fn latency_buckets() -> Vec<f64> {
    // 50 µs .. ~26 s.
    exponential_buckets(0.00005, 2.0, 20).unwrap_or_default()
}

/// Client requests served, by request type.
pub static KV_REQUESTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(
        IntCounterVec::new(
            Opts::new("strata_kv_requests_total", "KV requests served"),
            &["type"],
        )
        .expect("valid metric"),
    )
});

/// Client request latency, by request type.
pub static KV_REQUEST_SECONDS: LazyLock<HistogramVec> = LazyLock::new(|| {
    register(
        HistogramVec::new(
            HistogramOpts::new("strata_kv_request_duration_seconds", "KV request latency")
                .buckets(latency_buckets()),
            &["type"],
        )
        .expect("valid metric"),
    )
});

/// Entries proposed to Raft by leaders on this store.
pub static RAFT_PROPOSALS: LazyLock<IntCounter> = LazyLock::new(|| {
    register(
        IntCounter::new("strata_raft_proposals_total", "Raft proposals").expect("valid metric"),
    )
});

/// Raft entries applied on this store.
pub static RAFT_APPLIED: LazyLock<IntCounter> = LazyLock::new(|| {
    register(
        IntCounter::new("strata_raft_applied_entries_total", "Raft entries applied")
            .expect("valid metric"),
    )
});

/// Rounds of the store loop and how long each took.
pub static STORE_ROUND_SECONDS: LazyLock<HistogramVec> = LazyLock::new(|| {
    register(
        HistogramVec::new(
            HistogramOpts::new(
                "strata_store_round_duration_seconds",
                "Store loop round latency",
            )
            .buckets(latency_buckets()),
            &["store"],
        )
        .expect("valid metric"),
    )
});

/// Region peers on a store.
pub static STORE_REGIONS: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    register(
        IntGaugeVec::new(
            Opts::new("strata_store_regions", "Region peers on the store"),
            &["store"],
        )
        .expect("valid metric"),
    )
});

/// Region peers on a store that lead their Region.
pub static STORE_LEADERS: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    register(
        IntGaugeVec::new(
            Opts::new("strata_store_leaders", "Region leaders on the store"),
            &["store"],
        )
        .expect("valid metric"),
    )
});

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
    LazyLock::force(&STORE_REGIONS);
    LazyLock::force(&STORE_LEADERS);
    let mut buf = Vec::new();
    let _ = TextEncoder::new().encode(&REGISTRY.gather(), &mut buf);
    String::from_utf8(buf).unwrap_or_default()
}
