//! Load-based splitting, as TiKV's Load Base Split: a Region that stays
//! hot is split where its requests divide evenly, so PD can put the halves'
//! leaders on different stores.
//!
//! The KV service records every key it serves: a counter per Region and a
//! small uniform sample of the keys (reservoir sampling, so a second's
//! sample costs the same however busy the Region is). Once a second the
//! [`LoadTracker`] closes the window: the window's rates become the
//! Region's load in heartbeats, and a Region whose keys per second stayed at
//! or over the threshold for `detect_secs` windows in a row is split at the
//! sampled key that best divides its sampled requests. A Region hammered on
//! one key has no such key and is left alone (splitting cannot help it).
//!
//! Hot path: one uncontended mutex, one hash lookup and a counter per
//! request; a key is copied only when it enters the sample.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use protocol::metapb;
use rand::Rng;
use tokio::sync::watch;

use super::split::{local_region, split_region};
use super::store_loop::StoreRouter;
use crate::engine::Engine;
use crate::mvcc::key::truncate_version;
use crate::pd_client::RpcPdClient;

/// Keys sampled per Region per window.
const SAMPLES_PER_WINDOW: usize = 20;
/// Fewest samples (inside the Region) a split key is chosen from.
const MIN_SAMPLES: usize = 20;
/// Largest `|left - right| / all` of a split key's division of the samples
/// (TiKV's `split.balance-score`).
const MAX_IMBALANCE: f64 = 0.25;

/// When a Region counts as hot.
#[derive(Debug, Clone, Copy)]
pub struct LoadSplitConfig {
    /// Keys read plus written per second at or over which a Region is hot;
    /// 0 turns load-based splitting off.
    pub qps_threshold: u64,
    /// Consecutive hot seconds after which the Region is split.
    pub detect_secs: u32,
}

impl Default for LoadSplitConfig {
    fn default() -> Self {
        LoadSplitConfig {
            qps_threshold: 3000,
            detect_secs: 10,
        }
    }
}

/// A Region's load, in keys per second.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Load {
    /// Keys read per second.
    pub read: u64,
    /// Keys written per second.
    pub write: u64,
}

impl Load {
    fn total(self) -> u64 {
        self.read + self.write
    }
}

/// What one Region took during the current window.
#[derive(Default)]
struct Window {
    reads: u64,
    writes: u64,
    samples: Vec<Vec<u8>>,
}

impl Window {
    /// Offers `key` to the sample: after n keys, each is in it with
    /// probability `SAMPLES_PER_WINDOW / n`.
    fn sample(&mut self, key: &[u8]) {
        let seen = self.reads + self.writes;
        if self.samples.len() < SAMPLES_PER_WINDOW {
            self.samples.push(key.to_vec());
        } else {
            let slot = rand::rng().random_range(0..seen) as usize;
            if let Some(s) = self.samples.get_mut(slot) {
                *s = key.to_vec();
            }
        }
    }
}

/// A Region hot for `seconds` windows in a row, with their samples.
#[derive(Default)]
struct Streak {
    seconds: u32,
    samples: Vec<Vec<u8>>,
}

/// What the last closed window showed.
#[derive(Default)]
struct Closed {
    at: Option<Instant>,
    loads: HashMap<u64, Load>,
    streaks: HashMap<u64, Streak>,
}

/// Per-Region load of one store, for heartbeats and load-based splits.
pub struct LoadTracker {
    cfg: LoadSplitConfig,
    current: Mutex<HashMap<u64, Window>>,
    closed: Mutex<Closed>,
}

/// A Region found hot long enough to be split, with its sampled keys.
#[derive(Debug)]
pub struct HotRegion {
    /// The Region's id.
    pub region_id: u64,
    /// Keys sampled over its hot seconds.
    pub samples: Vec<Vec<u8>>,
}

impl LoadTracker {
    /// A tracker splitting Regions as `cfg` says.
    pub fn new(cfg: LoadSplitConfig) -> Self {
        LoadTracker {
            cfg,
            current: Mutex::new(HashMap::new()),
            closed: Mutex::new(Closed::default()),
        }
    }

    /// Records keys read from a Region.
    pub fn record_reads<'a>(&self, region_id: u64, keys: impl IntoIterator<Item = &'a [u8]>) {
        let mut current = self.current.lock();
        let w = current.entry(region_id).or_default();
        for k in keys {
            w.reads += 1;
            w.sample(k);
        }
    }

    /// Records keys written to a Region.
    pub fn record_writes<'a>(&self, region_id: u64, keys: impl IntoIterator<Item = &'a [u8]>) {
        let mut current = self.current.lock();
        let w = current.entry(region_id).or_default();
        for k in keys {
            w.writes += 1;
            w.sample(k);
        }
    }

    /// The Region's load in the last closed window.
    pub fn region_load(&self, region_id: u64) -> Load {
        self.closed
            .lock()
            .loads
            .get(&region_id)
            .copied()
            .unwrap_or_default()
    }

    /// The store's load in the last closed window (all its Regions).
    pub fn store_load(&self) -> Load {
        self.closed
            .lock()
            .loads
            .values()
            .fold(Load::default(), |a, l| Load {
                read: a.read + l.read,
                write: a.write + l.write,
            })
    }

    /// Closes the current window at `now` and returns the Regions that
    /// have now been hot for `detect_secs` windows in a row (their streaks
    /// start over).
    pub fn close_window(&self, now: Instant) -> Vec<HotRegion> {
        let windows = std::mem::take(&mut *self.current.lock());
        let mut closed = self.closed.lock();
        let elapsed = closed
            .at
            .map_or(Duration::from_secs(1), |at| {
                now.saturating_duration_since(at)
            })
            .max(Duration::from_millis(100));
        closed.at = Some(now);
        let per_sec = |n: u64| (n as f64 / elapsed.as_secs_f64()).round() as u64;
        closed.loads = windows
            .iter()
            .map(|(id, w)| {
                let load = Load {
                    read: per_sec(w.reads),
                    write: per_sec(w.writes),
                };
                (*id, load)
            })
            .collect();
        if self.cfg.qps_threshold == 0 {
            return Vec::new();
        }
        let threshold = self.cfg.qps_threshold;
        let hot: HashMap<u64, Window> = windows
            .into_iter()
            .filter(|(id, _)| closed.loads.get(id).is_some_and(|l| l.total() >= threshold))
            .collect();
        // A streak ends with the first window that is not hot.
        closed.streaks.retain(|id, _| hot.contains_key(id));
        let mut ready = Vec::new();
        for (id, w) in hot {
            let streak = closed.streaks.entry(id).or_default();
            streak.seconds += 1;
            streak.samples.extend(w.samples);
            if streak.seconds >= self.cfg.detect_secs {
                let samples = std::mem::take(&mut streak.samples);
                closed.streaks.remove(&id);
                ready.push(HotRegion {
                    region_id: id,
                    samples,
                });
            }
        }
        ready
    }
}

fn in_region(key: &[u8], region: &metapb::Region) -> bool {
    key >= region.start_key.as_slice()
        && (region.end_key.is_empty() || key < region.end_key.as_slice())
}

/// The sampled key that best divides the samples inside `region` into
/// those before it and the rest, if the division is even enough.
/// A sample in the transactional key space counts as its user key (a cut
/// never separates a key's versions).
pub fn choose_split_key(samples: Vec<Vec<u8>>, region: &metapb::Region) -> Option<Vec<u8>> {
    let mut samples: Vec<Vec<u8>> = samples
        .into_iter()
        .map(|k| truncate_version(&k).to_vec())
        .filter(|k| in_region(k, region))
        .collect();
    if samples.len() < MIN_SAMPLES {
        return None;
    }
    samples.sort_unstable();
    let n = samples.len();
    // A cut before sample i (where a new key starts) puts i samples left.
    let best = (1..n)
        .filter(|&i| samples[i] != samples[i - 1])
        .min_by_key(|&i| (2 * i).abs_diff(n))?;
    let imbalance = (2 * best).abs_diff(n) as f64 / n as f64;
    (imbalance <= MAX_IMBALANCE).then(|| samples.swap_remove(best))
}

/// Closes a window every second and splits the Regions found hot, until
/// `stop` turns true.
pub async fn run<E: Engine>(
    tracker: Arc<LoadTracker>,
    pd: Arc<RpcPdClient>,
    router: StoreRouter<E>,
    mut stop: watch::Receiver<bool>,
) {
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = ticker.tick() => {
                for hot in tracker.close_window(Instant::now()) {
                    tokio::spawn(split_hot_region(pd.clone(), router.clone(), hot));
                }
            }
        }
    }
}

async fn split_hot_region<E: Engine>(pd: Arc<RpcPdClient>, router: StoreRouter<E>, hot: HotRegion) {
    let Some(region) = local_region(&router, hot.region_id).await else {
        return;
    };
    let Some(key) = choose_split_key(hot.samples, &region) else {
        tracing::debug!(region = region.id, "hot region has no even split key");
        return;
    };
    match split_region(&pd, &router, &region, vec![key]).await {
        Ok(_) => tracing::info!(region = region.id, "region split by load"),
        Err(e) => tracing::debug!(region = region.id, "load split not done: {e:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(start: &[u8], end: &[u8]) -> metapb::Region {
        metapb::Region {
            id: 1,
            start_key: start.to_vec(),
            end_key: end.to_vec(),
            ..Default::default()
        }
    }

    fn key(i: usize) -> Vec<u8> {
        format!("k{i:04}").into_bytes()
    }

    #[test]
    fn split_key_divides_uniform_samples_evenly() {
        let samples: Vec<Vec<u8>> = (0..100).map(key).collect();
        let k = choose_split_key(samples, &region(b"", b"")).unwrap();
        assert_eq!(k, key(50));
    }

    #[test]
    fn no_split_key_for_one_hot_key_or_too_few_samples() {
        let one = vec![key(7); 200];
        assert_eq!(choose_split_key(one, &region(b"", b"")), None);
        // 90% on one key: no cut is within the balance limit.
        let mut skewed = vec![key(7); 180];
        skewed.extend((0..20).map(key));
        assert_eq!(choose_split_key(skewed, &region(b"", b"")), None);
        let few: Vec<Vec<u8>> = (0..MIN_SAMPLES - 1).map(key).collect();
        assert_eq!(choose_split_key(few, &region(b"", b"")), None);
    }

    #[test]
    fn split_key_ignores_samples_outside_the_region_and_is_inside_it() {
        let samples: Vec<Vec<u8>> = (0..200).map(key).collect();
        let r = region(&key(100), &key(150));
        let k = choose_split_key(samples, &r).unwrap();
        assert_eq!(k, key(125));
        assert!(in_region(&k, &r) && k != r.start_key);
    }

    #[test]
    fn a_region_is_reported_after_detect_secs_hot_windows_in_a_row() {
        let cfg = LoadSplitConfig {
            qps_threshold: 100,
            detect_secs: 3,
        };
        let t = LoadTracker::new(cfg);
        let start = Instant::now();
        let second = |i: u64| start + Duration::from_secs(i);
        assert!(t.close_window(second(0)).is_empty());
        let hot_window = |t: &LoadTracker, n: usize| {
            let keys: Vec<Vec<u8>> = (0..n).map(key).collect();
            t.record_reads(1, keys.iter().map(|k| k.as_slice()));
            t.record_writes(1, keys.iter().take(10).map(|k| k.as_slice()));
        };
        hot_window(&t, 150);
        assert!(t.close_window(second(1)).is_empty());
        assert_eq!(
            t.region_load(1),
            Load {
                read: 150,
                write: 10
            }
        );
        // A cold window ends the streak.
        hot_window(&t, 20);
        assert!(t.close_window(second(2)).is_empty());
        for i in 3..5 {
            hot_window(&t, 150);
            assert!(t.close_window(second(i)).is_empty());
        }
        hot_window(&t, 150);
        let ready = t.close_window(second(5));
        assert_eq!(ready.len(), 1);
        assert_eq!(ready[0].region_id, 1);
        assert_eq!(ready[0].samples.len(), 3 * SAMPLES_PER_WINDOW);
        assert_eq!(
            t.store_load(),
            Load {
                read: 150,
                write: 10
            }
        );
        // The streak started over.
        hot_window(&t, 150);
        assert!(t.close_window(second(6)).is_empty());
    }

    #[test]
    fn sampling_is_uniform_enough_to_find_the_middle() {
        let t = LoadTracker::new(LoadSplitConfig {
            qps_threshold: 1,
            detect_secs: 10,
        });
        let start = Instant::now();
        t.close_window(start);
        let mut ready = Vec::new();
        for s in 1..=10 {
            let keys: Vec<Vec<u8>> = (0..1000).map(key).collect();
            t.record_reads(1, keys.iter().map(|k| k.as_slice()));
            ready = t.close_window(start + Duration::from_secs(s));
        }
        let k = choose_split_key(ready.remove(0).samples, &region(b"", b"")).unwrap();
        // 200 samples of a uniform range: the median lands near the middle.
        assert!(
            k > key(300) && k < key(700),
            "{}",
            String::from_utf8_lossy(&k)
        );
    }
}
