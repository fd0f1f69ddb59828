//! Table statistics for choosing access paths: row counts, and per column
//! the share of NULLs, the number of distinct values and an equi-depth
//! histogram, gathered by `ANALYZE` (and again automatically once enough
//! rows changed) from a sample of the rows, as PostgreSQL does.
//!
//! Histogram bounds are the columns' ascending key encodings
//! ([`crate::codec::key`]), so a key range the planner made compares with
//! them byte by byte. Statistics live in the catalog key space (`m` `t`
//! table id, JSON) but outside the catalog's versioned descriptors: they
//! are advice, written without a schema change, and every SQL node reads
//! them again after [`StatsCache::TTL`].

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use client::{BufferedTxn, SharedKv, TxnReader};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::catalog::TableDesc;
use crate::codec::key::{encode_key_datum, index_prefix, prefix_end, PRIMARY_INDEX_ID};
use crate::error::{Error, Result};
use crate::exec::write::decode_table_row;
use crate::types::SqlType;

/// Rows sampled per table (PostgreSQL's default: 300 × 100).
const SAMPLE_ROWS: usize = 30_000;
/// Buckets of a histogram.
const BUCKETS: usize = 100;
/// Rows read per request while sampling.
const PAGE: usize = 1024;
/// Share of an equality on a column without statistics (PostgreSQL's).
pub const DEFAULT_EQ: f64 = 0.005;
/// Share of a range on a column without a histogram (PostgreSQL's).
pub const DEFAULT_RANGE: f64 = 1.0 / 3.0;

/// What `ANALYZE` found in a table.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TableStats {
    /// Rows in the table.
    pub rows: u64,
    /// Per column id.
    pub columns: BTreeMap<u32, ColumnStats>,
}

/// What `ANALYZE` found in one column.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ColumnStats {
    /// Share of rows where it is NULL.
    pub null_frac: f64,
    /// Distinct non-NULL values (estimated from the sample).
    pub distinct: f64,
    /// Equi-depth histogram bounds: ascending key encodings of the
    /// non-NULL values, `BUCKETS + 1` of them (fewer for few values).
    pub bounds: Vec<Vec<u8>>,
    /// The most common values (ascending key encodings) and the share of
    /// rows holding each, most common first.
    #[serde(default)]
    pub common: Vec<(Vec<u8>, f64)>,
}

/// Most common values kept per column.
const COMMON: usize = 10;

impl TableStats {
    /// The share of rows whose column `id` equals one given value that is
    /// not among its most common ones.
    pub fn eq_fraction(&self, id: u32) -> f64 {
        match self.columns.get(&id) {
            Some(c) if c.distinct >= 1.0 => {
                let common: f64 = c.common.iter().map(|(_, f)| f).sum();
                let others = (c.distinct - c.common.len() as f64).max(1.0);
                ((1.0 - c.null_frac - common) / others).max(0.0)
            }
            Some(_) => 0.0,
            None => DEFAULT_EQ,
        }
    }

    /// The share of rows whose column `id` holds one of `n` values given
    /// as key encodings at the start of `keys` (each `keys` entry begins
    /// with one of the values, in the column's direction).
    pub fn values_fraction(&self, id: u32, n: usize, keys: &[&[u8]], descending: bool) -> f64 {
        let Some(c) = self.columns.get(&id) else {
            return (n as f64 * DEFAULT_EQ).min(1.0);
        };
        let mut matched = 0;
        let mut share = 0.0;
        for (value, freq) in &c.common {
            let encoded: Vec<u8> = match descending {
                true => value.iter().map(|b| !b).collect(),
                false => value.clone(),
            };
            if keys.iter().any(|k| k.starts_with(&encoded)) {
                matched += 1;
                share += freq;
            }
        }
        let rest = n.saturating_sub(matched) as f64 * self.eq_fraction(id);
        (share + rest).min(1.0)
    }

    /// The share of rows whose column `id`, key-encoded ascending, lies
    /// in `[lo, hi)` (an empty `hi`: no upper bound).
    pub fn range_fraction(&self, id: u32, lo: &[u8], hi: &[u8]) -> f64 {
        let Some(c) = self.columns.get(&id).filter(|c| c.bounds.len() >= 2) else {
            return DEFAULT_RANGE;
        };
        let buckets = (c.bounds.len() - 1) as f64;
        // Where a key falls among the bounds, in buckets (interpolating
        // half a bucket inside one).
        let position = |k: &[u8]| -> f64 {
            let below = c.bounds.partition_point(|b| b.as_slice() < k);
            match below {
                0 => 0.0,
                n if n >= c.bounds.len() => buckets,
                n => n as f64 - 0.5,
            }
        };
        let top = if hi.is_empty() { buckets } else { position(hi) };
        let share = ((top - position(lo)) / buckets).clamp(0.0, 1.0);
        // Half a bucket at least: a narrow range still holds a row or two.
        (share * (1.0 - c.null_frac)).max(0.5 / buckets / 100.0)
    }
}

/// Samples the rows `reader` sees of `desc` and describes them.
pub async fn collect(reader: &TxnReader, desc: &TableDesc) -> Result<TableStats> {
    let columns: Vec<(u32, SqlType)> = desc.columns.iter().map(|c| (c.id, c.ty)).collect();
    let start = index_prefix(desc.id, PRIMARY_INDEX_ID);
    let end = prefix_end(&start);
    let mut cursor = start;
    // Reservoir sample (Algorithm R) of each row's key-encoded values;
    // `None` is NULL (or a value with no key encoding).
    let mut sample: Vec<Vec<Option<Vec<u8>>>> = Vec::new();
    let mut seen: u64 = 0;
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15 ^ u64::from(desc.id);
    loop {
        let page = reader
            .scan(&cursor, &end, PAGE, crate::exec::scan::PAGE_BYTES)
            .await?;
        for p in &page.pairs {
            seen += 1;
            let slot = if sample.len() < SAMPLE_ROWS {
                Some(sample.len())
            } else {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let j = (seed >> 11) % seen;
                (j < SAMPLE_ROWS as u64).then_some(j as usize)
            };
            let Some(slot) = slot else {
                continue;
            };
            let row = decode_table_row(desc, &p.value, &columns)?;
            let encoded: Vec<Option<Vec<u8>>> = row
                .iter()
                .zip(&columns)
                .map(|(d, (_, ty))| {
                    if d.is_null() {
                        return None;
                    }
                    let mut k = Vec::new();
                    encode_key_datum(&mut k, d, *ty, false).ok()?;
                    Some(k)
                })
                .collect();
            if slot == sample.len() {
                sample.push(encoded);
            } else {
                sample[slot] = encoded;
            }
        }
        match page.resume {
            Some(r) => cursor = r,
            None => break,
        }
    }
    let mut stats = TableStats {
        rows: seen,
        columns: BTreeMap::new(),
    };
    for (i, (id, ty)) in columns.iter().enumerate() {
        if matches!(ty, SqlType::Json | SqlType::Jsonb) {
            continue;
        }
        let mut values: Vec<&[u8]> = sample.iter().filter_map(|r| r[i].as_deref()).collect();
        let nulls = sample.len() - values.len();
        values.sort_unstable();
        stats
            .columns
            .insert(*id, describe(&values, nulls, sample.len(), seen));
    }
    Ok(stats)
}

/// A column from its sorted non-NULL sample values (`nulls` NULLs beside
/// them in a sample of `n` rows out of `total`).
fn describe(values: &[&[u8]], nulls: usize, n: usize, total: u64) -> ColumnStats {
    let mut counts: HashMap<&[u8], u64> = HashMap::new();
    for v in values {
        *counts.entry(v).or_default() += 1;
    }
    let d = counts.len() as f64;
    let once = counts.values().filter(|c| **c == 1).count() as f64;
    let (sampled, total) = (
        values.len() as f64,
        total as f64 * values.len() as f64 / n.max(1) as f64,
    );
    // Haas and Stokes' estimator (PostgreSQL's): d scaled up by how many
    // values were seen only once.
    let distinct = if sampled == 0.0 || sampled >= total || once == 0.0 {
        d
    } else {
        let est = sampled * d / (sampled - once + once * sampled / total);
        est.clamp(d, total)
    };
    let bounds = if values.is_empty() {
        Vec::new()
    } else {
        let buckets = BUCKETS.min(values.len().saturating_sub(1)).max(1);
        (0..=buckets)
            .map(|b| values[(b * (values.len() - 1)) / buckets].to_vec())
            .collect()
    };
    // Values seen more than once and more often than the average one.
    let average = sampled / d.max(1.0);
    let mut common: Vec<(&[u8], u64)> = counts
        .iter()
        .filter(|(_, c)| **c > 1 && **c as f64 > average)
        .map(|(v, c)| (*v, *c))
        .collect();
    common.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    common.truncate(COMMON);
    ColumnStats {
        null_frac: if n == 0 { 0.0 } else { nulls as f64 / n as f64 },
        distinct,
        bounds,
        common: common
            .into_iter()
            .map(|(v, c)| (v.to_vec(), c as f64 / n.max(1) as f64))
            .collect(),
    }
}

/// Key of a table's statistics.
fn stats_key(table: u32) -> Vec<u8> {
    let mut k = b"mt".to_vec();
    k.extend_from_slice(&table.to_be_bytes());
    k
}

/// `ANALYZE` of one table: samples it at a fresh snapshot and stores what
/// it found (its own transaction, retried on conflict).
pub async fn analyze(kv: &SharedKv, desc: &TableDesc) -> Result<TableStats> {
    let reader = TxnReader::snapshot(kv.clone()).await?;
    let stats = collect(&reader, desc).await?;
    let value = serde_json::to_vec(&stats)
        .map_err(|e| Error::internal(format!("statistics encoding: {e}")))?;
    for _ in 0..5 {
        let mut txn = BufferedTxn::begin(kv.clone(), client::DEFAULT_TXN_SIZE_LIMIT).await?;
        txn.put(stats_key(desc.id), value.clone())?;
        match txn.commit().await {
            Ok(_) => return Ok(stats),
            Err(client::Error::TxnConflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(stats)
}

/// A SQL node's statistics, read from the store at most every
/// [`StatsCache::TTL`], and its count of rows changed since each table
/// was last analyzed (which starts the next `ANALYZE` by itself).
pub struct StatsCache {
    kv: SharedKv,
    tables: Mutex<HashMap<u32, Cached>>,
}

struct Cached {
    /// When the statistics were read (`None`: not yet).
    fetched: Option<Instant>,
    stats: Option<Arc<TableStats>>,
    /// Rows written since the statistics were taken (on this node).
    changed: u64,
    /// An automatic ANALYZE is running.
    running: bool,
}

impl Cached {
    /// Nothing known yet: read the statistics at the next use.
    fn unread() -> Cached {
        Cached {
            fetched: None,
            stats: None,
            changed: 0,
            running: false,
        }
    }
}

impl StatsCache {
    /// How long statistics read are trusted before being read again.
    pub const TTL: Duration = Duration::from_secs(10);

    /// A cache over `kv`.
    pub fn new(kv: SharedKv) -> Arc<StatsCache> {
        Arc::new(StatsCache {
            kv,
            tables: Mutex::new(HashMap::new()),
        })
    }

    /// The statistics of table `id`, if it was ever analyzed.
    pub async fn get(&self, id: u32) -> Option<Arc<TableStats>> {
        if let Some(c) = self.tables.lock().get(&id) {
            if c.fetched.is_some_and(|f| f.elapsed() < Self::TTL) {
                return c.stats.clone();
            }
        }
        let read = TxnReader::latest(self.kv.clone()).get(&stats_key(id)).await;
        // Unreadable statistics are no statistics: planning goes on.
        let stats = match read {
            Ok(Some(v)) => serde_json::from_slice::<TableStats>(&v).ok().map(Arc::new),
            _ => None,
        };
        let mut tables = self.tables.lock();
        let c = tables.entry(id).or_insert_with(Cached::unread);
        c.fetched = Some(Instant::now());
        c.stats = stats.clone();
        stats
    }

    /// `ANALYZE` of `desc`, remembered at once on this node.
    pub async fn analyze(&self, desc: &TableDesc) -> Result<Arc<TableStats>> {
        let stats = Arc::new(analyze(&self.kv, desc).await?);
        self.tables.lock().insert(
            desc.id,
            Cached {
                fetched: Some(Instant::now()),
                stats: Some(stats.clone()),
                changed: 0,
                running: false,
            },
        );
        Ok(stats)
    }

    /// Notes that a statement wrote `rows` rows of table `id` (counted
    /// whether or not its transaction commits: a trigger, not a tally).
    pub fn note_changes(&self, id: u32, rows: usize) {
        let mut tables = self.tables.lock();
        let c = tables.entry(id).or_insert_with(Cached::unread);
        c.changed += rows as u64;
    }

    /// After a commit that wrote `desc`: once more than 50 + 10% of the
    /// table changed since its last `ANALYZE` (PostgreSQL's autovacuum
    /// thresholds), analyzes it again in the background.
    pub fn maybe_analyze(self: &Arc<Self>, desc: &Arc<TableDesc>) {
        let due = {
            let mut tables = self.tables.lock();
            let c = tables.entry(desc.id).or_insert_with(Cached::unread);
            let known = c.stats.as_ref().map_or(0, |s| s.rows);
            let due = !c.running && c.changed as f64 > 50.0 + 0.1 * known as f64;
            if due {
                c.running = true;
            }
            due
        };
        if !due {
            return;
        }
        let (cache, desc) = (self.clone(), desc.clone());
        tokio::spawn(async move {
            if let Err(e) = cache.analyze(&desc).await {
                tracing::debug!(table = %desc.name, "automatic ANALYZE failed: {e}");
                if let Some(c) = cache.tables.lock().get_mut(&desc.id) {
                    c.running = false;
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(v: i64) -> Vec<u8> {
        let mut k = Vec::new();
        encode_key_datum(&mut k, &crate::types::Datum::Int8(v), SqlType::Int8, false).unwrap();
        k
    }

    #[test]
    fn histograms_and_distinct_counts_describe_the_sample() {
        let keys: Vec<Vec<u8>> = (0..1000).map(|i| key(i % 100)).collect();
        let mut values: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
        values.sort_unstable();
        let c = describe(&values, 250, 1250, 1250);
        assert_eq!(c.distinct, 100.0);
        assert!((c.null_frac - 0.2).abs() < 1e-9);
        assert_eq!(c.bounds.len(), BUCKETS + 1);
        let stats = TableStats {
            rows: 1250,
            columns: BTreeMap::from([(1, c)]),
        };
        assert!((stats.eq_fraction(1) - 0.008).abs() < 1e-9);
        // Values 0..50 hold half of the non-NULL rows.
        let half = stats.range_fraction(1, &key(0), &key(50));
        assert!((half - 0.4).abs() < 0.03, "{half}");
        assert!(stats.range_fraction(1, &key(200), &[]) < 0.01);
        assert_eq!(stats.eq_fraction(9), DEFAULT_EQ);
    }

    #[test]
    fn common_values_have_their_own_share() {
        // 90% zeros, the rest spread over 1..=100.
        let keys: Vec<Vec<u8>> = (0..1000)
            .map(|i| key(if i % 10 == 0 { 1 + i % 100 } else { 0 }))
            .collect();
        let mut values: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
        values.sort_unstable();
        let c = describe(&values, 0, 1000, 1000);
        assert_eq!(c.common[0], (key(0), 0.9));
        let stats = TableStats {
            rows: 1000,
            columns: BTreeMap::from([(1, c)]),
        };
        let zero = key(0);
        assert!((stats.values_fraction(1, 1, &[&zero], false) - 0.9).abs() < 1e-9);
        let rare = key(7);
        assert!(stats.values_fraction(1, 1, &[&rare], false) < 0.02);
    }

    #[test]
    fn a_sample_of_mostly_unique_values_scales_up() {
        let keys: Vec<Vec<u8>> = (0..1000).map(key).collect();
        let values: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
        let c = describe(&values, 0, 1000, 100_000);
        assert!(c.distinct > 50_000.0, "{}", c.distinct);
    }
}
