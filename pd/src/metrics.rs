//! PD's Prometheus metrics, served at `/metrics` on its HTTP address.

use std::sync::LazyLock;
use std::time::Instant;

use prometheus::{
    exponential_buckets, Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::cluster::{Cluster, StoreHealth};
use crate::meta_store::MetaStore;

/// The registry every PD metric is registered in.
pub static REGISTRY: LazyLock<Registry> = LazyLock::new(Registry::new);

// Metric names, help texts and labels are constants below: building and
// registering them can fail only on a programming error.

fn register<C: prometheus::core::Collector + Clone + 'static>(c: C) -> C {
    let _ = REGISTRY.register(Box::new(c.clone()));
    c
}

fn gauge(name: &str, help: &str) -> IntGauge {
    register(IntGauge::new(name, help).expect("valid metric"))
}

fn counter_vec(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    register(IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric"))
}

/// gRPC requests served, by method.
pub static REQUESTS: LazyLock<IntCounterVec> =
    LazyLock::new(|| counter_vec("strata_pd_requests_total", "PD requests", &["method"]));

/// gRPC request latency, by method.
pub static REQUEST_SECONDS: LazyLock<HistogramVec> = LazyLock::new(|| {
    register(
        HistogramVec::new(
            HistogramOpts::new("strata_pd_request_duration_seconds", "PD request latency")
                .buckets(exponential_buckets(0.00002, 2.0, 20).unwrap_or_default()),
            &["method"],
        )
        .expect("valid metric"),
    )
});

/// Operators created, by kind of step.
pub static OPERATORS_CREATED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(
        "strata_pd_operators_created_total",
        "Operators created",
        &["kind"],
    )
});

/// Operators that left the queue, by kind and outcome (done, timeout,
/// cancelled).
pub static OPERATORS_FINISHED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(
        "strata_pd_operators_finished_total",
        "Operators finished, timed out or cancelled",
        &["kind", "outcome"],
    )
});

static REGIONS: LazyLock<IntGauge> =
    LazyLock::new(|| gauge("strata_pd_regions", "Regions in the routing table"));

static OPERATORS_PENDING: LazyLock<IntGauge> =
    LazyLock::new(|| gauge("strata_pd_operators_pending", "Operators not yet done"));

static STORES: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    register(
        IntGaugeVec::new(Opts::new("strata_pd_stores", "Stores by state"), &["state"])
            .expect("valid metric"),
    )
});

/// Counts a request and records its latency when dropped.
pub struct RequestTimer {
    method: &'static str,
    start: Instant,
}

impl RequestTimer {
    /// Starts timing a request to `method`.
    pub fn new(method: &'static str) -> Self {
        RequestTimer {
            method,
            start: Instant::now(),
        }
    }
}

impl Drop for RequestTimer {
    fn drop(&mut self) {
        REQUESTS.with_label_values(&[self.method]).inc();
        REQUEST_SECONDS
            .with_label_values(&[self.method])
            .observe(self.start.elapsed().as_secs_f64());
    }
}

/// Sets the gauges that describe the cluster as of `now_ms` (call with the
/// cluster locked, then `render` without the lock).
pub fn update_gauges<S: MetaStore>(cluster: &Cluster<S>, now_ms: u64) {
    REGIONS.set(cluster.scan_regions(b"", b"", 0).len() as i64);
    OPERATORS_PENDING.set(cluster.operators().len() as i64);
    let views = cluster.store_views(now_ms);
    for state in [
        StoreHealth::Up,
        StoreHealth::Disconnected,
        StoreHealth::Down,
        StoreHealth::Offline,
        StoreHealth::Tombstone,
    ] {
        let n = views.iter().filter(|v| v.health == state).count();
        STORES.with_label_values(&[state.name()]).set(n as i64);
    }
}

/// Every metric in Prometheus' text format.
pub fn render() -> String {
    LazyLock::force(&REQUESTS);
    LazyLock::force(&REQUEST_SECONDS);
    LazyLock::force(&OPERATORS_CREATED);
    LazyLock::force(&OPERATORS_FINISHED);
    let mut buf = Vec::new();
    let _ = TextEncoder::new().encode(&REGISTRY.gather(), &mut buf);
    String::from_utf8(buf).unwrap_or_default()
}
