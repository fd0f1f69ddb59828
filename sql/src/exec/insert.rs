//! `INSERT`: DataFusion evaluates the source (`VALUES` or a query)
//! against the statement's frozen view; each row is completed with
//! defaults, cast to the column types with PostgreSQL's assignment rules,
//! and handed to [`write::apply`], which checks the constraints and stages
//! it. The source streams: rows are written a batch at a time, so an
//! `INSERT … SELECT` of any size holds one batch in memory (and the
//! transaction's buffer, which has its size limit).
//!
//! `ON CONFLICT`: each proposed row is probed on the arbiter keys (the
//! constraint named, the unique key on the columns named, or any unique
//! key); a row that conflicts is skipped (`DO NOTHING`) or turns into an
//! update of the existing row (`DO UPDATE`, whose expressions see the
//! existing row by the table's name and the proposed one as `excluded`).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::DFSchema;
use datafusion::sql::sqlparser::ast::{
    Assignment, AssignmentTarget, ConflictTarget, Expr, Insert, OnConflict, OnConflictAction,
    OnInsert, Query, SetExpr, TableObject,
};
use futures::StreamExt;

use super::ddl::{ident_name, split_name};
use super::query::{from_datafusion, plan};
use super::returning::{returning, Returned, Returning};
use super::write::{apply, eval_column, index_entry, row_key, rows_batch, DmlCtx, RowChange};
use crate::catalog::desc::{DefaultExpr, Identity, IndexDesc};
use crate::catalog::TableDesc;
use crate::codec::entry::entry_row_key;
use crate::error::{code, Error, Result};
use crate::types::arrow::{datum_at, sql_type_of};
use crate::types::cast::assign;
use crate::types::text::TextFormat;
use crate::types::{Datum, SqlType};

/// What a writing statement did.
pub struct Written {
    /// Rows inserted, updated or deleted.
    pub count: u64,
    /// The RETURNING rows, if asked.
    pub returned: Option<Returned>,
}

/// Runs one INSERT.
pub async fn insert(cx: &mut DmlCtx<'_>, ins: &Insert) -> Result<Written> {
    let TableObject::TableName(name) = &ins.table else {
        return Err(Error::unsupported("INSERT into a table function"));
    };
    let (schema, table) = split_name(name)?;
    let desc = cx
        .catalog
        .find(&schema, &table)
        .filter(|t| t.is_table())
        .cloned()
        .ok_or_else(|| Error::undefined_table(&table))?;
    let alias = ins.table_alias.as_ref().map(|a| ident_name(&a.alias));
    let mut targets = target_columns(&desc, &ins.columns)?;
    let conflict = match &ins.on {
        None => None,
        Some(OnInsert::OnConflict(oc)) => Some(Conflict::new(&desc, oc, alias.as_deref())?),
        Some(_) => {
            return Err(Error::unsupported(
                "ON DUPLICATE KEY UPDATE (use ON CONFLICT)",
            ))
        }
    };
    let reader = cx.txn.reader();
    let defaults = statement_defaults(cx, &desc, &reader).await?;
    let mut written = Vec::new();
    let mut count = 0u64;
    let mut state = ConflictState::default();
    let (mut source, default_cells) = match &ins.source {
        // DEFAULT VALUES: one row of defaults.
        None => {
            targets.clear();
            (Source::Literal(Some(vec![Vec::new()])), HashMap::new())
        }
        Some(q) => {
            let (mut q, default_cells) = strip_defaults(q);
            let source = match literal_rows(&q, &desc, &targets, cx.format) {
                // Literals only: the rows as their columns take them, no
                // query to plan.
                Some(values) => {
                    let values = values?;
                    if let Some(first) = values.first() {
                        fit_targets(&mut targets, ins.columns.is_empty(), first.len())?;
                    }
                    Source::Literal(Some(values))
                }
                None => {
                    type_literals_by_target(&mut q, &desc, &targets, cx.format)?;
                    let stmt = datafusion::sql::sqlparser::ast::Statement::Query(Box::new(q));
                    let plan = plan(cx.df, cx.catalog.clone(), reader, stmt).await?;
                    let schema = plan.schema().as_arrow().clone();
                    fit_targets(&mut targets, ins.columns.is_empty(), schema.fields().len())?;
                    let types = schema.fields().iter().map(|f| sql_type_of(f)).collect();
                    Source::Planned(cx.df.execute(&plan).await?, types)
                }
            };
            (source, default_cells)
        }
    };
    let mut row_no = 0usize;
    while let Some(values) = source.next().await? {
        let mut rows = Vec::with_capacity(values.len());
        for values in values {
            let defaulted = default_cells.get(&row_no).cloned().unwrap_or_default();
            check_identity(&desc, &targets, &defaulted)?;
            rows.push((values, defaulted));
            row_no += 1;
        }
        let rows = complete(cx, &desc, &targets, &defaults, rows).await?;
        count += write_rows(
            cx,
            &desc,
            rows,
            conflict.as_ref(),
            &mut state,
            &mut written,
            ins.returning.is_some(),
        )
        .await?;
    }
    let returned = match &ins.returning {
        Some(items) => Some(
            returning(
                cx,
                &desc,
                &Returning {
                    items,
                    alias,
                    joined: Vec::new(),
                },
                &written,
            )
            .await?,
        ),
        None => None,
    };
    Ok(Written { count, returned })
}

/// Where an INSERT's rows come from: literals taken as they are, or the
/// batches of a planned query (with their columns' types).
enum Source {
    Literal(Option<Vec<Vec<Datum>>>),
    Planned(
        datafusion::physical_plan::SendableRecordBatchStream,
        Vec<SqlType>,
    ),
}

impl Source {
    /// The next rows, `None` when done.
    async fn next(&mut self) -> Result<Option<Vec<Vec<Datum>>>> {
        match self {
            Source::Literal(rows) => Ok(rows.take()),
            Source::Planned(stream, types) => {
                let Some(b) = stream.next().await else {
                    return Ok(None);
                };
                let b = b.map_err(from_datafusion)?;
                (0..b.num_rows())
                    .map(|r| {
                        b.columns()
                            .iter()
                            .zip(types.iter())
                            .map(|(a, ty)| datum_at(a.as_ref(), r, *ty))
                            .collect::<Result<Vec<_>>>()
                    })
                    .collect::<Result<Vec<_>>>()
                    .map(Some)
            }
        }
    }
}

/// Fits the target columns to `width` values per row: without a column
/// list, fewer values fill the leading columns and the rest take their
/// defaults (as in PostgreSQL); otherwise they must be as many.
fn fit_targets(targets: &mut Vec<usize>, implicit: bool, width: usize) -> Result<()> {
    if implicit && width < targets.len() {
        targets.truncate(width);
    }
    if width != targets.len() {
        let msg = if width > targets.len() {
            "INSERT has more expressions than target columns"
        } else {
            "INSERT has more target columns than expressions"
        };
        return Err(Error::syntax(msg));
    }
    Ok(())
}

/// The rows of `q`, when it is a VALUES list of literals only (plain or
/// signed numbers, strings, booleans, NULL, `'text'::type` as bound
/// parameters arrive): each item as PostgreSQL takes it before the
/// assignment to its column (a number as integer, bigint or numeric, a
/// string as unknown, for the column's input function; PostgreSQL coerces
/// INSERT's VALUES items to their columns one by one). `None` for
/// anything else, or rows of different lengths: DataFusion plans those.
fn literal_rows(
    q: &Query,
    desc: &TableDesc,
    targets: &[usize],
    format: &TextFormat,
) -> Option<Result<Vec<Vec<Datum>>>> {
    let plain = q.with.is_none()
        && q.order_by.is_none()
        && q.limit_clause.is_none()
        && q.fetch.is_none()
        && q.locks.is_empty();
    let SetExpr::Values(values) = q.body.as_ref() else {
        return None;
    };
    let width = values.rows.first()?.len();
    if !plain || values.rows.iter().any(|r| r.len() != width) {
        return None;
    }
    let mut rows = Vec::with_capacity(values.rows.len());
    for row in &values.rows {
        let mut out = Vec::with_capacity(width);
        for (c, e) in row.iter().enumerate() {
            let column = targets.get(c).map(|i| desc.columns[*i].ty);
            match literal_value(e, column, format)? {
                Ok(d) => out.push(d),
                Err(e) => return Some(Err(e)),
            }
        }
        rows.push(out);
    }
    Some(Ok(rows))
}

/// One VALUES item as [`literal_rows`] takes it: `None` if it is not a
/// literal.
fn literal_value(e: &Expr, column: Option<SqlType>, format: &TextFormat) -> Option<Result<Datum>> {
    use crate::plan::point::{signed_number, typed_string};
    use datafusion::sql::sqlparser::ast::Value;
    // A number PostgreSQL would read differently than our numeric input
    // (an exponent, say) is left to DataFusion.
    let number = |text: &str| -> Option<Result<Datum>> {
        Some(Ok(match text.parse::<i64>() {
            Ok(n) => i32::try_from(n).map_or(Datum::Int8(n), Datum::Int4),
            Err(_)
                if text
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-') =>
            {
                crate::types::text::parse_text(text, SqlType::Numeric(None), format).ok()?
            }
            Err(_) => return None,
        }))
    };
    match e {
        Expr::Nested(inner) => literal_value(inner, column, format),
        Expr::Value(v) => match &v.value {
            Value::Null => Some(Ok(Datum::Null)),
            Value::Boolean(b) => Some(Ok(Datum::Bool(*b))),
            // Unknown-typed: the column's input function reads it.
            Value::SingleQuotedString(s) if column.is_some() => Some(Ok(Datum::Text(s.clone()))),
            Value::Number(n, _) => number(n),
            _ => None,
        },
        Expr::UnaryOp { .. } => number(&signed_number(e)?),
        Expr::Cast { .. } => {
            let (s, ty) = typed_string(e)?;
            Some(match ty {
                SqlType::Text | SqlType::Varchar(_) | SqlType::Char(_) => {
                    Ok(Datum::Text(s.to_string()))
                }
                _ => crate::types::text::parse_text(s, ty, format).map_err(Error::from),
            })
        }
        _ => None,
    }
}

/// The columns an INSERT fills, by position in the table.
fn target_columns(
    desc: &TableDesc,
    columns: &[datafusion::sql::sqlparser::ast::ObjectName],
) -> Result<Vec<usize>> {
    if columns.is_empty() {
        return Ok(desc
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| !c.hidden)
            .map(|(i, _)| i)
            .collect());
    }
    let mut seen = HashSet::new();
    columns
        .iter()
        .map(|n| {
            let col =
                n.0.last()
                    .and_then(|p| p.as_ident())
                    .map(ident_name)
                    .unwrap_or_default();
            let i = column_position(desc, &col)?;
            if !seen.insert(i) {
                return Err(Error::syntax(format!(
                    "column \"{col}\" specified more than once"
                )));
            }
            Ok(i)
        })
        .collect()
}

/// The position of the visible column `col`, or 42703.
pub fn column_position(desc: &TableDesc, col: &str) -> Result<usize> {
    desc.columns
        .iter()
        .position(|c| c.name == col && !c.hidden)
        .ok_or_else(|| {
            Error::new(
                code::UNDEFINED_COLUMN,
                format!(
                    "column \"{col}\" of relation \"{}\" does not exist",
                    desc.name
                ),
            )
        })
}

/// A `VALUES` source with its `DEFAULT` items replaced by NULL, and which
/// (row, item) were `DEFAULT`.
fn strip_defaults(q: &Query) -> (Query, HashMap<usize, Vec<usize>>) {
    let mut q = q.clone();
    let mut cells: HashMap<usize, Vec<usize>> = HashMap::new();
    if let SetExpr::Values(values) = q.body.as_mut() {
        for (r, row) in values.rows.iter_mut().enumerate() {
            for (c, e) in row.iter_mut().enumerate() {
                if is_default(e) {
                    *e = Expr::value(datafusion::sql::sqlparser::ast::Value::Null);
                    cells.entry(r).or_default().push(c);
                }
            }
        }
    }
    (q, cells)
}

/// In a VALUES list of several rows, a literal whose type PostgreSQL
/// takes from its target column (a quoted string going to a boolean or
/// float column or meeting other items in its column, a number going to a
/// float column) is cast to that type first (other types take strings through the row's own conversion): DataFusion would otherwise
/// unify each VALUES column across its rows before the target is known
/// (`(2.5), ('NaN')` into a double precision column failing as a decimal,
/// `(true), ('no')` as mixed types).
fn type_literals_by_target(
    q: &mut Query,
    desc: &TableDesc,
    targets: &[usize],
    format: &TextFormat,
) -> Result<()> {
    use datafusion::sql::sqlparser::ast::Value;
    let SetExpr::Values(values) = q.body.as_mut() else {
        return Ok(());
    };
    if values.rows.len() < 2 {
        return Ok(());
    }
    let quoted = |e: &Expr| {
        matches!(e, Expr::Value(v) if matches!(v.value,
            Value::SingleQuotedString(_) | Value::EscapedStringLiteral(_) | Value::Null))
    };
    // Columns where quoted strings meet other items (`'1995-01-01'` and
    // `date '1996-02-03'`): the strings take the column's type.
    let mixed: Vec<bool> = (0..targets.len())
        .map(|c| {
            values
                .rows
                .iter()
                .any(|row| row.get(c).is_some_and(|e| !quoted(e)))
        })
        .collect();
    for row in &mut values.rows {
        for (c, (e, &i)) in row.iter_mut().zip(targets).enumerate() {
            let ty = desc.columns[i].ty;
            let Expr::Value(v) = &*e else { continue };
            let typed_by_target = match &v.value {
                Value::SingleQuotedString(text) | Value::EscapedStringLiteral(text) => {
                    if mixed[c] {
                        // The type's own input function first, for
                        // PostgreSQL's error (the cast's would differ).
                        crate::types::text::parse_text(text, ty, format)?;
                    }
                    mixed[c] || matches!(ty, SqlType::Bool | SqlType::Float4 | SqlType::Float8)
                }
                Value::Number(..) => matches!(ty, SqlType::Float4 | SqlType::Float8),
                _ => false,
            };
            if !typed_by_target {
                continue;
            }
            let name = crate::types::binary::type_name(ty);
            let cast = datafusion::sql::sqlparser::parser::Parser::new(
                &datafusion::sql::sqlparser::dialect::PostgreSqlDialect {},
            )
            .try_with_sql(&format!("CAST({e} AS {name})"))
            .and_then(|mut p| p.parse_expr());
            if let Ok(cast) = cast {
                *e = cast;
            }
        }
    }
    Ok(())
}

/// Whether an expression is the `DEFAULT` keyword.
pub fn is_default(e: &Expr) -> bool {
    matches!(e, Expr::Identifier(i) if i.quote_style.is_none() && i.value.eq_ignore_ascii_case("default"))
}

/// `GENERATED ALWAYS AS IDENTITY` columns take no value but DEFAULT:
/// the error for a row that gives one (`defaulted`: its DEFAULT items).
fn check_identity(desc: &TableDesc, targets: &[usize], defaulted: &[usize]) -> Result<()> {
    for (pos, &i) in targets.iter().enumerate() {
        let c = &desc.columns[i];
        if c.identity == Some(Identity::Always) && !defaulted.contains(&pos) {
            return Err(Error::new(
                code::GENERATED_ALWAYS,
                format!(
                    "cannot insert a non-DEFAULT value into column \"{}\"",
                    c.name
                ),
            )
            .with_detail(format!(
                "Column \"{}\" is an identity column defined as GENERATED ALWAYS.",
                c.name
            ))
            .with_hint("Use OVERRIDING SYSTEM VALUE to override."));
        }
    }
    Ok(())
}

/// Column defaults that are the same for every row of a statement
/// (expressions, evaluated once); per-row ones (sequences, volatile
/// expressions, row ids) are `None`.
async fn statement_defaults(
    cx: &DmlCtx<'_>,
    desc: &TableDesc,
    reader: &client::TxnReader,
) -> Result<Vec<Option<Datum>>> {
    let mut out = Vec::with_capacity(desc.columns.len());
    for c in &desc.columns {
        out.push(match &c.default {
            None if c.hidden => None,
            None => Some(Datum::Null),
            Some(DefaultExpr::Sql(expr)) if is_volatile(expr) => None,
            Some(DefaultExpr::Sql(expr)) => {
                let v = eval_constant(cx, expr, reader).await?;
                Some(assign(v, c.ty, cx.format)?)
            }
            Some(DefaultExpr::Sequence(_)) => None,
        });
    }
    Ok(out)
}

/// Whether a default expression may give each row another value (it
/// calls a volatile function), so that it is evaluated per row.
fn is_volatile(expr: &str) -> bool {
    const VOLATILE: [&str; 6] = [
        "nextval",
        "random",
        "gen_random_uuid",
        "uuid",
        "clock_timestamp",
        "setval",
    ];
    let e = expr.to_lowercase();
    VOLATILE.iter().any(|f| e.contains(f))
}

/// The value of a constant SQL expression.
pub async fn eval_constant(
    cx: &DmlCtx<'_>,
    expr: &str,
    reader: &client::TxnReader,
) -> Result<Datum> {
    let stmt = crate::session::Session::parse(&format!("SELECT {expr}"))?
        .pop()
        .ok_or_else(|| Error::internal("an empty default"))?;
    let plan = plan(cx.df, cx.catalog.clone(), reader.clone(), stmt).await?;
    let ty = plan
        .schema()
        .as_arrow()
        .fields()
        .first()
        .map(|f| sql_type_of(f));
    let stream = cx.df.execute(&plan).await?;
    let batches = datafusion::physical_plan::common::collect(stream)
        .await
        .map_err(from_datafusion)?;
    match (batches.iter().find(|b| b.num_rows() > 0), ty) {
        (Some(b), Some(ty)) => datum_at(b.column(0).as_ref(), 0, ty),
        _ => Ok(Datum::Null),
    }
}

/// Full rows from source rows: target values cast to their columns, the
/// rest (and `DEFAULT` items) from defaults, hidden row ids drawn.
async fn complete(
    cx: &DmlCtx<'_>,
    desc: &TableDesc,
    targets: &[usize],
    defaults: &[Option<Datum>],
    source: Vec<(Vec<Datum>, Vec<usize>)>,
) -> Result<Vec<Vec<Datum>>> {
    let mut rows = Vec::with_capacity(source.len());
    for (values, defaulted) in source {
        let mut row: Vec<Option<Datum>> = defaults.to_vec();
        for (pos, (value, &i)) in values.into_iter().zip(targets).enumerate() {
            if !defaulted.contains(&pos) {
                row[i] = Some(assign(value, desc.columns[i].ty, cx.format)?);
            }
        }
        let mut full = Vec::with_capacity(row.len());
        for (i, v) in row.into_iter().enumerate() {
            full.push(match v {
                Some(v) => v,
                None => column_default(cx, desc, i).await?,
            });
        }
        rows.push(full);
    }
    Ok(rows)
}

/// A per-row default: the next row id or sequence value.
async fn column_default(cx: &DmlCtx<'_>, desc: &TableDesc, i: usize) -> Result<Datum> {
    let c = &desc.columns[i];
    match &c.default {
        Some(DefaultExpr::Sequence(id)) => {
            let seq = cx.catalog.by_id(*id).ok_or_else(|| {
                Error::internal(format!("the sequence of column {} is gone", c.name))
            })?;
            let v = super::sequence::next_value(cx.df, cx.kv, cx.blocks, seq).await?;
            assign(Datum::Int8(v), c.ty, cx.format)
        }
        // A volatile default, evaluated for each row.
        Some(DefaultExpr::Sql(expr)) => {
            let v = eval_constant(cx, expr, &cx.txn.reader()).await?;
            assign(v, c.ty, cx.format)
        }
        _ if c.hidden => {
            let n = cx
                .blocks
                .next(cx.kv, &super::blocks::rowid_counter_key(desc.id))
                .await?;
            Ok(Datum::Int8(super::blocks::spread_rowid(n)))
        }
        _ => Ok(Datum::Null),
    }
}

/// Writes complete rows (through ON CONFLICT when asked); returns how many
/// rows were inserted or updated, and keeps them when RETURNING wants them.
async fn write_rows(
    cx: &mut DmlCtx<'_>,
    desc: &Arc<TableDesc>,
    rows: Vec<Vec<Datum>>,
    conflict: Option<&Conflict>,
    state: &mut ConflictState,
    written: &mut Vec<Vec<Datum>>,
    keep: bool,
) -> Result<u64> {
    let changes = match conflict {
        None => rows.into_iter().map(RowChange::Insert).collect(),
        Some(c) => c.resolve(cx, desc, rows, state).await?,
    };
    let n = changes.len() as u64;
    if keep {
        for c in &changes {
            if let RowChange::Insert(r) | RowChange::Update(_, r) = c {
                written.push(r.clone());
            }
        }
    }
    apply(cx, desc, changes).await?;
    Ok(n)
}

/// An ON CONFLICT clause, resolved against the table.
struct Conflict {
    /// The arbiter keys: `None` for the primary key, else an index of
    /// `desc.indexes`.
    arbiters: Vec<Option<usize>>,
    /// `DO UPDATE`: column positions and their expressions, and the WHERE.
    update: Option<(Vec<(usize, String)>, Option<String>)>,
    /// How the existing row is named in the expressions.
    name: String,
}

/// Keys the statement has claimed so far, by arbiter key → whether the
/// row holding it was written by an ON CONFLICT update.
#[derive(Default)]
struct ConflictState {
    claimed: HashMap<Vec<u8>, bool>,
}

impl Conflict {
    fn new(desc: &TableDesc, oc: &OnConflict, alias: Option<&str>) -> Result<Conflict> {
        let matches = |idx: &IndexDesc, cols: &[usize]| {
            let mut a: Vec<usize> = idx
                .columns
                .iter()
                .filter_map(|(id, _)| desc.columns.iter().position(|c| c.id == *id))
                .collect();
            let mut b = cols.to_vec();
            a.sort_unstable();
            b.sort_unstable();
            b.dedup();
            a == b
        };
        let no_match = || {
            Error::new(
                code::INVALID_COLUMN_REFERENCE,
                "there is no unique or exclusion constraint matching the ON CONFLICT specification",
            )
        };
        let has_pk = !desc.has_hidden_rowid();
        let arbiters: Vec<Option<usize>> = match &oc.conflict_target {
            None => {
                let mut all: Vec<Option<usize>> = Vec::new();
                if has_pk {
                    all.push(None);
                }
                all.extend(
                    (0..desc.indexes.len())
                        .filter(|i| arbiter(&desc.indexes[*i]))
                        .map(Some),
                );
                all
            }
            Some(ConflictTarget::Columns(cols)) => {
                let cols: Vec<usize> = cols
                    .iter()
                    .map(|c| column_position(desc, &ident_name(c)))
                    .collect::<Result<_>>()?;
                if has_pk && matches(&desc.primary, &cols) {
                    vec![None]
                } else {
                    let i = (0..desc.indexes.len())
                        .find(|i| {
                            let idx = &desc.indexes[*i];
                            arbiter(idx) && matches(idx, &cols)
                        })
                        .ok_or_else(no_match)?;
                    vec![Some(i)]
                }
            }
            Some(ConflictTarget::OnConstraint(name)) => {
                let name = name
                    .0
                    .last()
                    .and_then(|p| p.as_ident())
                    .map(ident_name)
                    .unwrap_or_default();
                if has_pk && desc.primary.name == name {
                    vec![None]
                } else {
                    let i = (0..desc.indexes.len())
                        .find(|i| {
                            let idx = &desc.indexes[*i];
                            arbiter(idx) && idx.name == name
                        })
                        .ok_or_else(|| {
                            Error::new(
                                code::UNDEFINED_OBJECT,
                                format!(
                                    "constraint \"{name}\" for table \"{}\" does not exist",
                                    desc.name
                                ),
                            )
                        })?;
                    vec![Some(i)]
                }
            }
        };
        let update = match &oc.action {
            OnConflictAction::DoNothing => None,
            OnConflictAction::DoUpdate(du) => {
                if oc.conflict_target.is_none() {
                    return Err(Error::syntax(
                        "ON CONFLICT DO UPDATE requires inference specification or constraint name",
                    )
                    .with_hint("For example, ON CONFLICT (column_name)."));
                }
                let sets = assignments(desc, &du.assignments)?;
                Some((sets, du.selection.as_ref().map(|e| e.to_string())))
            }
        };
        Ok(Conflict {
            arbiters,
            update,
            name: alias
                .map(str::to_string)
                .unwrap_or_else(|| desc.name.clone()),
        })
    }

    /// The arbiter keys of a row (those that can collide).
    fn keys(&self, desc: &TableDesc, row: &[Datum]) -> Result<Vec<Vec<u8>>> {
        let key = row_key(desc, row)?;
        let mut out = Vec::new();
        for a in &self.arbiters {
            match a {
                None => out.push(key.clone()),
                Some(i) => {
                    let (entry, claims) = index_entry(desc, &desc.indexes[*i], row, &key, &[])?;
                    if claims {
                        out.push(entry);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Turns proposed rows into inserts, updates of the rows they collide
    /// with, or nothing.
    async fn resolve(
        &self,
        cx: &DmlCtx<'_>,
        desc: &Arc<TableDesc>,
        rows: Vec<Vec<Datum>>,
        state: &mut ConflictState,
    ) -> Result<Vec<RowChange>> {
        let keys: Vec<Vec<Vec<u8>>> = rows
            .iter()
            .map(|r| self.keys(desc, r))
            .collect::<Result<_>>()?;
        let reader = cx.txn.reader();
        let probe: Vec<Vec<u8>> = keys.iter().flatten().cloned().collect();
        let found: HashMap<Vec<u8>, Vec<u8>> = reader
            .batch_get(probe)
            .await?
            .into_iter()
            .map(|p| (p.key, p.value))
            .collect();
        let mut inserts = Vec::new();
        // (existing row key, proposed row)
        let mut collisions: Vec<(Vec<u8>, Vec<Datum>)> = Vec::new();
        for (row, keys) in rows.into_iter().zip(keys) {
            if keys.iter().any(|k| state.claimed.contains_key(k)) {
                if self.update.is_some() {
                    return Err(Error::new(
                        code::CARDINALITY_VIOLATION,
                        "ON CONFLICT DO UPDATE command cannot affect row a second time",
                    )
                    .with_hint("Ensure that no rows proposed for insertion within the same command have duplicate constrained values."));
                }
                continue;
            }
            match keys.iter().find_map(|k| found.get(k).map(|v| (k, v))) {
                None => {
                    for k in keys {
                        state.claimed.insert(k, false);
                    }
                    inserts.push(RowChange::Insert(row));
                }
                Some((k, v)) => {
                    if self.update.is_none() {
                        continue;
                    }
                    // A row key's value is the row; an index entry's
                    // starts with the row's key.
                    let row_key = if row_key(desc, &row)? == *k {
                        k.clone()
                    } else {
                        entry_row_key(v)?.to_vec()
                    };
                    for k in keys {
                        state.claimed.insert(k, true);
                    }
                    collisions.push((row_key, row));
                }
            }
        }
        let mut changes = inserts;
        if let Some((sets, selection)) = &self.update {
            changes.extend(
                self.updates(cx, desc, sets, selection.as_deref(), collisions)
                    .await?,
            );
        }
        Ok(changes)
    }

    /// DO UPDATE of the existing rows the proposed ones collided with.
    async fn updates(
        &self,
        cx: &DmlCtx<'_>,
        desc: &Arc<TableDesc>,
        sets: &[(usize, String)],
        selection: Option<&str>,
        collisions: Vec<(Vec<u8>, Vec<Datum>)>,
    ) -> Result<Vec<RowChange>> {
        if collisions.is_empty() {
            return Ok(Vec::new());
        }
        let columns: Vec<(u32, SqlType)> = desc.columns.iter().map(|c| (c.id, c.ty)).collect();
        let found: HashMap<Vec<u8>, Vec<u8>> = cx
            .txn
            .reader()
            .batch_get(collisions.iter().map(|(k, _)| k.clone()).collect())
            .await?
            .into_iter()
            .map(|p| (p.key, p.value))
            .collect();
        let mut existing = Vec::with_capacity(collisions.len());
        for (k, _) in &collisions {
            let bytes = found
                .get(k)
                .ok_or_else(|| Error::internal("a conflicting row vanished"))?;
            existing.push(super::write::decode_table_row(desc, bytes, &columns)?);
        }
        let (rb, schema) = pair_batch(desc, &self.name, &existing, &collisions)?;
        let keep: Vec<bool> = match selection {
            Some(w) => super::write::eval_bool(cx.df, w, &rb, &schema)?
                .into_iter()
                .map(|v| v == Some(true))
                .collect(),
            None => vec![true; existing.len()],
        };
        let mut new_rows = existing.clone();
        for (i, expr) in sets {
            let values = eval_column(cx.df, expr, &rb, &schema)?;
            for (row, v) in new_rows.iter_mut().zip(values) {
                row[*i] = assign(v, desc.columns[*i].ty, cx.format)?;
            }
        }
        Ok(existing
            .into_iter()
            .zip(new_rows)
            .zip(keep)
            .filter(|(_, k)| *k)
            .map(|((old, new), _)| RowChange::Update(old, new))
            .collect())
    }
}

/// Whether ON CONFLICT may take `idx` as an arbiter: a public unique index
/// on plain columns (expression and partial indexes are not inferred).
fn arbiter(idx: &IndexDesc) -> bool {
    idx.unique && idx.is_public() && !idx.computes()
}

/// The existing rows (named `name`) beside the proposed ones (named
/// `excluded`), as one batch.
fn pair_batch(
    desc: &TableDesc,
    name: &str,
    existing: &[Vec<Datum>],
    collisions: &[(Vec<u8>, Vec<Datum>)],
) -> Result<(RecordBatch, DFSchema)> {
    let old: Vec<&Vec<Datum>> = existing.iter().collect();
    let proposed: Vec<&Vec<Datum>> = collisions.iter().map(|(_, r)| r).collect();
    let (a, _) = rows_batch(desc, &old)?;
    let (b, _) = rows_batch(desc, &proposed)?;
    let sa =
        DFSchema::try_from_qualified_schema(name, a.schema().as_ref()).map_err(from_datafusion)?;
    let sb = DFSchema::try_from_qualified_schema("excluded", b.schema().as_ref())
        .map_err(from_datafusion)?;
    let mut schema = sa;
    schema.merge(&sb);
    let columns = a
        .columns()
        .iter()
        .chain(b.columns())
        .cloned()
        .collect::<Vec<_>>();
    let rb = RecordBatch::try_new(Arc::new(schema.as_arrow().clone()), columns)
        .map_err(|e| Error::internal(format!("building a batch: {e}")))?;
    Ok((rb, schema))
}

/// `SET` assignments as (column position, expression text); `DEFAULT`
/// becomes the column's default expression (or NULL).
pub fn assignments(desc: &TableDesc, list: &[Assignment]) -> Result<Vec<(usize, String)>> {
    let mut out: Vec<(usize, String)> = Vec::new();
    let mut push =
        |name: &datafusion::sql::sqlparser::ast::ObjectName, value: &Expr| -> Result<()> {
            let col = name
                .0
                .last()
                .and_then(|p| p.as_ident())
                .map(ident_name)
                .unwrap_or_default();
            let i = column_position(desc, &col)?;
            if out.iter().any(|(j, _)| *j == i) {
                return Err(Error::syntax(format!(
                    "multiple assignments to same column \"{col}\""
                )));
            }
            let c = &desc.columns[i];
            if c.identity == Some(Identity::Always) && !is_default(value) {
                return Err(Error::new(
                    code::GENERATED_ALWAYS,
                    format!("column \"{col}\" can only be updated to DEFAULT"),
                )
                .with_detail(format!(
                    "Column \"{col}\" is an identity column defined as GENERATED ALWAYS."
                )));
            }
            let text = if is_default(value) {
                match &c.default {
                    Some(DefaultExpr::Sql(e)) => e.clone(),
                    Some(DefaultExpr::Sequence(_)) => {
                        return Err(Error::unsupported("SET … = DEFAULT on a sequence column"))
                    }
                    None => "NULL".to_string(),
                }
            } else {
                value.to_string()
            };
            out.push((i, text));
            Ok(())
        };
    for a in list {
        match (&a.target, &a.value) {
            (AssignmentTarget::ColumnName(n), v) => push(n, v)?,
            (AssignmentTarget::Tuple(names), Expr::Tuple(values))
                if names.len() == values.len() =>
            {
                for (n, v) in names.iter().zip(values) {
                    push(n, v)?;
                }
            }
            (AssignmentTarget::Tuple(names), Expr::Subquery(q)) => {
                // `(a, b) = (SELECT x, y …)`: each column gets the
                // subquery's value in its position.
                let items = match q.body.as_ref() {
                    SetExpr::Select(s) => &s.projection,
                    _ => {
                        return Err(Error::unsupported(
                            "assigning a column list from a set operation",
                        ))
                    }
                };
                if items.len() != names.len() {
                    return Err(Error::syntax(
                        "number of columns does not match number of values",
                    ));
                }
                for (i, n) in names.iter().enumerate() {
                    let mut one = q.clone();
                    if let SetExpr::Select(s) = one.body.as_mut() {
                        s.projection = vec![s.projection[i].clone()];
                    }
                    push(n, &Expr::Subquery(one))?;
                }
            }
            (AssignmentTarget::Tuple(_), Expr::Tuple(_)) => {
                return Err(Error::syntax(
                    "number of columns does not match number of values",
                ))
            }
            (AssignmentTarget::Tuple(_), _) => {
                return Err(Error::unsupported(
                    "assigning a column list from anything but a list of values or a subquery",
                ))
            }
        }
    }
    Ok(out)
}
