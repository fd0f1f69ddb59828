//! Tables as DataFusion sees them: [`KvTable`] (a `TableProvider`) and
//! [`KvScanExec`] (the plan node that reads key ranges).
//!
//! `KvTable::scan` chooses an access path for the pushed-down filters
//! (every filter is pushed down): the primary key's ranges or a public
//! secondary index's ([`crate::plan::ranges`]), then the scan applies
//! whatever filter the ranges do not implement to the rows it reads, and
//! stops at the limit after filtering. Key ranges (of rows, or of an
//! index's entries) that span Regions are cut at Region boundaries and
//! spread over partitions DataFusion reads in parallel. An index is read
//! a page of entries at a time, whose rows are looked up with one batch
//! get per page, or not at all when the index stores every column the
//! query needs (an index-only scan). Each page (at most [`PAGE_ROWS`] rows or [`PAGE_BYTES`] bytes)
//! becomes one Arrow batch, so memory stays bounded however large the
//! table.
//!
//! Rows come in key order, which the scan declares to DataFusion; asked
//! for another order (`ORDER BY … LIMIT`), the scan reads an index or key
//! that gives it, backwards if need be, so the sort and most of the read
//! go away ([`KvScanExec::try_pushdown_sort`]).
//!
//! Hot path (point select): no Region lookup for points, one RPC per
//! Region for a batch of points, no copy of a value beyond decoding it.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use client::keys::key_after;
use client::{Pair, TxnReader};
use datafusion::arrow::compute::SortOptions;
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::Session;
use datafusion::catalog::TableProvider;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::DFSchema;
use datafusion::common::Result as DfResult;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::execution_props::ExecutionProps;
use datafusion::logical_expr::expr_rewriter::unnormalize_col;
use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion::logical_expr::utils::conjunction;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
use datafusion::physical_expr::aggregate::AggregateFunctionExpr;
use datafusion::physical_expr::expressions::Column as PhysColumn;
use datafusion::physical_expr::{
    create_physical_expr, EquivalenceProperties, PhysicalExpr, PhysicalSortExpr,
};
use datafusion::physical_plan::aggregates::PhysicalGroupBy;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{
    Count, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet, Time,
};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
    SendableRecordBatchStream, SortOrderPushdownResult,
};

use super::cop::{
    decode_pairs, filter_batch, passed, read_answer, CopPlan, Fragment, PartialAggregate,
    ReadPairs, Request as CopRequest,
};
use super::index_expr::predicate_holds;
use crate::catalog::{IndexDesc, TableDesc};
use crate::codec::entry::decode_entry_value;
use crate::codec::key::{
    bucket_ranges, index_prefix, spread_key, INDEX_PREFIX_LEN, PRIMARY_INDEX_ID,
};
use crate::error::Error;
use crate::plan::ranges::{describe, plan_key_ranges, EncodedRange, KeyPart, RangePlan};
use crate::plan::stats::{StatsCache, TableStats, DEFAULT_RANGE};
use crate::types::arrow::field;
use crate::types::SqlType;

/// Rows per scan request (and per Arrow batch).
pub const PAGE_ROWS: usize = 1024;
/// Bytes per scan request.
pub const PAGE_BYTES: usize = 4 << 20;

/// A SQL error as DataFusion carries it.
pub fn df_err(e: Error) -> datafusion::error::DataFusionError {
    datafusion::error::DataFusionError::External(Box::new(e))
}

/// Where a scan records the keys of the rows it reads (for `SELECT …
/// FOR UPDATE`, whose rows the transaction then locks).
pub type KeysRead = Arc<parking_lot::Mutex<Vec<Vec<u8>>>>;

/// A table of the catalog, read through one transaction's view.
#[derive(Debug)]
pub struct KvTable {
    desc: Arc<TableDesc>,
    reader: Reader,
    keys_read: Option<KeysRead>,
    /// The columns DataFusion sees, by position in `desc.columns`.
    exposed: Vec<usize>,
    schema: SchemaRef,
}

/// The transaction view a table reads through.
#[derive(Clone)]
pub struct Reader(pub TxnReader);

impl fmt::Debug for Reader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Reader@{}", self.0.ts())
    }
}

impl KvTable {
    /// `desc` read through `reader`, its visible columns.
    pub fn new(desc: Arc<TableDesc>, reader: TxnReader) -> KvTable {
        KvTable::exposing(desc, reader, false)
    }

    /// `desc` read through `reader`; with `hidden`, its hidden columns too
    /// (the row id a DML statement needs to find the rows it changes).
    pub fn exposing(desc: Arc<TableDesc>, reader: TxnReader, hidden: bool) -> KvTable {
        let exposed: Vec<usize> = (0..desc.columns.len())
            .filter(|i| hidden || !desc.columns[*i].hidden)
            .collect();
        let fields: Vec<_> = exposed
            .iter()
            .map(|i| {
                let c = &desc.columns[*i];
                field(&c.name, c.ty, !c.not_null)
            })
            .collect();
        KvTable {
            desc,
            reader: Reader(reader),
            keys_read: None,
            exposed,
            schema: Arc::new(Schema::new(fields)),
        }
    }

    /// The table, its scans recording the keys of the rows they read in
    /// `keys` (if given).
    pub fn recording(mut self, keys: Option<KeysRead>) -> KvTable {
        self.keys_read = keys;
        self
    }
}

/// The key columns of `idx` (the primary index when `None`) in key
/// order: its own columns, then, for a secondary index, the primary key
/// (entries end with the row key, so rows of equal values come in
/// primary-key order).
fn key_columns(desc: &TableDesc, idx: Option<&IndexDesc>) -> Vec<KeyOrder> {
    let primary = desc.primary.columns.iter().map(|(id, d)| (*id, *d, *d));
    match idx {
        None => primary.collect(),
        Some(i) => i
            .columns
            .iter()
            .map(|(id, d)| (*id, *d, i.nulls_first(*id, *d)))
            .chain(primary)
            .collect(),
    }
}

/// A key column's order: (column id, descending, NULLs first).
type KeyOrder = (u32, bool, bool);

/// The ranges of `idx` (the primary index when `None`) that hold the
/// rows `filters` select.
fn plan_path(desc: &TableDesc, idx: Option<&IndexDesc>, filters: &[&Expr]) -> RangePlan {
    let (id, columns, unique) = match idx {
        None => (PRIMARY_INDEX_ID, &desc.primary.columns, true),
        Some(i) => (i.id, &i.columns, i.unique),
    };
    let parts: Vec<KeyPart> = columns
        .iter()
        .map_while(|(id, descending)| {
            let nulls_opposite = idx.is_some_and(|i| i.nulls_opposite.contains(id));
            if let Some(e) = idx.and_then(|i| i.expr(*id)) {
                return Some(KeyPart {
                    name: e.planned.first()?.clone(),
                    ty: e.ty,
                    descending: *descending,
                    expr: true,
                    nulls_opposite,
                });
            }
            let c = desc.column_by_id(*id)?;
            Some(KeyPart {
                name: c.name.clone(),
                ty: c.ty,
                descending: *descending,
                expr: false,
                nulls_opposite,
            })
        })
        .collect();
    plan_key_ranges(index_prefix(desc.id, id), &parts, unique, filters)
}

/// How to read the rows the spec's filters select: by primary-key
/// ranges, or through a usable secondary index. With statistics, the
/// path of least estimated cost ([`cost`]); without, the one whose
/// ranges look most selective (equalities on more leading columns, then
/// single keys, then a range). The primary key wins ties; a full scan is
/// its whole range. Also the estimated rows, with statistics.
fn access(spec: &ScanSpec) -> (Option<IndexDesc>, RangePlan, Option<f64>) {
    let desc = &spec.desc;
    let filters: Vec<&Expr> = spec.filters.iter().collect();
    let pk = plan_path(desc, None, &filters);
    let Some(stats) = &spec.stats else {
        let mut best = (None, pk);
        for idx in usable(desc, &filters) {
            let plan = plan_path(desc, Some(idx), &filters);
            if plan.narrows() && plan.selectivity() > best.1.selectivity() {
                best = (Some(idx.clone()), plan);
            }
        }
        return (best.0, best.1, None);
    };
    // The columns the query needs: an index storing them all is read
    // alone.
    let mut needed: Vec<u32> = spec.wanted.iter().map(|i| spec.exposed[*i].0).collect();
    for f in &spec.filters {
        for c in f.column_refs() {
            if let Some((id, _, _)) = spec.exposed.iter().find(|(_, _, n)| *n == c.name) {
                needed.push(*id);
            }
        }
    }
    let covered = |i: &IndexDesc| spec.keys_read.is_none() && i.covers(needed.iter().copied());
    let rows = estimate_rows(desc, None, &pk, stats);
    let mut best = (None, pk, rows, rows);
    for idx in usable(desc, &filters) {
        let plan = plan_path(desc, Some(idx), &filters);
        let rows = estimate_rows(desc, Some(idx), &plan, stats);
        let c = cost(rows, covered(idx));
        if c < best.3 {
            best = (Some(idx.clone()), plan, rows, c);
        }
    }
    (best.0, best.1, Some(best.2))
}

/// Relative cost of reading `rows` rows through a secondary index, in rows
/// read by primary key: an entry costs less than a row, a row looked up
/// through an entry (batched, but scattered) more; reading the entries
/// alone (`covered`) is cheapest.
fn cost(rows: f64, covered: bool) -> f64 {
    const ENTRY: f64 = 0.3;
    const LOOKUP: f64 = 1.5;
    // A constant over the primary key's cost: on equal rows, no index.
    if covered {
        rows * ENTRY + 1.0
    } else {
        rows * (ENTRY + LOOKUP) + 1.0
    }
}

/// Rows `plan`'s ranges of `idx` (the primary index when `None`) hold, by
/// `stats`: the table's rows times the share each leading equality (or IN
/// list) keeps, times the share of the range on the next column (from its
/// histogram when it leads the key).
fn estimate_rows(
    desc: &TableDesc,
    idx: Option<&IndexDesc>,
    plan: &RangePlan,
    stats: &TableStats,
) -> f64 {
    let rows = stats.rows.max(1) as f64;
    if !plan.narrows() {
        return rows;
    }
    if plan.ranges.iter().all(|r| r.point) {
        return plan.ranges.len() as f64;
    }
    let (id, parts) = match idx {
        None => (PRIMARY_INDEX_ID, &desc.primary.columns),
        Some(i) => (i.id, &i.columns),
    };
    let p = index_prefix(desc.id, id).len();
    let mut share = 1.0;
    for (i, ((col, descending), n)) in parts.iter().zip(&plan.values).enumerate() {
        share *= if i == 0 {
            // The leading values are at the start of every range: the
            // most common ones count with their own share.
            let keys: Vec<&[u8]> = plan
                .ranges
                .iter()
                .map(|r| r.start.get(p..).unwrap_or(&[]))
                .collect();
            stats.values_fraction(*col, *n, &keys, *descending)
        } else {
            (*n as f64 * stats.eq_fraction(*col)).min(1.0)
        };
    }
    if plan.ranged {
        share *= match parts.get(plan.fixed) {
            Some((col, descending)) if plan.fixed == 0 => {
                let part = |k: &[u8]| -> Vec<u8> {
                    let bytes = k.get(p..).unwrap_or(&[]).to_vec();
                    if *descending {
                        bytes.iter().map(|b| !b).collect()
                    } else {
                        bytes
                    }
                };
                plan.ranges
                    .iter()
                    .map(|r| {
                        let (start, end) = (part(&r.start), part(&r.end));
                        match descending {
                            true => stats.range_fraction(*col, &end, &start),
                            false => stats.range_fraction(*col, &start, &end),
                        }
                    })
                    .sum::<f64>()
                    .min(1.0)
            }
            _ => DEFAULT_RANGE,
        };
    }
    (rows * share).max(1.0)
}

/// The secondary indexes of `desc` a scan with `filters` may read: the
/// public ones, a partial one only if the filters imply its predicate.
fn usable<'a>(desc: &'a TableDesc, filters: &[&Expr]) -> impl Iterator<Item = &'a IndexDesc> {
    let shown: Vec<String> = filters.iter().map(|f| f.to_string()).collect();
    desc.indexes
        .iter()
        .filter(move |i| i.is_public() && predicate_holds(i, &shown))
}

/// What a scan is asked for, whatever path it takes.
#[derive(Debug)]
struct ScanSpec {
    desc: Arc<TableDesc>,
    reader: Reader,
    keys_read: Option<KeysRead>,
    /// The columns DataFusion sees: (id, type, name).
    exposed: Vec<(u32, SqlType, String)>,
    /// The table's schema as DataFusion sees it.
    table_schema: SchemaRef,
    /// The columns returned, by position in `exposed`.
    wanted: Vec<usize>,
    /// Every filter pushed down, its columns unqualified.
    filters: Vec<Expr>,
    /// The table's statistics, if it was analyzed.
    stats: Option<Arc<TableStats>>,
    /// Whether the stores may run filters and aggregates
    /// (`strata.pushdown`).
    pushdown: bool,
}

#[async_trait]
impl TableProvider for KvTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DfResult<Vec<TableProviderFilterPushDown>> {
        // The scan applies every filter: those its key ranges do not
        // implement, to the rows it reads (so a limit counts rows that
        // pass, and an ordered read can stop early).
        Ok(vec![TableProviderFilterPushDown::Exact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let spec = Arc::new(ScanSpec {
            desc: self.desc.clone(),
            reader: self.reader.clone(),
            keys_read: self.keys_read.clone(),
            exposed: self
                .exposed
                .iter()
                .map(|i| {
                    let c = &self.desc.columns[*i];
                    (c.id, c.ty, c.name.clone())
                })
                .collect(),
            table_schema: self.schema.clone(),
            wanted: match projection {
                Some(p) => p.clone(),
                None => (0..self.exposed.len()).collect(),
            },
            filters: filters.iter().map(|f| unnormalize_col(f.clone())).collect(),
            stats: match state.config().get_extension::<StatsCache>() {
                Some(cache) => cache.get(self.desc.id).await,
                None => None,
            },
            pushdown: state
                .config()
                .get_extension::<Pushdown>()
                .is_none_or(|p| p.0),
        });
        let (index, plan, estimate) = access(&spec);
        let mut regions = None;
        let work = match stored_work(&spec.desc, index.as_ref(), &plan.ranges) {
            // Points: one partition, a batch get per Region.
            points @ Work::Points(_) => vec![points],
            // Cut the ranges (of rows or index entries) at Region
            // boundaries; when that cut any, give each partition a
            // contiguous run of parts, read in parallel.
            Work::Ranges(ranges) => {
                let parts = self.reader.cut(&ranges).await?;
                let n = if parts.len() > ranges.len() {
                    regions = Some(parts.len());
                    state.config().target_partitions().clamp(1, parts.len())
                } else {
                    1
                };
                let per = parts.len().div_ceil(n).max(1);
                parts
                    .chunks(per)
                    .map(|c| Work::Ranges(c.to_vec()))
                    .collect::<Vec<_>>()
            }
            // Buckets: one partition merging them, each cut apart.
            Work::Buckets(buckets) => {
                let mut cut = Vec::new();
                for ranges in &buckets {
                    cut.push(self.reader.cut(ranges).await?);
                }
                let parts: usize = cut.iter().map(Vec::len).sum();
                if parts > buckets.iter().map(Vec::len).sum() {
                    regions = Some(parts);
                }
                vec![Work::Buckets(cut)]
            }
        };
        let mut scan = KvScanExec::new(spec, index, plan, work, limit, false, estimate)?;
        scan.regions = regions;
        Ok(Arc::new(scan))
    }
}

/// What one partition reads.
#[derive(Debug, Clone)]
enum Work {
    /// Keys of single rows, in key order.
    Points(Vec<Vec<u8>>),
    /// Ranges `[start, end)`, in key order.
    Ranges(Vec<(Vec<u8>, Vec<u8>)>),
    /// Ranges of rows spread over buckets: each bucket's pieces in key
    /// order, read together and merged back into key order.
    Buckets(Vec<Vec<(Vec<u8>, Vec<u8>)>>),
}

impl Reader {
    /// `ranges` cut at Region boundaries, in order.
    async fn cut(&self, ranges: &[(Vec<u8>, Vec<u8>)]) -> DfResult<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut parts = Vec::new();
        for (start, end) in ranges {
            for p in self
                .0
                .ranges(start, end)
                .await
                .map_err(|e| df_err(e.into()))?
            {
                parts.push((p.start, p.end));
            }
        }
        Ok(parts)
    }
}

/// How `ranges` of `idx` (the primary index when `None`) are read: as
/// points if they all are, else as ranges; in the primary index of a
/// table spreading its rows over buckets, points carry their bucket byte
/// and each range becomes a piece per bucket.
fn stored_work(desc: &TableDesc, idx: Option<&IndexDesc>, ranges: &[EncodedRange]) -> Work {
    let buckets = if idx.is_none() { desc.buckets } else { 0 };
    let spread = |r: &EncodedRange| {
        let mut key = r.start.clone();
        spread_key(&mut key, buckets);
        key
    };
    if !ranges.is_empty() && ranges.iter().all(|r| r.point) {
        return Work::Points(ranges.iter().map(spread).collect());
    }
    if buckets == 0 || ranges.is_empty() {
        return Work::Ranges(
            ranges
                .iter()
                .map(|r| (r.start.clone(), r.end.clone()))
                .collect(),
        );
    }
    let mut groups = vec![Vec::new(); usize::from(buckets)];
    for r in ranges {
        let pieces = if r.point {
            let key = spread(r);
            let end = key_after(&key);
            vec![(key, end)]
        } else {
            bucket_ranges(&r.start, &r.end, buckets)
        };
        for piece in pieces {
            // Every piece starts with the index prefix and its bucket.
            let b = piece.0.get(INDEX_PREFIX_LEN).map_or(0, |b| usize::from(*b));
            let n = groups.len();
            groups[b % n].push(piece);
        }
    }
    Work::Buckets(groups)
}

/// Reads rows of one table along one access path: key ranges of the
/// primary index (the rows), or of a secondary index (entries, whose rows
/// are looked up unless the entries hold every column needed).
#[derive(Debug)]
pub struct KvScanExec {
    spec: Arc<ScanSpec>,
    /// The secondary index read, if any.
    index: Option<IndexDesc>,
    /// The key ranges and the filters they implement.
    plan: RangePlan,
    /// What each partition reads.
    work: Vec<Work>,
    /// Rows wanted at most (per partition), after filtering.
    limit: Option<usize>,
    /// Whether the ranges are read backwards.
    reverse: bool,
    /// The columns decoded: the wanted ones, then those only the
    /// residual filter needs.
    columns: Vec<(u32, SqlType)>,
    /// The filter the ranges do not implement, over `columns`.
    residual: Option<Arc<dyn PhysicalExpr>>,
    /// Whether the index entries hold every decoded column.
    index_only: bool,
    /// What EXPLAIN ANALYZE shows of each partition's work.
    metrics: ExecutionPlanMetricsSet,
    /// Rows the ranges hold by the table's statistics, if it has some.
    estimate: Option<f64>,
    /// The pieces, one per Region, that the ranges were cut into, when
    /// some range spans Regions.
    regions: Option<usize>,
    /// The decoded columns' schema.
    decoded_schema: SchemaRef,
    /// What each decoded column reads as in rows older than it (see
    /// `ColumnDesc::missing`).
    missing: Vec<Option<Vec<u8>>>,
    /// What the stores do for this scan, if they do anything.
    cop: Option<Arc<CopScan>>,
    /// Whether the output is the stores' partial aggregate states.
    aggregated: bool,
    properties: Arc<PlanProperties>,
}

/// The part of a scan the stores run ([`super::cop`]).
#[derive(Debug)]
struct CopScan {
    /// The plan as it travels.
    bytes: Vec<u8>,
    /// The same plan, run here when a store cannot.
    fragment: Fragment,
    /// What EXPLAIN shows.
    shows: String,
}

/// Whether a session lets the stores run filters and aggregates
/// (`SET strata.pushdown = on|off`; on when absent): a DataFusion config
/// extension.
#[derive(Debug, Clone, Copy)]
pub struct Pushdown(pub bool);

impl KvScanExec {
    /// A scan of `spec` reading `plan`'s ranges of `index` (the primary
    /// index when `None`) as `work` says.
    fn new(
        spec: Arc<ScanSpec>,
        index: Option<IndexDesc>,
        plan: RangePlan,
        work: Vec<Work>,
        limit: Option<usize>,
        reverse: bool,
        estimate: Option<f64>,
    ) -> DfResult<KvScanExec> {
        let residual_exprs: Vec<Expr> = spec
            .filters
            .iter()
            .zip(&plan.exact)
            .filter(|(_, exact)| !**exact)
            .map(|(f, _)| f.clone())
            .collect();
        let mut decoded = spec.wanted.clone();
        for f in &residual_exprs {
            for c in f.column_refs() {
                let i = spec.table_schema.index_of(&c.name)?;
                if !decoded.contains(&i) {
                    decoded.push(i);
                }
            }
        }
        let columns: Vec<(u32, SqlType)> = decoded
            .iter()
            .map(|i| (spec.exposed[*i].0, spec.exposed[*i].1))
            .collect();
        let residual = match conjunction(residual_exprs) {
            Some(p) => {
                let schema = DFSchema::try_from(spec.table_schema.project(&decoded)?)?;
                Some(create_physical_expr(
                    &p,
                    &schema,
                    &ExecutionProps::new(),
                    &PhysicalPlanningContext::default(),
                )?)
            }
            None => None,
        };
        let index_only = index.as_ref().is_some_and(|i| {
            spec.keys_read.is_none() && i.covers(columns.iter().map(|(id, _)| *id))
        });
        let schema = Arc::new(spec.table_schema.project(&spec.wanted)?);
        let ordering = output_ordering(&spec, index.as_ref(), &plan, &schema, reverse);
        let work = if work.is_empty() {
            vec![Work::Ranges(Vec::new())]
        } else {
            work
        };
        // The order rows come in, declared to DataFusion.
        let equivalences = if ordering.is_empty() {
            EquivalenceProperties::new(schema.clone())
        } else {
            EquivalenceProperties::new_with_orderings(schema.clone(), [ordering])
        };
        let properties = Arc::new(PlanProperties::new(
            equivalences,
            Partitioning::UnknownPartitioning(work.len()),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        let decoded_schema = Arc::new(Schema::new(
            columns
                .iter()
                .map(|(id, ty)| {
                    let c = spec.desc.column_by_id(*id);
                    field(c.map(|c| c.name.as_str()).unwrap_or("?"), *ty, true)
                })
                .collect::<Vec<_>>(),
        ));
        let missing: Vec<Option<Vec<u8>>> = columns
            .iter()
            .map(|(id, _)| spec.desc.column_by_id(*id).and_then(|c| c.missing.clone()))
            .collect();
        let mut scan = KvScanExec {
            spec,
            index,
            plan,
            work,
            limit,
            reverse,
            columns,
            residual,
            index_only,
            metrics: ExecutionPlanMetricsSet::new(),
            estimate,
            regions: None,
            decoded_schema,
            missing,
            cop: None,
            aggregated: false,
            properties,
        };
        if scan.pushable() && !scan.merges() && (scan.residual.is_some() || !scan.narrow()) {
            scan.cop = scan.cop_scan(None, None).map_err(df_err)?.map(Arc::new);
        }
        Ok(scan)
    }

    /// Whether the stores can run this scan's reads: a forward read of
    /// ranges of rows, or of index entries holding every column, not
    /// recording the keys it reads.
    fn pushable(&self) -> bool {
        self.spec.pushdown
            && !self.reverse
            && self.spec.keys_read.is_none()
            && (self.index.is_none() || self.index_only)
            && self.work.iter().all(|w| !matches!(w, Work::Points(_)))
    }

    /// Whether it merges buckets back into key order (rows the stores
    /// filter would come back bucket by bucket: only aggregates and
    /// top-N, which need no order, are pushed down then).
    fn merges(&self) -> bool {
        self.work.iter().any(|w| matches!(w, Work::Buckets(_)))
    }

    /// Whether it reads rows of a table spreading them over buckets.
    fn bucketed(&self) -> bool {
        self.index.is_none() && self.spec.desc.buckets > 0
    }

    /// Whether statistics say each range holds few rows (read as plainly
    /// as they come, the stores have little to save: each range is a
    /// request either way, and a coprocessor request costs the store a
    /// plan to rebuild).
    fn narrow(&self) -> bool {
        let pieces = if self.bucketed() {
            usize::from(self.spec.desc.buckets)
        } else {
            1
        };
        let ranges = (self.plan.ranges.len() * pieces).max(1) as f64;
        self.estimate
            .is_some_and(|rows| rows / ranges < PAGE_ROWS as f64)
    }

    /// The stores' part of this scan, with `aggregate` if given; `None`
    /// if some expression cannot travel.
    fn cop_scan(
        &self,
        aggregate: Option<PartialAggregate<'_>>,
        top: Option<(&[PhysicalSortExpr], usize)>,
    ) -> Result<Option<CopScan>, Error> {
        let shows = {
            let mut parts = Vec::new();
            if self.residual.is_some() {
                parts.push("filter".to_string());
            }
            if let Some(a) = &aggregate {
                let groups: Vec<&str> = a.group.expr().iter().map(|(_, n)| n.as_str()).collect();
                let calls: Vec<&str> = a.calls.iter().map(|c| c.name()).collect();
                parts.push(format!(
                    "partial_aggregate(group_by=[{}], [{}])",
                    groups.join(", "),
                    calls.join(", ")
                ));
            }
            if let Some(l) = self.limit {
                parts.push(format!("limit={l}"));
            }
            if let Some((order, fetch)) = top {
                let keys: Vec<String> = order.iter().map(|s| s.to_string()).collect();
                parts.push(format!("top({fetch}, [{}])", keys.join(", ")));
            }
            if parts.is_empty() {
                parts.push("projection".into());
            }
            parts.join(", ")
        };
        let check = aggregate.as_ref().map(|a| PartialAggregate {
            group: a.group,
            calls: a.calls,
        });
        let plan = CopPlan::new(CopRequest {
            columns: &self.columns,
            missing: &self.missing,
            stored: self.index_only,
            schema: &self.decoded_schema,
            filter: self.residual.as_ref(),
            wanted: self.spec.wanted.len(),
            aggregate,
            limit: self.limit,
            top,
        })?;
        let Some(plan) = plan else {
            return Ok(None);
        };
        // Built here as a store builds it: what cannot be rebuilt is not
        // sent.
        let fragment = match Fragment::new(&plan) {
            Ok(f) if f.computes(self.residual.as_ref(), check.as_ref()) && f.tops(top) => f,
            Ok(_) => {
                tracing::debug!("not pushed down: rebuilt differently");
                return Ok(None);
            }
            Err(e) => {
                tracing::debug!("not pushed down: {e}");
                return Ok(None);
            }
        };
        Ok(Some(CopScan {
            bytes: plan.encode()?,
            fragment,
            shows,
        }))
    }

    /// This scan with each store answer holding only its first `fetch`
    /// rows by `order` (for a sort with that fetch above it); `None` when
    /// the stores cannot.
    pub(crate) fn with_top(
        &self,
        order: &[PhysicalSortExpr],
        fetch: usize,
    ) -> DfResult<Option<KvScanExec>> {
        if !self.pushable() || self.narrow() || self.limit.is_some() || self.aggregated {
            return Ok(None);
        }
        let Some(cop) = self.cop_scan(None, Some((order, fetch))).map_err(df_err)? else {
            return Ok(None);
        };
        let schema = self.properties.eq_properties.schema().clone();
        Ok(Some(self.pushed(cop, schema, false)))
    }

    /// This scan with the stores running `cop`, answering `schema`.
    fn pushed(&self, cop: CopScan, schema: SchemaRef, aggregated: bool) -> KvScanExec {
        // Answers come in no order the plan can use: buckets are read
        // apart, in parallel.
        let work: Vec<Work> = self
            .work
            .iter()
            .flat_map(|w| match w {
                Work::Buckets(buckets) => buckets.iter().cloned().map(Work::Ranges).collect(),
                other => vec![other.clone()],
            })
            .collect();
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(schema),
            Partitioning::UnknownPartitioning(work.len()),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        KvScanExec {
            spec: self.spec.clone(),
            index: self.index.clone(),
            plan: self.plan.clone(),
            work,
            limit: None,
            reverse: false,
            columns: self.columns.clone(),
            residual: self.residual.clone(),
            index_only: self.index_only,
            metrics: ExecutionPlanMetricsSet::new(),
            estimate: self.estimate,
            regions: self.regions,
            decoded_schema: self.decoded_schema.clone(),
            missing: self.missing.clone(),
            cop: Some(Arc::new(cop)),
            aggregated,
            properties,
        }
    }

    /// This scan with the stores computing `agg`'s partial aggregate (its
    /// output is then `schema`, the partial states); `None` when they
    /// cannot.
    pub(crate) fn with_partial_aggregate(
        &self,
        group: &PhysicalGroupBy,
        calls: &[Arc<AggregateFunctionExpr>],
        schema: SchemaRef,
    ) -> DfResult<Option<KvScanExec>> {
        // A few rows are summed here as fast as a store would: a request
        // costs the store a plan to rebuild.
        if !self.pushable() || self.narrow() || self.limit.is_some() || self.aggregated {
            return Ok(None);
        }
        let Some(cop) = self
            .cop_scan(Some(PartialAggregate { group, calls }), None)
            .map_err(df_err)?
        else {
            return Ok(None);
        };
        // The stores' states must be what DataFusion's final step merges.
        let theirs = cop.fragment.output_schema();
        let same = theirs.fields().len() == schema.fields().len()
            && theirs
                .fields()
                .iter()
                .zip(schema.fields())
                .all(|(a, b)| a.data_type() == b.data_type());
        if !same {
            return Ok(None);
        }
        Ok(Some(self.pushed(cop, schema, true)))
    }

    /// The same scan along `index`'s `plan`, in one partition, backwards
    /// if `reverse`.
    fn along(&self, index: Option<IndexDesc>, plan: RangePlan, reverse: bool) -> DfResult<Self> {
        let work = vec![stored_work(&self.spec.desc, index.as_ref(), &plan.ranges)];
        KvScanExec::new(
            self.spec.clone(),
            index,
            plan,
            work,
            self.limit,
            reverse,
            None,
        )
    }

    /// The path that gives `order` (sort expressions over the output):
    /// this scan's own if it can, else the primary key's or an index's,
    /// taken only when it narrows the read at least as well as this one
    /// (statistics would say better). Backwards when the order is the
    /// key's reversed.
    fn ordered_along(&self, order: &[PhysicalSortExpr]) -> DfResult<Option<KvScanExec>> {
        let Some(wanted) = requested(&self.spec, order) else {
            return Ok(None);
        };
        if let Some(reverse) = gives(&self.spec, self.index.as_ref(), &self.plan, &wanted) {
            return self
                .along(self.index.clone(), self.plan.clone(), reverse)
                .map(Some);
        }
        let refs: Vec<&Expr> = self.spec.filters.iter().collect();
        let desc = &self.spec.desc;
        let candidates = std::iter::once(None).chain(usable(desc, &refs).map(Some));
        for idx in candidates {
            if idx.map(|i| i.id) == self.index.as_ref().map(|i| i.id) {
                continue;
            }
            let plan = plan_path(desc, idx, &refs);
            if plan.selectivity() < self.plan.selectivity() && self.plan.narrows() {
                continue;
            }
            if let Some(reverse) = gives(&self.spec, idx, &plan, &wanted) {
                return self.along(idx.cloned(), plan, reverse).map(Some);
            }
        }
        Ok(None)
    }
}

/// A sort order asked of a scan, as (column id, descending, nulls
/// first), if every expression is a column of the output.
fn requested(spec: &ScanSpec, order: &[PhysicalSortExpr]) -> Option<Vec<(u32, bool, bool)>> {
    order
        .iter()
        .map(|s| {
            let col = s.expr.downcast_ref::<PhysColumn>()?;
            let exposed = *spec.wanted.get(col.index())?;
            let (id, ty, name) = &spec.exposed[exposed];
            (name == col.name() && orders_alike(*ty)).then_some((
                *id,
                s.options.descending,
                s.options.nulls_first,
            ))
        })
        .collect()
}

/// Whether key order and Arrow's order agree on the type (intervals
/// compare by span in keys, field by field in Arrow).
fn orders_alike(ty: SqlType) -> bool {
    !matches!(ty, SqlType::Interval)
}

/// Whether reading `plan`'s ranges of `idx` gives the rows in `order`
/// (column id, descending, nulls first): `Some(false)` forwards,
/// `Some(true)` backwards. Key columns fixed to one value are skipped;
/// the order must then follow the key columns, all in their direction
/// (forwards) or all against it (backwards), NULLs where the key puts
/// them as read.
fn gives(
    spec: &ScanSpec,
    idx: Option<&IndexDesc>,
    plan: &RangePlan,
    order: &[(u32, bool, bool)],
) -> Option<bool> {
    let key = key_columns(&spec.desc, idx);
    let fixed: Vec<u32> = key[..plan.single.min(key.len())]
        .iter()
        .map(|(id, _, _)| *id)
        .collect();
    let order: Vec<&(u32, bool, bool)> = order
        .iter()
        .filter(|(id, _, _)| !fixed.contains(id))
        .collect();
    let mut reverse = None;
    let rest = &key[plan.single.min(key.len())..];
    if order.len() > rest.len() {
        return None;
    }
    for ((id, descending, key_nulls_first), (want, want_desc, nulls_first)) in
        rest.iter().zip(order.iter().copied())
    {
        if id != want {
            return None;
        }
        let backwards = descending != want_desc;
        // Read backwards, NULLs first in the key come last.
        if *nulls_first != (*key_nulls_first != backwards) {
            return None;
        }
        if *reverse.get_or_insert(backwards) != backwards {
            return None;
        }
    }
    Some(reverse.unwrap_or(false))
}

/// The order rows come in along `idx`'s `plan`: the key columns after
/// those fixed to one value, while they are in `schema` (the output)
/// and order alike in keys and Arrow.
fn output_ordering(
    spec: &ScanSpec,
    idx: Option<&IndexDesc>,
    plan: &RangePlan,
    schema: &Schema,
    reverse: bool,
) -> Vec<PhysicalSortExpr> {
    let key = key_columns(&spec.desc, idx);
    let mut ordering = Vec::new();
    for (id, descending, nulls_first) in key.iter().skip(plan.single) {
        let Some(c) = spec.desc.column_by_id(*id) else {
            break;
        };
        let Ok(i) = schema.index_of(&c.name) else {
            break;
        };
        if !orders_alike(c.ty) {
            break;
        }
        ordering.push(PhysicalSortExpr {
            expr: Arc::new(PhysColumn::new(&c.name, i)),
            options: SortOptions {
                descending: *descending != reverse,
                nulls_first: *nulls_first != reverse,
            },
        });
    }
    ordering
}

impl DisplayAs for KvScanExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let desc = &self.spec.desc;
        let prefix = index_prefix(desc.id, PRIMARY_INDEX_ID).len();
        let ranges: Vec<String> = self
            .plan
            .ranges
            .iter()
            .map(|r| describe(r, prefix))
            .collect();
        let shown = if ranges.len() > 8 {
            format!("{} … ({} ranges)", ranges[..8].join(", "), ranges.len())
        } else {
            ranges.join(", ")
        };
        write!(f, "KvScan: table={}", desc.name)?;
        if let Some(idx) = &self.index {
            write!(f, " index={}", idx.name)?;
        }
        write!(f, " ranges=[{}] partitions={}", shown, self.work.len())?;
        if self.bucketed() {
            write!(f, " buckets={}", desc.buckets)?;
        }
        if let Some(n) = self.regions {
            write!(f, " region_parts={n}")?;
        }
        if self.index_only {
            write!(f, " index_only")?;
        }
        if self.reverse {
            write!(f, " reverse")?;
        }
        if let Some(r) = &self.residual {
            write!(f, " filter={r}")?;
        }
        if let Some(rows) = self.estimate {
            write!(f, " rows≈{}", rows.round())?;
        }
        if let Some(l) = self.limit {
            write!(f, " limit={l}")?;
        }
        if let Some(cop) = &self.cop {
            write!(f, " pushdown=[{}]", cop.shows)?;
        }
        Ok(())
    }
}

impl ExecutionPlan for KvScanExec {
    fn name(&self) -> &'static str {
        "KvScanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DfResult<TreeNodeRecursion>,
    ) -> DfResult<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        _children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn with_fetch(&self, limit: Option<usize>) -> Option<Arc<dyn ExecutionPlan>> {
        if self.aggregated {
            return None;
        }
        let mut scan = KvScanExec::new(
            self.spec.clone(),
            self.index.clone(),
            self.plan.clone(),
            self.work.clone(),
            limit,
            self.reverse,
            self.estimate,
        )
        .ok()?;
        scan.regions = self.regions;
        Some(Arc::new(scan))
    }

    fn fetch(&self) -> Option<usize> {
        self.limit
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    fn try_pushdown_sort(
        &self,
        order: &[PhysicalSortExpr],
    ) -> DfResult<SortOrderPushdownResult<Arc<dyn ExecutionPlan>>> {
        if self.aggregated {
            return Ok(SortOrderPushdownResult::Unsupported);
        }
        Ok(match self.ordered_along(order)? {
            Some(scan) => SortOrderPushdownResult::Exact {
                inner: Arc::new(scan),
            },
            None => SortOrderPushdownResult::Unsupported,
        })
    }

    fn execute(
        &self,
        partition: usize,
        _context: Arc<TaskContext>,
    ) -> DfResult<SendableRecordBatchStream> {
        let work = self
            .work
            .get(partition)
            .cloned()
            .ok_or_else(|| df_err(Error::internal(format!("no scan partition {partition}"))))?;
        let state = ScanState {
            reader: self.spec.reader.0.clone(),
            schema: self.properties.eq_properties.schema().clone(),
            decoded_schema: self.decoded_schema.clone(),
            columns: self.columns.clone(),
            missing: self.missing.clone(),
            cop: self.cop.clone(),
            local: false,
            ready: VecDeque::new(),
            work: match work {
                Work::Points(keys) => Pending::Points(Some(keys)),
                Work::Ranges(r) => Pending::Ranges(r.into()),
                Work::Buckets(b) if self.cop.is_some() => {
                    Pending::Ranges(b.into_iter().flatten().collect())
                }
                Work::Buckets(b) => Pending::Buckets(
                    b.into_iter()
                        .map(|ranges| Bucket {
                            ranges: ranges.into(),
                            page: VecDeque::new(),
                        })
                        .collect(),
                ),
            },
            reverse: self.reverse,
            bucketed: self.bucketed(),
            left: self.limit.unwrap_or(usize::MAX),
            keys_read: self.spec.keys_read.clone(),
            lookup: match (&self.index, self.index_only) {
                (None, _) => Lookup::Rows,
                (Some(_), false) => Lookup::Entries,
                (Some(_), true) => Lookup::Stored,
            },
            residual: self.residual.clone(),
            wanted: self.spec.wanted.len(),
            metrics: ScanMetrics {
                rows: MetricBuilder::new(&self.metrics).output_rows(partition),
                requests: MetricBuilder::new(&self.metrics).counter("kv_requests", partition),
                read: MetricBuilder::new(&self.metrics).counter("kv_pairs_read", partition),
                kv_time: MetricBuilder::new(&self.metrics).subset_time("kv_time", partition),
                decode_time: MetricBuilder::new(&self.metrics).elapsed_compute(partition),
                per_store: HashMap::new(),
                set: self.metrics.clone(),
                partition,
            },
        };
        let schema = self.properties.eq_properties.schema().clone();
        let stream = futures::stream::try_unfold(state, |mut st| async move {
            let next = st.next_batch().await.map_err(df_err)?;
            Ok(next.map(|b| (b, st)))
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }
}

enum Pending {
    Points(Option<Vec<Vec<u8>>>),
    Ranges(VecDeque<(Vec<u8>, Vec<u8>)>),
    Buckets(Vec<Bucket>),
}

/// One bucket of a merged read: what is left of its ranges, and the
/// pairs read and not yet merged.
struct Bucket {
    ranges: VecDeque<(Vec<u8>, Vec<u8>)>,
    page: VecDeque<Pair>,
}

impl Bucket {
    /// Whether its next pair must be read before the merge goes on.
    fn starved(&self) -> bool {
        self.page.is_empty() && !self.ranges.is_empty()
    }
}

/// The primary key's bytes of a row key in a bucket (what buckets merge
/// by).
fn key_in_bucket(p: &Pair) -> &[u8] {
    p.key.get(INDEX_PREFIX_LEN + 1..).unwrap_or(&[])
}

/// Reads the next page of the first of `ranges` (the last, backwards),
/// at most `rows` pairs, and moves past what it read.
async fn read_page(
    reader: &TxnReader,
    ranges: &mut VecDeque<(Vec<u8>, Vec<u8>)>,
    reverse: bool,
    rows: usize,
) -> crate::Result<Vec<Pair>> {
    if reverse {
        let Some((start, end)) = ranges.back_mut() else {
            return Ok(Vec::new());
        };
        let page = reader.scan_reverse(start, end, rows, PAGE_BYTES).await?;
        match page.resume {
            Some(next) => *end = next,
            None => {
                ranges.pop_back();
            }
        }
        Ok(page.pairs)
    } else {
        let Some((start, end)) = ranges.front_mut() else {
            return Ok(Vec::new());
        };
        let page = reader.scan(start, end, rows, PAGE_BYTES).await?;
        match page.resume {
            Some(next) => *start = next,
            None => {
                ranges.pop_front();
            }
        }
        Ok(page.pairs)
    }
}

/// What the pairs read are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lookup {
    /// Rows.
    Rows,
    /// Index entries whose rows are looked up.
    Entries,
    /// Index entries holding every column decoded.
    Stored,
}

/// What a partition of a scan counts for EXPLAIN ANALYZE.
struct ScanMetrics {
    /// Rows returned.
    rows: Count,
    /// Requests to the store (pages, batch gets).
    requests: Count,
    /// Pairs read (rows or index entries, before filtering).
    read: Count,
    /// Time waiting for the store.
    kv_time: Time,
    /// Time decoding and filtering.
    decode_time: Time,
    /// Coprocessor requests per store, made as stores answer.
    per_store: HashMap<u64, Count>,
    set: ExecutionPlanMetricsSet,
    partition: usize,
}

impl ScanMetrics {
    /// Counts a coprocessor request answered by `store`.
    fn store_request(&mut self, store: u64) {
        let (set, partition) = (&self.set, self.partition);
        self.per_store
            .entry(store)
            .or_insert_with(|| {
                MetricBuilder::new(set).counter(format!("cop_requests_store_{store}"), partition)
            })
            .add(1);
    }
}

struct ScanState {
    metrics: ScanMetrics,
    reader: TxnReader,
    /// The output: the first `wanted` decoded columns.
    schema: SchemaRef,
    /// Every decoded column.
    decoded_schema: SchemaRef,
    columns: Vec<(u32, SqlType)>,
    /// What each column reads as in rows older than it (see
    /// `ColumnDesc::missing`).
    missing: Vec<Option<Vec<u8>>>,
    /// What the stores run, if they run anything.
    cop: Option<Arc<CopScan>>,
    /// The stores cannot: the fragment runs here.
    local: bool,
    /// Batches answered and not yet returned.
    ready: VecDeque<RecordBatch>,
    work: Pending,
    reverse: bool,
    /// Whether the keys are rows spread over buckets.
    bucketed: bool,
    /// Rows still wanted (the limit).
    left: usize,
    keys_read: Option<KeysRead>,
    lookup: Lookup,
    /// The filter the ranges do not implement.
    residual: Option<Arc<dyn PhysicalExpr>>,
    /// How many of the decoded columns are output.
    wanted: usize,
}

impl ScanState {
    /// The next pairs read (rows, or index entries), in the order asked;
    /// `None` when done.
    async fn next_pairs(&mut self) -> crate::Result<Option<Vec<Pair>>> {
        let rows = PAGE_ROWS.min(self.left);
        // One request, but one per bucket read for a merge.
        let requests = match &self.work {
            Pending::Buckets(buckets) => buckets.iter().filter(|b| b.starved()).count(),
            _ => 1,
        };
        self.metrics.requests.add(requests);
        match &mut self.work {
            Pending::Points(keys) => match keys.take() {
                Some(keys) => {
                    let mut pairs = self.reader.batch_get(keys).await?;
                    if self.bucketed {
                        // Key order, not bucket order.
                        pairs.sort_by(|a, b| key_in_bucket(a).cmp(key_in_bucket(b)));
                    }
                    if self.reverse {
                        pairs.reverse();
                    }
                    Ok(Some(pairs))
                }
                None => Ok(None),
            },
            Pending::Ranges(ranges) if ranges.is_empty() => Ok(None),
            Pending::Ranges(ranges) => read_page(&self.reader, ranges, self.reverse, rows)
                .await
                .map(Some),
            Pending::Buckets(buckets) => {
                // Every bucket out of pairs reads its next page (all at
                // once); then pairs are taken in key order until a
                // bucket runs out of them.
                let reader = &self.reader;
                let reverse = self.reverse;
                let reads = buckets
                    .iter_mut()
                    .filter(|b| b.starved())
                    .map(|b| async move {
                        let pairs = read_page(reader, &mut b.ranges, reverse, rows).await?;
                        b.page.extend(pairs);
                        Ok::<_, Error>(())
                    });
                futures::future::try_join_all(reads).await?;
                if buckets
                    .iter()
                    .all(|b| b.page.is_empty() && b.ranges.is_empty())
                {
                    return Ok(None);
                }
                let mut merged = Vec::new();
                while merged.len() < rows && !buckets.iter().any(Bucket::starved) {
                    let mut next: Option<(usize, &[u8])> = None;
                    for (i, b) in buckets.iter().enumerate() {
                        let Some(k) = b.page.front().map(key_in_bucket) else {
                            continue;
                        };
                        if next.is_none_or(|(_, best)| (k < best) != reverse) {
                            next = Some((i, k));
                        }
                    }
                    let Some((i, _)) = next else {
                        break;
                    };
                    match buckets[i].page.pop_front() {
                        Some(p) => merged.push(p),
                        None => break,
                    }
                }
                Ok(Some(merged))
            }
        }
    }

    /// The rows of index entries, in the entries' order.
    async fn look_up(&self, entries: Vec<Pair>) -> crate::Result<Vec<Pair>> {
        let keys: Vec<Vec<u8>> = entries
            .iter()
            .map(|e| decode_entry_value(&e.value).map(|(key, _)| key.to_vec()))
            .collect::<Result<_, _>>()?;
        let mut found: HashMap<Vec<u8>, Vec<u8>> = self
            .reader
            .batch_get(keys.clone())
            .await?
            .into_iter()
            .map(|p| (p.key, p.value))
            .collect();
        Ok(keys
            .into_iter()
            .filter_map(|key| {
                let value = found.remove(&key)?;
                Some(Pair { key, value })
            })
            .collect())
    }

    /// The next non-empty batch the stores' coprocessor answers (or the
    /// same plan run here), or `None` when done.
    async fn next_cop_batch(&mut self, cop: &CopScan) -> crate::Result<Option<RecordBatch>> {
        loop {
            if let Some(b) = self.ready.pop_front() {
                self.metrics.rows.add(b.num_rows());
                return Ok(Some(b));
            }
            if self.left == 0 {
                return Ok(None);
            }
            let Pending::Ranges(ranges) = &mut self.work else {
                return Err(Error::internal("a pushed-down scan reads ranges"));
            };
            let Some((start, end)) = ranges.front_mut() else {
                return Ok(None);
            };
            let started = std::time::Instant::now();
            let answer = if self.local {
                None
            } else {
                match self.reader.coprocess(start, end, &cop.bytes).await {
                    Ok(page) => page,
                    Err(client::Error::Unsupported(why)) => {
                        tracing::debug!("pushdown: {why}; running the plan here");
                        self.local = true;
                        None
                    }
                    Err(e) => return Err(e.into()),
                }
            };
            self.metrics.requests.add(1);
            let (batches, resume) = match answer {
                Some(page) => {
                    self.metrics.read.add(page.scanned as usize);
                    self.metrics.store_request(page.store_id);
                    self.metrics.kv_time.add_duration(started.elapsed());
                    (read_answer(&page.data)?, page.resume)
                }
                None => {
                    let page = self.reader.scan(start, end, PAGE_ROWS, PAGE_BYTES).await?;
                    self.metrics.read.add(page.pairs.len());
                    self.metrics.kv_time.add_duration(started.elapsed());
                    let timer = self.metrics.decode_time.clone();
                    let _running = timer.timer();
                    let out = cop.fragment.run(&mut ReadPairs(Some(page.pairs)))?;
                    (out, page.resume)
                }
            };
            match resume {
                Some(next) => *start = next,
                None => {
                    ranges.pop_front();
                }
            }
            for b in batches {
                let take = b.num_rows().min(self.left);
                if take == 0 {
                    continue;
                }
                self.left -= take;
                let options = datafusion::arrow::record_batch::RecordBatchOptions::new()
                    .with_row_count(Some(take));
                let b = RecordBatch::try_new_with_options(
                    self.schema.clone(),
                    b.slice(0, take).columns().to_vec(),
                    &options,
                )
                .map_err(|e| Error::internal(format!("pushed-down scan batch: {e}")))?;
                self.ready.push_back(b);
            }
        }
    }

    /// The next non-empty batch, or `None` when done.
    async fn next_batch(&mut self) -> crate::Result<Option<RecordBatch>> {
        if let Some(cop) = self.cop.clone() {
            return self.next_cop_batch(&cop).await;
        }
        loop {
            if self.left == 0 {
                return Ok(None);
            }
            let started = std::time::Instant::now();
            let Some(pairs) = self.next_pairs().await? else {
                return Ok(None);
            };
            self.metrics.read.add(pairs.len());
            let pairs = if self.lookup == Lookup::Entries && !pairs.is_empty() {
                self.metrics.requests.add(1);
                self.look_up(pairs).await?
            } else {
                pairs
            };
            self.metrics.kv_time.add_duration(started.elapsed());
            if pairs.is_empty() {
                continue;
            }
            let timer = self.metrics.decode_time.clone();
            let _decoding = timer.timer();
            let Some(rows) = self.decode(&pairs)? else {
                continue;
            };
            self.metrics.rows.add(rows.num_rows());
            return Ok(Some(rows));
        }
    }

    /// `pairs` as a batch of the output columns: filtered, cut to the
    /// limit; `None` if no row is left.
    fn decode(&mut self, pairs: &[Pair]) -> crate::Result<Option<RecordBatch>> {
        let n = if self.residual.is_some() {
            pairs.len()
        } else {
            pairs.len().min(self.left)
        };
        let missing: Vec<Option<&[u8]>> = self.missing.iter().map(|m| m.as_deref()).collect();
        let all = decode_pairs(
            &pairs[..n],
            self.lookup == Lookup::Stored,
            &self.columns,
            &missing,
            &self.decoded_schema,
        )?;
        let (all, keys): (RecordBatch, Vec<&Pair>) = match &self.residual {
            None => (all, pairs[..n].iter().collect()),
            Some(predicate) => {
                let (kept, mask) = filter_batch(&all, predicate)?;
                let keys = pairs[..n]
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| passed(&mask, *i))
                    .map(|(_, p)| p)
                    .collect();
                (kept, keys)
            }
        };
        let take = all.num_rows().min(self.left);
        if take == 0 {
            return Ok(None);
        }
        let all = all.slice(0, take);
        if let Some(keys_read) = &self.keys_read {
            keys_read
                .lock()
                .extend(keys.iter().take(take).map(|p| p.key.clone()));
        }
        self.left -= take;
        let columns = all.columns()[..self.wanted].to_vec();
        let options =
            datafusion::arrow::record_batch::RecordBatchOptions::new().with_row_count(Some(take));
        RecordBatch::try_new_with_options(self.schema.clone(), columns, &options)
            .map(Some)
            .map_err(|e| Error::internal(format!("scan batch: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use datafusion::logical_expr::{col, lit};
    use datafusion::physical_plan::common::collect;

    use super::*;
    use crate::catalog::{ColumnDesc, IndexDesc, ObjectKind};
    use crate::codec::key::row_key;
    use crate::codec::row::encode_row;
    use crate::exec::query::QueryEngine;
    use crate::types::Datum;

    /// `t (id int PRIMARY KEY, v text)` holding (1,'a'), (2,'b'), (3,'b').
    async fn table() -> KvTable {
        let desc = Arc::new(TableDesc {
            id: 500,
            schema_id: crate::catalog::PUBLIC_SCHEMA_ID,
            name: "t".into(),
            kind: ObjectKind::Table,
            columns: vec![
                ColumnDesc::new(1, "id".into(), SqlType::Int4),
                ColumnDesc::new(2, "v".into(), SqlType::Text),
            ],
            next_column_id: 3,
            primary: IndexDesc::new(PRIMARY_INDEX_ID, "t_pkey", vec![(1, false)], true),
            indexes: Vec::new(),
            next_index_id: 2,
            constraints: Vec::new(),
            version: 1,
            buckets: 0,
        });
        let kv: client::SharedKv = Arc::new(kv::local::LocalTxnKv::new());
        let mut txn = client::BufferedTxn::begin(kv.clone(), 1 << 20)
            .await
            .unwrap();
        for (id, v) in [(1, "a"), (2, "b"), (3, "b")] {
            let id = Datum::Int4(id);
            let key = row_key(desc.id, 0, &[(&id, SqlType::Int4, false)]).unwrap();
            let v = Datum::Text(v.into());
            txn.put(key, encode_row(&[(1, &id), (2, &v)])).unwrap();
        }
        txn.commit().await.unwrap();
        let reader = TxnReader::snapshot(kv).await.unwrap();
        KvTable::new(desc, reader)
    }

    #[tokio::test]
    async fn a_filter_the_ranges_do_not_implement_is_applied_by_the_scan() {
        let t = table().await;
        let engine = QueryEngine::new();
        // Given `v = 'b'` as if it were exact, reading only `id`, with a
        // limit: the scan still filters, then limits.
        let filter = col("v").eq(lit("b"));
        let plan = t
            .scan(engine.state(), Some(&vec![0]), &[filter], Some(5))
            .await
            .unwrap();
        let batches = collect(plan.execute(0, engine.task_ctx()).unwrap())
            .await
            .unwrap();
        let ids: Vec<String> = batches
            .iter()
            .flat_map(|b| {
                assert_eq!(b.num_columns(), 1);
                let a = b.column(0).clone();
                (0..b.num_rows()).map(move |i| {
                    datafusion::arrow::util::display::array_value_to_string(&a, i).unwrap()
                })
            })
            .collect();
        assert_eq!(ids, vec!["2", "3"]);
        // No column wanted (`count(*)`): the rows are still counted.
        let filter = col("v").eq(lit("b"));
        let plan = t
            .scan(engine.state(), Some(&vec![]), &[filter], None)
            .await
            .unwrap();
        let batches = collect(plan.execute(0, engine.task_ctx()).unwrap())
            .await
            .unwrap();
        assert!(batches.iter().all(|b| b.num_columns() == 0));
        assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 2);
    }
}
