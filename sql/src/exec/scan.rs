//! Tables as DataFusion sees them: [`KvTable`] (a `TableProvider`) and
//! [`KvScanExec`] (the plan node that reads key ranges).
//!
//! `KvTable::scan` turns the pushed-down filters into key ranges
//! ([`crate::plan::ranges`]), cuts them at Region boundaries and spreads
//! the parts over partitions that DataFusion reads in parallel. Each
//! partition pages through its ranges (at most [`PAGE_ROWS`] rows or
//! [`PAGE_BYTES`] bytes per request) and turns each page into one Arrow
//! batch, so memory stays bounded however large the table. Point ranges
//! (every key column fixed) are read with one batch get instead.
//!
//! Hot path (point select): no Region lookup for points, one RPC per
//! Region for a batch of points, no copy of a value beyond decoding it.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use client::TxnReader;
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::Session;
use datafusion::catalog::TableProvider;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::DFSchema;
use datafusion::common::Result as DfResult;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::expr_rewriter::unnormalize_col;
use datafusion::logical_expr::utils::conjunction;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
use datafusion::physical_expr::expressions::Column as PhysColumn;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
    SendableRecordBatchStream,
};

use crate::catalog::{IndexDesc, TableDesc};
use crate::codec::key::{index_prefix, PRIMARY_INDEX_ID};
use crate::codec::row::decode_row_with_missing;
use crate::error::Error;
use crate::plan::ranges::{
    describe, plan_key_ranges, plan_ranges, EncodedRange, KeyPart, RangePlan,
};
use crate::types::arrow::{batch, field, ColumnBuilder};
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

    fn key_parts(&self, idx: &IndexDesc) -> Vec<KeyPart> {
        idx.columns
            .iter()
            .filter_map(|(id, descending)| {
                let c = self.desc.column_by_id(*id)?;
                Some(KeyPart {
                    name: c.name.clone(),
                    ty: c.ty,
                    descending: *descending,
                })
            })
            .collect()
    }

    /// How to read the rows `filters` select: by primary-key ranges, or
    /// through the public secondary index whose ranges look most
    /// selective (equalities on more leading columns, then single keys,
    /// then a range); the primary key wins ties, a full scan is the
    /// primary key's whole range.
    fn access(&self, filters: &[&Expr]) -> (Option<IndexDesc>, RangePlan) {
        let mut best = (
            None,
            plan_ranges(self.desc.id, &self.key_parts(&self.desc.primary), filters),
        );
        for idx in self.desc.indexes.iter().filter(|i| i.is_public()) {
            let prefix = index_prefix(self.desc.id, idx.id);
            let plan = plan_key_ranges(prefix, &self.key_parts(idx), idx.unique, filters);
            if plan.narrows() && plan.selectivity() > best.1.selectivity() {
                best = (Some(idx.clone()), plan);
            }
        }
        best
    }
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
        let (_, plan) = self.access(filters);
        Ok(plan
            .exact
            .into_iter()
            .map(|exact| {
                if exact {
                    TableProviderFilterPushDown::Exact
                } else {
                    TableProviderFilterPushDown::Unsupported
                }
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let wanted: Vec<usize> = match projection {
            Some(p) => p.clone(),
            None => (0..self.exposed.len()).collect(),
        };
        let refs: Vec<&Expr> = filters.iter().collect();
        let (index, plan) = self.access(&refs);
        // DataFusion hands the scan only filters it was told the ranges
        // implement (Exact), but simplifies them after asking: one whose
        // new form the ranges no longer implement (`k = 1 OR k = NULL`
        // became `k = 1 OR NULL`) is applied here, over the columns it
        // needs as well, and nothing is cut short by the limit before it.
        let leftover: Vec<Expr> = filters
            .iter()
            .zip(&plan.exact)
            .filter(|(_, exact)| !**exact)
            .map(|(f, _)| unnormalize_col(f.clone()))
            .collect();
        let mut indices = wanted.clone();
        for f in &leftover {
            for c in f.column_refs() {
                let i = self.schema.index_of(&c.name)?;
                if !indices.contains(&i) {
                    indices.push(i);
                }
            }
        }
        let limit = if leftover.is_empty() { limit } else { None };
        let columns: Vec<(u32, SqlType)> = indices
            .iter()
            .map(|i| {
                let c = &self.desc.columns[self.exposed[*i]];
                (c.id, c.ty)
            })
            .collect();
        let schema = Arc::new(self.schema.project(&indices)?);
        let work = if index.is_some() {
            // Through an index: one partition reads the entries and looks
            // their rows up, a page at a time.
            if plan.ranges.iter().all(|r| r.point) {
                vec![Work::Points(
                    plan.ranges.iter().map(|r| r.start.clone()).collect(),
                )]
            } else {
                vec![Work::Ranges(
                    plan.ranges
                        .iter()
                        .map(|r| (r.start.clone(), r.end.clone()))
                        .collect(),
                )]
            }
        } else if !plan.ranges.is_empty() && plan.ranges.iter().all(|r| r.point) {
            vec![Work::Points(
                plan.ranges.iter().map(|r| r.start.clone()).collect(),
            )]
        } else {
            // Cut the ranges at Region boundaries, then give each
            // partition a contiguous run of parts.
            let mut parts = Vec::new();
            for r in &plan.ranges {
                for p in self
                    .reader
                    .0
                    .ranges(&r.start, &r.end)
                    .await
                    .map_err(|e| df_err(e.into()))?
                {
                    parts.push((p.start, p.end));
                }
            }
            let n = state
                .config()
                .target_partitions()
                .clamp(1, parts.len().max(1));
            let per = parts.len().div_ceil(n).max(1);
            parts
                .chunks(per)
                .map(|c| Work::Ranges(c.to_vec()))
                .collect::<Vec<_>>()
        };
        let work = if work.is_empty() {
            vec![Work::Ranges(Vec::new())]
        } else {
            work
        };
        let scan: Arc<dyn ExecutionPlan> = Arc::new(KvScanExec::new(
            self,
            schema.clone(),
            columns,
            ReadPlan {
                index,
                ranges: plan.ranges,
                work,
                limit,
            },
        ));
        let Some(predicate) = conjunction(leftover) else {
            return Ok(scan);
        };
        let predicate =
            state.create_physical_expr(predicate, &DFSchema::try_from(schema.clone())?)?;
        let filtered = Arc::new(FilterExec::try_new(predicate, scan)?);
        let back: Vec<(Arc<dyn PhysicalExpr>, String)> = (0..wanted.len())
            .map(|i| {
                let name = schema.field(i).name().clone();
                (
                    Arc::new(PhysColumn::new(&name, i)) as Arc<dyn PhysicalExpr>,
                    name,
                )
            })
            .collect();
        Ok(Arc::new(ProjectionExec::try_new(back, filtered)?))
    }
}

/// What one partition reads.
#[derive(Debug, Clone)]
enum Work {
    /// Keys of single rows.
    Points(Vec<Vec<u8>>),
    /// Ranges `[start, end)`, in key order.
    Ranges(Vec<(Vec<u8>, Vec<u8>)>),
}

/// What a scan reads: ranges of the primary index (the rows), or of a
/// secondary index (entries, whose rows are then looked up).
#[derive(Debug)]
struct ReadPlan {
    /// The secondary index read, if any.
    index: Option<IndexDesc>,
    /// The key ranges, for EXPLAIN.
    ranges: Vec<EncodedRange>,
    /// What each partition reads.
    work: Vec<Work>,
    /// Rows wanted at most.
    limit: Option<usize>,
}

/// Reads rows of one table from key ranges, one partition per run of
/// Region-sized parts.
#[derive(Debug)]
pub struct KvScanExec {
    desc: Arc<TableDesc>,
    reader: Reader,
    schema: SchemaRef,
    columns: Vec<(u32, SqlType)>,
    read: ReadPlan,
    keys_read: Option<KeysRead>,
    properties: Arc<PlanProperties>,
}

impl KvScanExec {
    /// A scan of `table`'s `columns` (as `schema`), as `read` says.
    fn new(
        table: &KvTable,
        schema: SchemaRef,
        columns: Vec<(u32, SqlType)>,
        read: ReadPlan,
    ) -> KvScanExec {
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(schema.clone()),
            Partitioning::UnknownPartitioning(read.work.len()),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        KvScanExec {
            desc: table.desc.clone(),
            reader: table.reader.clone(),
            schema,
            columns,
            read,
            keys_read: table.keys_read.clone(),
            properties,
        }
    }
}

impl DisplayAs for KvScanExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let prefix = index_prefix(self.desc.id, PRIMARY_INDEX_ID).len();
        let ranges: Vec<String> = self
            .read
            .ranges
            .iter()
            .map(|r| describe(r, prefix))
            .collect();
        let shown = if ranges.len() > 8 {
            format!("{} … ({} ranges)", ranges[..8].join(", "), ranges.len())
        } else {
            ranges.join(", ")
        };
        write!(f, "KvScan: table={}", self.desc.name)?;
        if let Some(idx) = &self.read.index {
            write!(f, " index={}", idx.name)?;
        }
        write!(f, " ranges=[{}] partitions={}", shown, self.read.work.len())?;
        if let Some(l) = self.read.limit {
            write!(f, " limit={l}")?;
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

    fn execute(
        &self,
        partition: usize,
        _context: Arc<TaskContext>,
    ) -> DfResult<SendableRecordBatchStream> {
        let work = self
            .read
            .work
            .get(partition)
            .cloned()
            .ok_or_else(|| df_err(Error::internal(format!("no scan partition {partition}"))))?;
        let state = ScanState {
            reader: self.reader.0.clone(),
            schema: self.schema.clone(),
            columns: self.columns.clone(),
            missing: self
                .columns
                .iter()
                .map(|(id, _)| self.desc.column_by_id(*id).and_then(|c| c.missing.clone()))
                .collect(),
            work: match work {
                Work::Points(keys) => Pending::Points(Some(keys)),
                Work::Ranges(r) => Pending::Ranges(r.into()),
            },
            left: self.read.limit.unwrap_or(usize::MAX),
            keys_read: self.keys_read.clone(),
            lookup: self.read.index.is_some(),
        };
        let stream = futures::stream::try_unfold(state, |mut st| async move {
            let next = st.next_batch().await.map_err(df_err)?;
            Ok(next.map(|b| (b, st)))
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.schema.clone(),
            stream,
        )))
    }
}

enum Pending {
    Points(Option<Vec<Vec<u8>>>),
    Ranges(VecDeque<(Vec<u8>, Vec<u8>)>),
}

struct ScanState {
    reader: TxnReader,
    schema: SchemaRef,
    columns: Vec<(u32, SqlType)>,
    /// What each column reads as in rows older than it (see
    /// `ColumnDesc::missing`).
    missing: Vec<Option<Vec<u8>>>,
    work: Pending,
    /// Rows still wanted (the limit).
    left: usize,
    keys_read: Option<KeysRead>,
    /// The keys read are index entries, whose values are the keys of the
    /// rows to read.
    lookup: bool,
}

impl ScanState {
    /// The next non-empty batch, or `None` when done.
    async fn next_batch(&mut self) -> crate::Result<Option<RecordBatch>> {
        loop {
            if self.left == 0 {
                return Ok(None);
            }
            let values = match &mut self.work {
                Pending::Points(keys) => match keys.take() {
                    Some(keys) => self.reader.batch_get(keys).await?,
                    None => return Ok(None),
                },
                Pending::Ranges(ranges) => {
                    let Some((start, end)) = ranges.front_mut() else {
                        return Ok(None);
                    };
                    let rows = PAGE_ROWS.min(self.left);
                    let page = self.reader.scan(start, end, rows, PAGE_BYTES).await?;
                    match page.resume {
                        Some(next) => *start = next,
                        None => {
                            ranges.pop_front();
                        }
                    }
                    page.pairs
                }
            };
            let values = if self.lookup && !values.is_empty() {
                let rows = values.into_iter().map(|p| p.value).collect();
                self.reader.batch_get(rows).await?
            } else {
                values
            };
            if values.is_empty() {
                continue;
            }
            let n = values.len().min(self.left);
            let mut builders: Vec<ColumnBuilder> = self
                .columns
                .iter()
                .map(|(_, ty)| ColumnBuilder::new(*ty, n))
                .collect();
            let missing: Vec<Option<&[u8]>> = self.missing.iter().map(|m| m.as_deref()).collect();
            for pair in values.iter().take(n) {
                let row = decode_row_with_missing(&pair.value, &self.columns, &missing)?;
                for (b, d) in builders.iter_mut().zip(&row) {
                    b.push(d)?;
                }
            }
            if let Some(keys) = &self.keys_read {
                keys.lock()
                    .extend(values.iter().take(n).map(|p| p.key.clone()));
            }
            self.left -= n;
            return batch(self.schema.clone(), &mut builders, n).map(Some);
        }
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
        });
        let kv: client::SharedKv = Arc::new(kv::local::LocalTxnKv::new());
        let mut txn = client::BufferedTxn::begin(kv.clone(), 1 << 20)
            .await
            .unwrap();
        for (id, v) in [(1, "a"), (2, "b"), (3, "b")] {
            let id = Datum::Int4(id);
            let key = row_key(desc.id, &[(&id, SqlType::Int4, false)]).unwrap();
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
