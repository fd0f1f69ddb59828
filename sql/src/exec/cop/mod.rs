//! Store-side pushdown: the part of a scan that runs inside the stores,
//! next to the data (TiKV's coprocessor, `client::coprocessor`).
//!
//! A scan of rows (or of index entries that store every column needed)
//! sends the stores a [`CopPlan`]: which columns to decode, the filter
//! its key ranges do not implement, a row limit, and optionally a partial
//! aggregate (GROUP BY expressions and aggregate calls). A store runs it
//! as a [`Fragment`] over a streaming MVCC scan of its part of the range
//! at the statement's timestamp and answers with Arrow batches (IPC):
//! only the rows that pass, only the columns wanted, or only the partial
//! aggregate states, which DataFusion's final aggregate on the SQL node
//! merges. The plan and the answer are opaque to the store.
//!
//! The same fragment runs on the SQL node over pairs it reads itself
//! when a store cannot (no coprocessor) or must not (the transaction's
//! own uncommitted writes lie in the range): the answer is the same
//! either way, which the differential tests check with pushdown off
//! (`SET strata.pushdown = off`).

pub mod expr;
pub mod rule;

use std::io::Cursor;
use std::sync::{Arc, OnceLock};

use base64::Engine as _;
use client::coprocessor::{Coprocessor, PairSource};
use client::Pair;
use datafusion::arrow::array::Array;
use datafusion::arrow::compute::{
    concat_batches, filter_record_batch, lexsort_to_indices, take_record_batch, SortColumn,
    SortOptions,
};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::StreamWriter;
use datafusion::arrow::record_batch::{RecordBatch, RecordBatchOptions};
use datafusion::common::cast::as_boolean_array;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::execution::context::SessionState;
use datafusion::execution::TaskContext;
use datafusion::physical_expr::aggregate::{AggregateExprBuilder, AggregateFunctionExpr};
use datafusion::physical_expr::{PhysicalExpr, PhysicalSortExpr};
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode, PhysicalGroupBy};
use datafusion::physical_plan::ExecutionPlan;
use serde::{Deserialize, Serialize};

use self::expr::{same_expr, to_node, Literals, Node, Rebuild};
use crate::codec::entry::decode_entry_value;
use crate::codec::row::{decode_row, decode_row_with_missing};
use crate::error::{Error, Result};
use crate::types::arrow::{batch, ColumnBuilder};
use crate::types::SqlType;

/// A scan's work for the stores, as it travels (JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CopPlan {
    /// The columns decoded from each pair: (id, type), in the order of
    /// the input schema.
    pub columns: Vec<(u32, SqlType)>,
    /// What each column reads as in rows older than it.
    pub missing: Vec<Option<Vec<u8>>>,
    /// The pairs are index entries storing the columns (not rows).
    pub stored: bool,
    /// The decoded batches' schema, as an Arrow IPC stream (base64).
    pub schema: String,
    /// The plan's literal values and cast types ([`Literals`]), as an
    /// Arrow IPC stream (base64); empty if none.
    pub literals: String,
    /// Rows that fail it are dropped.
    pub filter: Option<Node>,
    /// Without an aggregate, the first `wanted` decoded columns are the
    /// answer.
    pub wanted: usize,
    /// A partial aggregate of the rows that pass.
    pub aggregate: Option<AggregatePlan>,
    /// Rows wanted at most (without an aggregate).
    pub limit: Option<usize>,
    /// Only the first rows in this order (the answer is sorted).
    #[serde(default)]
    pub top: Option<TopPlan>,
}

/// The first `fetch` rows by `order` (ORDER BY … LIMIT): each answer
/// holds at most that many, and the SQL node's sort picks the first of
/// all answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TopPlan {
    /// (expression over the wanted columns, descending, nulls first).
    pub order: Vec<(Node, bool, bool)>,
    pub fetch: usize,
}

/// The partial aggregate of a [`CopPlan`], over the wanted columns.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AggregatePlan {
    /// GROUP BY expressions and their output names.
    pub group: Vec<(Node, String)>,
    /// The aggregate calls.
    pub calls: Vec<AggregateCall>,
}

/// One aggregate call of an [`AggregatePlan`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AggregateCall {
    /// The registered aggregate function.
    pub function: String,
    pub args: Vec<Node>,
    /// Its output name (the partial state columns are named after it).
    pub name: String,
}

/// The aggregate part of a plan as DataFusion built it on the SQL node.
pub struct PartialAggregate<'a> {
    pub group: &'a PhysicalGroupBy,
    pub calls: &'a [Arc<AggregateFunctionExpr>],
}

/// The functions a store can call (every function the SQL layer
/// registers), and the configuration expressions are built with.
fn registry() -> &'static SessionState {
    static STATE: OnceLock<SessionState> = OnceLock::new();
    STATE.get_or_init(|| super::query::QueryEngine::new().state().clone())
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unb64(s: &str) -> Result<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| Error::internal(format!("coprocessor plan: {e}")))
}

/// `batches` of `schema` as an Arrow IPC stream.
pub fn to_ipc(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<Vec<u8>> {
    let bad = |e: datafusion::arrow::error::ArrowError| Error::internal(format!("Arrow IPC: {e}"));
    let mut w = StreamWriter::try_new(Vec::new(), schema).map_err(bad)?;
    for b in batches {
        w.write(b).map_err(bad)?;
    }
    w.into_inner().map_err(bad)
}

/// The schema and batches of an Arrow IPC stream.
pub fn from_ipc(bytes: &[u8]) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let bad = |e: datafusion::arrow::error::ArrowError| Error::internal(format!("Arrow IPC: {e}"));
    let reader = StreamReader::try_new(Cursor::new(bytes), None).map_err(bad)?;
    let schema = reader.schema();
    let batches = reader
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(bad)?;
    Ok((schema, batches))
}

/// What a scan asks of the stores, before it is a plan.
pub struct Request<'a> {
    pub columns: &'a [(u32, SqlType)],
    pub missing: &'a [Option<Vec<u8>>],
    pub stored: bool,
    /// The decoded batches' schema.
    pub schema: &'a SchemaRef,
    pub filter: Option<&'a Arc<dyn PhysicalExpr>>,
    pub wanted: usize,
    pub aggregate: Option<PartialAggregate<'a>>,
    pub limit: Option<usize>,
    /// ORDER BY … LIMIT over the wanted columns.
    pub top: Option<(&'a [PhysicalSortExpr], usize)>,
}

impl CopPlan {
    /// The plan for `req`; `None` if some expression cannot travel.
    pub fn new(req: Request<'_>) -> Result<Option<CopPlan>> {
        let mut lits = Literals::default();
        let filter = match req.filter {
            Some(f) => match to_node(f, &mut lits) {
                Some(n) => Some(n),
                None => return Ok(None),
            },
            None => None,
        };
        let aggregate = match req.aggregate {
            Some(agg) => match aggregate_plan(&agg, &mut lits) {
                Some(a) => Some(a),
                None => return Ok(None),
            },
            None => None,
        };
        let top = match req.top {
            Some((order, fetch)) => {
                let order = order
                    .iter()
                    .map(|s| {
                        to_node(&s.expr, &mut lits)
                            .map(|n| (n, s.options.descending, s.options.nulls_first))
                    })
                    .collect::<Option<Vec<_>>>();
                match order {
                    Some(order) => Some(TopPlan { order, fetch }),
                    None => return Ok(None),
                }
            }
            None => None,
        };
        let literals = match lits.into_batch()? {
            Some(b) => b64(&to_ipc(&b.schema(), &[b])?),
            None => String::new(),
        };
        Ok(Some(CopPlan {
            columns: req.columns.to_vec(),
            missing: req.missing.to_vec(),
            stored: req.stored,
            schema: b64(&to_ipc(req.schema, &[])?),
            literals,
            filter,
            wanted: req.wanted,
            aggregate,
            limit: req.limit,
            top,
        }))
    }

    /// The plan as it travels.
    pub fn encode(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(self).map_err(|e| Error::internal(format!("coprocessor plan: {e}")))
    }

    /// A plan that travelled.
    pub fn decode(bytes: &[u8]) -> Result<CopPlan> {
        serde_json::from_slice(bytes).map_err(|e| Error::internal(format!("coprocessor plan: {e}")))
    }
}

/// The travelling form of a partial aggregate; `None` if some part of it
/// cannot travel (DISTINCT, ORDER BY inside the call, grouping sets, an
/// expression a store cannot rebuild).
fn aggregate_plan(agg: &PartialAggregate<'_>, lits: &mut Literals) -> Option<AggregatePlan> {
    if !agg.group.is_single() {
        return None;
    }
    let group = agg
        .group
        .expr()
        .iter()
        .map(|(e, name)| Some((to_node(e, lits)?, name.clone())))
        .collect::<Option<Vec<_>>>()?;
    let calls = agg
        .calls
        .iter()
        .map(|c| {
            if c.is_distinct() || c.ignore_nulls() || c.is_reversed() || !c.order_bys().is_empty() {
                return None;
            }
            // PostgreSQL's avg shares DataFusion's name.
            let function = if *c.fun() == *crate::exec::pg::pg_avg() {
                PG_AVG.to_string()
            } else {
                c.fun().name().to_string()
            };
            Some(AggregateCall {
                function,
                args: c
                    .expressions()
                    .iter()
                    .map(|e| to_node(e, lits))
                    .collect::<Option<_>>()?,
                name: c.name().to_string(),
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(AggregatePlan { group, calls })
}

/// Bytes of rows in one answer, about (a store answers at least one page).
const ANSWER_BYTES: usize = 4 << 20;

/// How a plan names PostgreSQL's `avg` ([`crate::exec::pg::pg_avg`]).
const PG_AVG: &str = "pg_avg";

/// A plan ready to run over pairs.
#[derive(Debug)]
pub struct Fragment {
    columns: Vec<(u32, SqlType)>,
    missing: Vec<Option<Vec<u8>>>,
    stored: bool,
    decoded_schema: SchemaRef,
    filter: Option<Arc<dyn PhysicalExpr>>,
    /// The wanted columns' schema (the aggregate's input).
    wanted_schema: SchemaRef,
    aggregate: Option<(PhysicalGroupBy, Vec<Arc<AggregateFunctionExpr>>)>,
    /// What [`Fragment::run`] answers.
    output_schema: SchemaRef,
    limit: Option<usize>,
    /// ORDER BY … LIMIT over the wanted columns.
    top: Option<(Vec<PhysicalSortExpr>, usize)>,
}

impl Fragment {
    /// Builds the plan's expressions against the SQL layer's functions.
    pub fn new(plan: &CopPlan) -> Result<Fragment> {
        let (decoded_schema, _) = from_ipc(&unb64(&plan.schema)?)?;
        let literals = if plan.literals.is_empty() {
            None
        } else {
            from_ipc(&unb64(&plan.literals)?)?.1.into_iter().next()
        };
        if decoded_schema.fields().len() != plan.columns.len()
            || plan.missing.len() != plan.columns.len()
            || plan.wanted > plan.columns.len()
        {
            return Err(Error::internal("coprocessor plan: columns disagree"));
        }
        let state = registry();
        let config = Arc::new(state.config_options().as_ref().clone());
        let rebuild = Rebuild {
            schema: &decoded_schema,
            literals: literals.as_ref(),
            registry: state,
            config: config.clone(),
        };
        let filter = plan.filter.as_ref().map(|f| rebuild.expr(f)).transpose()?;
        let wanted_schema = Arc::new(
            decoded_schema
                .project(&(0..plan.wanted).collect::<Vec<_>>())
                .map_err(|e| Error::internal(format!("coprocessor plan: {e}")))?,
        );
        // Aggregates and sort keys are over the wanted columns.
        let over = Rebuild {
            schema: &wanted_schema,
            ..rebuild
        };
        let top = match &plan.top {
            Some(t) => {
                let order = t
                    .order
                    .iter()
                    .map(|(n, descending, nulls_first)| {
                        Ok(PhysicalSortExpr::new(
                            over.expr(n)?,
                            SortOptions::new(*descending, *nulls_first),
                        ))
                    })
                    .collect::<Result<Vec<_>>>()?;
                Some((order, t.fetch))
            }
            None => None,
        };
        let (aggregate, output_schema) = match &plan.aggregate {
            None => (None, wanted_schema.clone()),
            Some(a) => {
                let (group, calls) = rebuild_aggregate(a, &over, &wanted_schema)?;
                let schema = partial_schema(&group, &calls, &wanted_schema)?;
                (Some((group, calls)), schema)
            }
        };
        Ok(Fragment {
            columns: plan.columns.clone(),
            missing: plan.missing.clone(),
            stored: plan.stored,
            decoded_schema,
            filter,
            wanted_schema,
            aggregate,
            output_schema,
            limit: plan.limit,
            top,
        })
    }

    /// Whether this fragment, rebuilt from its plan, computes exactly
    /// `filter` and `aggregate` as the SQL node built them (a function
    /// found by name must be the same function): only then is the plan
    /// sent.
    pub fn computes(
        &self,
        filter: Option<&Arc<dyn PhysicalExpr>>,
        aggregate: Option<&PartialAggregate<'_>>,
    ) -> bool {
        let same_filter = match (&self.filter, filter) {
            (None, None) => true,
            (Some(a), Some(b)) => same_expr(a, b),
            _ => false,
        };
        let same_aggregate = match (&self.aggregate, aggregate) {
            (None, None) => true,
            (Some((group, calls)), Some(theirs)) => {
                group.expr().len() == theirs.group.expr().len()
                    && group
                        .expr()
                        .iter()
                        .zip(theirs.group.expr())
                        .all(|((a, _), (b, _))| same_expr(a, b))
                    && calls.len() == theirs.calls.len()
                    && calls.iter().zip(theirs.calls).all(|(a, b)| {
                        a.fun() == b.fun()
                            && a.expressions().len() == b.expressions().len()
                            && a.expressions()
                                .iter()
                                .zip(b.expressions())
                                .all(|(x, y)| same_expr(x, &y))
                    })
            }
            _ => false,
        };
        same_filter && same_aggregate
    }

    /// Whether this fragment's ORDER BY … LIMIT is exactly `top`.
    pub fn tops(&self, top: Option<(&[PhysicalSortExpr], usize)>) -> bool {
        match (&self.top, top) {
            (None, None) => true,
            (Some((mine, n)), Some((theirs, m))) => {
                *n == m
                    && mine.len() == theirs.len()
                    && mine
                        .iter()
                        .zip(theirs)
                        .all(|(a, b)| a.options == b.options && same_expr(&a.expr, &b.expr))
            }
            _ => false,
        }
    }

    /// The schema of what [`Fragment::run`] answers.
    pub fn output_schema(&self) -> &SchemaRef {
        &self.output_schema
    }

    /// Runs over `source`: the rows that pass the filter (the wanted
    /// columns, up to the limit), or the partial aggregate of them.
    pub fn run(&self, source: &mut dyn PairSource) -> Result<Vec<RecordBatch>> {
        let mut left = match (&self.aggregate, self.limit) {
            (None, Some(n)) => n,
            _ => usize::MAX,
        };
        let missing: Vec<Option<&[u8]>> = self.missing.iter().map(|m| m.as_deref()).collect();
        // Rows themselves go back in answers of bounded size (the rest of
        // the range is asked for again); aggregates and top-N keep going.
        let capped = self.aggregate.is_none() && self.top.is_none();
        let mut bytes = 0;
        let mut out = Vec::new();
        while left > 0 && !(capped && bytes >= ANSWER_BYTES) {
            let Some(pairs) = source.next_page() else {
                break;
            };
            let all = decode_pairs(
                &pairs,
                self.stored,
                &self.columns,
                &missing,
                &self.decoded_schema,
            )?;
            let kept = match &self.filter {
                Some(f) => filter_batch(&all, f)?.0,
                None => all,
            };
            let take = kept.num_rows().min(left);
            if take == 0 {
                continue;
            }
            left -= take;
            let wanted = RecordBatch::try_new_with_options(
                self.wanted_schema.clone(),
                kept.columns()[..self.wanted_schema.fields().len()].to_vec(),
                &RecordBatchOptions::new().with_row_count(Some(kept.num_rows())),
            )
            .map_err(|e| Error::internal(format!("coprocessor batch: {e}")))?;
            let wanted = wanted.slice(0, take);
            bytes += wanted.get_array_memory_size();
            out.push(wanted);
        }
        match (&self.aggregate, &self.top) {
            (Some((group, calls)), _) => self.aggregate(group, calls, out),
            (None, Some((order, fetch))) => self.first(order, *fetch, out),
            (None, None) => Ok(out),
        }
    }

    /// The first `fetch` rows of `rows` by `order`, sorted.
    fn first(
        &self,
        order: &[PhysicalSortExpr],
        fetch: usize,
        rows: Vec<RecordBatch>,
    ) -> Result<Vec<RecordBatch>> {
        let bad = |e: datafusion::arrow::error::ArrowError| {
            Error::internal(format!("coprocessor top: {e}"))
        };
        if rows.is_empty() {
            return Ok(rows);
        }
        let all = concat_batches(&self.wanted_schema, &rows).map_err(bad)?;
        let keys = order
            .iter()
            .map(|s| {
                Ok(SortColumn {
                    values: s
                        .expr
                        .evaluate(&all)
                        .and_then(|v| v.into_array(all.num_rows()))
                        .map_err(super::query::from_datafusion)?,
                    options: Some(s.options),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let first = lexsort_to_indices(&keys, Some(fetch)).map_err(bad)?;
        Ok(vec![take_record_batch(&all, &first).map_err(bad)?])
    }

    /// The partial aggregate of `input` (DataFusion's own operator).
    fn aggregate(
        &self,
        group: &PhysicalGroupBy,
        calls: &[Arc<AggregateFunctionExpr>],
        input: Vec<RecordBatch>,
    ) -> Result<Vec<RecordBatch>> {
        let bad = super::query::from_datafusion;
        let source = MemorySourceConfig::try_new_exec(&[input], self.wanted_schema.clone(), None)
            .map_err(bad)?;
        let exec = AggregateExec::try_new(
            AggregateMode::Partial,
            group.clone(),
            calls.to_vec(),
            vec![None; calls.len()],
            source,
            self.wanted_schema.clone(),
        )
        .map_err(bad)?;
        let task = Arc::new(TaskContext::from(registry()));
        let stream = exec.execute(0, task).map_err(bad)?;
        futures::executor::block_on(datafusion::physical_plan::common::collect(stream)).map_err(bad)
    }
}

/// The group-by and aggregate calls of `plan`, rebuilt over `schema`.
fn rebuild_aggregate(
    plan: &AggregatePlan,
    rebuild: &Rebuild<'_>,
    schema: &SchemaRef,
) -> Result<(PhysicalGroupBy, Vec<Arc<AggregateFunctionExpr>>)> {
    let bad =
        |e: datafusion::error::DataFusionError| Error::internal(format!("coprocessor plan: {e}"));
    let group = plan
        .group
        .iter()
        .map(|(n, name)| Ok((rebuild.expr(n)?, name.clone())))
        .collect::<Result<Vec<_>>>()?;
    let calls = plan
        .calls
        .iter()
        .map(|c| {
            let udaf = if c.function == PG_AVG {
                crate::exec::pg::pg_avg()
            } else {
                rebuild.registry.udaf(&c.function).map_err(bad)?
            };
            let args = c
                .args
                .iter()
                .map(|a| rebuild.expr(a))
                .collect::<Result<Vec<_>>>()?;
            AggregateExprBuilder::new(udaf, args)
                .schema(schema.clone())
                .alias(c.name.clone())
                .build()
                .map(Arc::new)
                .map_err(bad)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((PhysicalGroupBy::new_single(group), calls))
}

/// The schema of a partial aggregate's output.
pub fn partial_schema(
    group: &PhysicalGroupBy,
    calls: &[Arc<AggregateFunctionExpr>],
    input: &SchemaRef,
) -> Result<SchemaRef> {
    let empty = Arc::new(datafusion::physical_plan::empty::EmptyExec::new(
        input.clone(),
    ));
    AggregateExec::try_new(
        AggregateMode::Partial,
        group.clone(),
        calls.to_vec(),
        vec![None; calls.len()],
        empty,
        input.clone(),
    )
    .map(|a| a.schema())
    .map_err(|e| Error::internal(format!("coprocessor aggregate: {e}")))
}

/// Pairs as a batch of `columns`: rows, or index entries storing them.
pub fn decode_pairs(
    pairs: &[Pair],
    stored: bool,
    columns: &[(u32, SqlType)],
    missing: &[Option<&[u8]>],
    schema: &SchemaRef,
) -> Result<RecordBatch> {
    let mut builders: Vec<ColumnBuilder> = columns
        .iter()
        .map(|(_, ty)| ColumnBuilder::new(*ty, pairs.len()))
        .collect();
    for pair in pairs {
        let row = if stored {
            let (_, values) = decode_entry_value(&pair.value)?;
            decode_row(values.unwrap_or_default(), columns)?
        } else {
            decode_row_with_missing(&pair.value, columns, missing)?
        };
        for (b, d) in builders.iter_mut().zip(&row) {
            b.push(d)?;
        }
    }
    batch(schema.clone(), &mut builders, pairs.len())
}

/// The rows of `all` that `predicate` keeps, and which those were.
pub fn filter_batch(
    all: &RecordBatch,
    predicate: &Arc<dyn PhysicalExpr>,
) -> Result<(RecordBatch, datafusion::arrow::array::BooleanArray)> {
    let bad = |e: String| Error::internal(format!("scan filter: {e}"));
    let passed = predicate
        .evaluate(all)
        .and_then(|v| v.into_array(all.num_rows()))
        .map_err(super::query::from_datafusion)?;
    let passed = as_boolean_array(&passed)
        .map_err(|e| bad(e.to_string()))?
        .clone();
    let kept = filter_record_batch(all, &passed).map_err(|e| bad(e.to_string()))?;
    Ok((kept, passed))
}

/// The coprocessor the stores run: this layer's fragments.
#[derive(Debug, Default)]
pub struct CopEndpoint;

/// First byte of an answer holding batches (Arrow IPC follows).
const ANSWER_BATCHES: u8 = 0;
/// First byte of an answer holding an error (JSON follows): a failure of
/// the SQL the store ran (22003, 22012, …) reaches the client as if the
/// SQL node had run it.
const ANSWER_ERROR: u8 = 1;

/// An error as it travels in an answer.
#[derive(Serialize, Deserialize)]
struct TravellingError {
    code: String,
    message: String,
    detail: Option<String>,
    hint: Option<String>,
}

impl Coprocessor for CopEndpoint {
    fn handle(
        &self,
        plan: &[u8],
        source: &mut dyn PairSource,
    ) -> std::result::Result<Vec<u8>, String> {
        let mut run = || -> Result<Vec<u8>> {
            let fragment = Fragment::new(&CopPlan::decode(plan)?)?;
            let out = fragment.run(source)?;
            let mut answer = vec![ANSWER_BATCHES];
            answer.extend(to_ipc(fragment.output_schema(), &out)?);
            Ok(answer)
        };
        run().or_else(|e| {
            let travelling = TravellingError {
                code: e.code.to_string(),
                message: e.message,
                detail: e.detail,
                hint: e.hint,
            };
            let mut answer = vec![ANSWER_ERROR];
            serde_json::to_writer(&mut answer, &travelling).map_err(|e| e.to_string())?;
            Ok(answer)
        })
    }
}

/// The batches of a store's answer, or the error it reports.
pub fn read_answer(answer: &[u8]) -> Result<Vec<RecordBatch>> {
    match answer.split_first() {
        Some((&ANSWER_BATCHES, ipc)) => Ok(from_ipc(ipc)?.1),
        Some((&ANSWER_ERROR, json)) => {
            let e: TravellingError = serde_json::from_slice(json)
                .map_err(|e| Error::internal(format!("coprocessor answer: {e}")))?;
            let mut err = Error::new(sqlstate(&e.code), e.message);
            err.detail = e.detail;
            err.hint = e.hint;
            Err(err)
        }
        _ => Err(Error::internal("coprocessor answer: unknown format")),
    }
}

/// A SQLSTATE received as text, as the `&'static str` errors carry (each
/// distinct code is kept once).
fn sqlstate(code: &str) -> &'static str {
    static SEEN: OnceLock<parking_lot::Mutex<std::collections::HashSet<&'static str>>> =
        OnceLock::new();
    if code.len() != 5 || !code.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return crate::error::code::INTERNAL_ERROR;
    }
    let mut seen = SEEN.get_or_init(Default::default).lock();
    if let Some(s) = seen.get(code) {
        return s;
    }
    let s: &'static str = Box::leak(code.to_string().into_boxed_str());
    seen.insert(s);
    s
}

/// A source handing out pairs already read, as one page.
pub struct ReadPairs(pub Option<Vec<Pair>>);

impl PairSource for ReadPairs {
    fn next_page(&mut self) -> Option<Vec<Pair>> {
        self.0.take()
    }
}

/// Whether a filter kept row `i` (a NULL counts as false).
pub fn passed(mask: &datafusion::arrow::array::BooleanArray, i: usize) -> bool {
    mask.is_valid(i) && mask.value(i)
}
