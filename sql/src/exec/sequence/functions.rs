//! `nextval(text)`, `currval(text)`, `setval(text, bigint [, boolean])`
//! and `lastval()`, registered in each session's DataFusion context.
//!
//! They hold the session's sequence memory (`currval` per sequence, the
//! sequence `lastval` answers for) and the node's [`Blocks`], store and
//! catalog cache. Names are resolved in the catalog the session hands over
//! before planning ([`use_catalog`]; the node's cached catalog when it did
//! not), so a block that created a sequence can use it.
//!
//! DataFusion calls scalar functions synchronously, but taking a run of
//! values is KV I/O: only then (the node's run is empty, or `setval`)
//! does a function block on the async runtime ([`run_async`]).

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use client::SharedKv;
use datafusion::arrow::array::{Array, AsArray, Int64Builder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DataFusionError, Result as DfResult, ScalarValue};
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::registry::FunctionRegistry;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use parking_lot::Mutex;

use super::counter::params;
use super::names::resolve;
use crate::catalog::cache::CatalogCache;
use crate::catalog::{Catalog, TableDesc};
use crate::error::{code, Error, Result};
use crate::exec::blocks::Blocks;

/// A session's sequence state, shared by its four functions.
pub struct SessionSequences {
    kv: SharedKv,
    blocks: Blocks,
    cache: Arc<CatalogCache>,
    /// The catalog of the statement being planned and run, if the session
    /// said ([`use_catalog`]).
    statement_catalog: Mutex<Option<Arc<Catalog>>>,
    values: Mutex<Values>,
}

/// What `currval` and `lastval` answer.
#[derive(Default)]
struct Values {
    /// The last value `nextval` (or `setval` with `is_called`) gave this
    /// session, by sequence id.
    current: HashMap<u32, i64>,
    /// The sequence of the session's last `nextval`.
    last_used: Option<u32>,
}

impl SessionSequences {
    fn catalog(&self) -> Result<Arc<Catalog>> {
        if let Some(c) = self.statement_catalog.lock().clone() {
            return Ok(c);
        }
        if let Some(c) = self.cache.cached() {
            return Ok(c);
        }
        let cache = self.cache.clone();
        run_async(async move { cache.current().await })
    }

    /// `nextval` without an await: from the node's run, taking a new run
    /// (blocking) only when it is empty.
    fn next_blocking(&self, seq: &Arc<TableDesc>) -> Result<i64> {
        let blocks = self.blocks.sequences();
        loop {
            if let Some(v) = blocks.try_next(seq)? {
                self.note(seq.id, v, true);
                return Ok(v);
            }
            let (kv, b, s) = (self.kv.clone(), blocks.clone(), seq.clone());
            run_async(async move { b.refill(&kv, &s).await })?;
        }
    }

    /// Remembers `value` as the session's current value of `seq_id` (and
    /// as what `lastval` answers, if `used`).
    fn note(&self, seq_id: u32, value: i64, used: bool) {
        let mut v = self.values.lock();
        v.current.insert(seq_id, value);
        if used {
            v.last_used = Some(seq_id);
        }
    }

    fn currval(&self, seq: &TableDesc) -> Result<i64> {
        self.values
            .lock()
            .current
            .get(&seq.id)
            .copied()
            .ok_or_else(|| {
                Error::new(
                    code::OBJECT_NOT_IN_PREREQUISITE_STATE,
                    format!(
                        "currval of sequence \"{}\" is not yet defined in this session",
                        seq.name
                    ),
                )
            })
    }

    fn lastval(&self) -> Result<i64> {
        let undefined = || {
            Error::new(
                code::OBJECT_NOT_IN_PREREQUISITE_STATE,
                "lastval is not yet defined in this session",
            )
        };
        let id = self.values.lock().last_used.ok_or_else(undefined)?;
        // As in PostgreSQL, a dropped sequence has no last value.
        if self.catalog()?.by_id(id).is_none() {
            return Err(undefined());
        }
        self.values
            .lock()
            .current
            .get(&id)
            .copied()
            .ok_or_else(undefined)
    }

    fn setval(&self, seq: &Arc<TableDesc>, value: i64, called: bool) -> Result<i64> {
        let (kv, b, s) = (self.kv.clone(), self.blocks.clone(), seq.clone());
        run_async(async move { b.sequences().set(&kv, &s, value, called).await })?;
        if called {
            self.note(seq.id, value, false);
        }
        Ok(value)
    }
}

/// Runs `fut` to completion from synchronous code inside the runtime: on
/// a multi-thread runtime in place of the worker (`block_in_place`, so the
/// runtime keeps driving I/O); on a current-thread runtime (tests) on a
/// thread of its own, which works for futures that need no I/O driver
/// (the in-memory store).
fn run_async<T: Send>(fut: impl Future<Output = Result<T>> + Send) -> Result<T> {
    use tokio::runtime::{Handle, RuntimeFlavor};
    let h = Handle::try_current()
        .map_err(|_| Error::internal("sequence functions need an async runtime"))?;
    match h.runtime_flavor() {
        RuntimeFlavor::MultiThread => tokio::task::block_in_place(|| h.block_on(fut)),
        _ => std::thread::scope(|s| {
            s.spawn(|| h.block_on(fut))
                .join()
                .unwrap_or_else(|_| Err(Error::internal("a sequence function panicked")))
        }),
    }
}

/// Which function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Nextval,
    Currval,
    Setval,
    Lastval,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Nextval => "nextval",
            Kind::Currval => "currval",
            Kind::Setval => "setval",
            Kind::Lastval => "lastval",
        }
    }
}

/// One of the four functions of one session.
struct SequenceFn {
    kind: Kind,
    signature: Signature,
    state: Arc<SessionSequences>,
}

impl fmt::Debug for SequenceFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}()", self.kind.name())
    }
}

impl PartialEq for SequenceFn {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && Arc::ptr_eq(&self.state, &other.state)
    }
}

impl Eq for SequenceFn {}

impl Hash for SequenceFn {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.kind.hash(state)
    }
}

fn df_error(e: Error) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

/// The text of a (coerced) string argument's row `i`.
fn text_at(arg: &ColumnarValue, i: usize) -> Result<Option<String>> {
    match arg {
        ColumnarValue::Scalar(
            ScalarValue::Utf8(v) | ScalarValue::LargeUtf8(v) | ScalarValue::Utf8View(v),
        ) => Ok(v.clone()),
        ColumnarValue::Scalar(ScalarValue::Null) => Ok(None),
        ColumnarValue::Array(a) => {
            if a.is_null(i) {
                return Ok(None);
            }
            match a.data_type() {
                DataType::Utf8 => Ok(Some(a.as_string::<i32>().value(i).to_string())),
                DataType::LargeUtf8 => Ok(Some(a.as_string::<i64>().value(i).to_string())),
                DataType::Utf8View => Ok(Some(a.as_string_view().value(i).to_string())),
                other => Err(Error::internal(format!("sequence name of type {other}"))),
            }
        }
        other => Err(Error::internal(format!("sequence name {other:?}"))),
    }
}

fn i64_at(arg: &ColumnarValue, i: usize) -> Result<Option<i64>> {
    match arg {
        ColumnarValue::Scalar(ScalarValue::Int64(v)) => Ok(*v),
        ColumnarValue::Scalar(ScalarValue::Null) => Ok(None),
        ColumnarValue::Array(a) => {
            let a = a
                .as_primitive_opt::<datafusion::arrow::datatypes::Int64Type>()
                .ok_or_else(|| Error::internal("setval value is not bigint"))?;
            Ok((!a.is_null(i)).then(|| a.value(i)))
        }
        other => Err(Error::internal(format!("setval value {other:?}"))),
    }
}

fn bool_at(arg: &ColumnarValue, i: usize) -> Result<Option<bool>> {
    match arg {
        ColumnarValue::Scalar(ScalarValue::Boolean(v)) => Ok(*v),
        ColumnarValue::Scalar(ScalarValue::Null) => Ok(None),
        ColumnarValue::Array(a) => {
            let a = a
                .as_boolean_opt()
                .ok_or_else(|| Error::internal("setval flag is not boolean"))?;
            Ok((!a.is_null(i)).then(|| a.value(i)))
        }
        other => Err(Error::internal(format!("setval flag {other:?}"))),
    }
}

/// Resolves sequence names row after row, remembering the last one.
struct Resolver {
    catalog: Arc<Catalog>,
    last: Option<(String, Arc<TableDesc>)>,
}

impl Resolver {
    fn sequence(&mut self, name: &str) -> Result<Arc<TableDesc>> {
        if let Some((n, t)) = &self.last {
            if n == name {
                return Ok(t.clone());
            }
        }
        let t = resolve(&self.catalog, name)?.clone();
        params(&t)?;
        self.last = Some((name.to_string(), t.clone()));
        Ok(t)
    }
}

impl SequenceFn {
    fn invoke(&self, args: &ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let mut out = Int64Builder::with_capacity(rows);
        if self.kind == Kind::Lastval {
            for _ in 0..rows {
                out.append_value(self.state.lastval()?);
            }
            return Ok(ColumnarValue::Array(Arc::new(out.finish())));
        }
        let a = &args.args;
        let arg = |n: usize| {
            a.get(n)
                .ok_or_else(|| Error::internal(format!("{}: missing argument", self.kind.name())))
        };
        let mut names = Resolver {
            catalog: self.state.catalog()?,
            last: None,
        };
        for i in 0..rows {
            let Some(name) = text_at(arg(0)?, i)? else {
                out.append_null();
                continue;
            };
            let v = match self.kind {
                Kind::Nextval => Some(self.state.next_blocking(&names.sequence(&name)?)?),
                Kind::Currval => Some(self.state.currval(names.sequence(&name)?.as_ref())?),
                Kind::Setval => {
                    let value = i64_at(arg(1)?, i)?;
                    let called = match a.get(2) {
                        Some(c) => bool_at(c, i)?,
                        None => Some(true),
                    };
                    match (value, called) {
                        (Some(v), Some(c)) => {
                            Some(self.state.setval(&names.sequence(&name)?, v, c)?)
                        }
                        _ => None,
                    }
                }
                Kind::Lastval => None,
            };
            out.append_option(v);
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

impl ScalarUDFImpl for SequenceFn {
    fn name(&self) -> &str {
        self.kind.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Int64)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        let want = match (self.kind, arg_types.len()) {
            (Kind::Nextval | Kind::Currval, 1) => vec![DataType::Utf8],
            (Kind::Setval, 2) => vec![DataType::Utf8, DataType::Int64],
            (Kind::Setval, 3) => vec![DataType::Utf8, DataType::Int64, DataType::Boolean],
            (Kind::Lastval, 0) => vec![],
            _ => {
                return Err(df_error(Error::new(
                    code::UNDEFINED_FUNCTION,
                    format!(
                        "function {}({}) does not exist",
                        self.kind.name(),
                        arg_types
                            .iter()
                            .map(|t| t.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )))
            }
        };
        Ok(want)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        self.invoke(&args).map_err(df_error)
    }
}

/// Registers `nextval`, `currval`, `setval` and `lastval` in a session's
/// context, over the node's store, blocks and catalog cache.
pub fn register(ctx: &SessionContext, kv: SharedKv, blocks: Blocks, cache: Arc<CatalogCache>) {
    let state = Arc::new(SessionSequences {
        kv,
        blocks,
        cache,
        statement_catalog: Mutex::new(None),
        values: Mutex::new(Values::default()),
    });
    for kind in [Kind::Nextval, Kind::Currval, Kind::Setval, Kind::Lastval] {
        let signature = match kind {
            Kind::Lastval => Signature::nullary(Volatility::Volatile),
            _ => Signature::user_defined(Volatility::Volatile),
        };
        ctx.register_udf(ScalarUDF::new_from_impl(SequenceFn {
            kind,
            signature,
            state: state.clone(),
        }));
    }
}

/// The session's sequence state, if [`register`] ran on `ctx`.
fn session_state(ctx: &SessionContext) -> Option<Arc<SessionSequences>> {
    let f = ctx.udf(Kind::Nextval.name()).ok()?;
    f.inner()
        .downcast_ref::<SequenceFn>()
        .map(|f| f.state.clone())
}

/// Hands the sequence functions the catalog of the statement about to be
/// planned (the session calls this before each statement: with the
/// catalog it plans against when that is the transaction's own, after
/// DDL in the block; `None` to use the node's cached catalog).
pub fn use_catalog(ctx: &SessionContext, catalog: Option<Arc<Catalog>>) {
    if let Some(s) = session_state(ctx) {
        *s.statement_catalog.lock() = catalog;
    }
}

/// The next value of sequence `seq` for a column default (SERIAL,
/// IDENTITY): taken like `nextval` takes it, and remembered as the
/// session's `currval`/`lastval` (when `ctx` has the functions).
pub async fn next_value(
    ctx: &SessionContext,
    kv: &SharedKv,
    blocks: &Blocks,
    seq: &TableDesc,
) -> Result<i64> {
    let v = blocks.sequences().next(kv, seq).await?;
    if let Some(s) = session_state(ctx) {
        s.note(seq.id, v, true);
    }
    Ok(v)
}
