//! Planning predicates on primary-key columns into key ranges.
//!
//! Given the filters DataFusion pushes into a table scan (a conjunction),
//! [`plan_ranges`] finds, column by column along the primary key,
//! equalities and `IN` lists (which fix a column to a set of values) and
//! then at most one range (`<`, `<=`, `>`, `>=`, `BETWEEN`) on the next
//! column, and turns them into ranges of encoded keys:
//!
//! - `id = 5` → one point (a get of one key);
//! - `id IN (1, 7)` → two points;
//! - `id BETWEEN 10 AND 20` → one range;
//! - `a = 1 AND b > 3` on `PRIMARY KEY (a, b)` → one range within `a = 1`.
//!
//! A filter is *exact* when the ranges implement it entirely; the scan
//! applies any other filter to the rows it reads. No filter usable: the
//! whole table.

use client::keys::key_after;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{Expr, Operator};

use crate::codec::key::{
    encode_key_datum, encode_key_part, encode_text_prefix, index_prefix, prefix_end,
};
use crate::types::arrow::datum_at;
use crate::types::{Datum, SqlType};

/// Most points an `IN` product may make before it is not worth it.
const MAX_POINTS: usize = 1024;

/// One key column (of the primary key or of an index), as the range
/// planner needs it.
#[derive(Debug, Clone)]
pub struct KeyPart {
    /// The column's name (as DataFusion refers to it), or for an
    /// expression, the form filters show it in.
    pub name: String,
    /// Whether it is an expression (`lower(email)`), not a column.
    pub expr: bool,
    /// Whether its NULLs sort at the other end than PostgreSQL's default
    /// for its direction (`ASC NULLS FIRST`, `DESC NULLS LAST`).
    pub nulls_opposite: bool,
    /// Its type.
    pub ty: SqlType,
    /// Whether the key keeps it in descending order.
    pub descending: bool,
}

/// A range of encoded keys `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedRange {
    /// First key.
    pub start: Vec<u8>,
    /// First key past the range.
    pub end: Vec<u8>,
    /// Whether the range holds exactly one key (`start` itself).
    pub point: bool,
}

/// The ranges to read and which filters they implement exactly.
#[derive(Debug, Clone)]
pub struct RangePlan {
    /// Ranges in key order, not overlapping.
    pub ranges: Vec<EncodedRange>,
    /// For each filter given, whether the ranges implement it entirely.
    pub exact: Vec<bool>,
    /// Leading key columns fixed by equalities.
    pub fixed: usize,
    /// Leading key columns fixed to one value each (the rows read come in
    /// the order of the key columns after them).
    pub single: usize,
    /// How many values each of the `fixed` columns is fixed to.
    pub values: Vec<usize>,
    /// Whether the next column is bounded by a range.
    pub ranged: bool,
}

impl RangePlan {
    /// How selective the plan looks without statistics, to compare access
    /// paths: equalities first, then whether it reads single keys, then a
    /// range.
    pub fn selectivity(&self) -> (usize, bool, bool) {
        let points = !self.ranges.is_empty() && self.ranges.iter().all(|r| r.point);
        (self.fixed, points, self.ranged)
    }

    /// Whether it narrows the read at all.
    pub fn narrows(&self) -> bool {
        self.exact.iter().any(|e| *e)
    }
}

/// What one filter says about one key column.
#[derive(Debug, Clone)]
enum Constraint {
    /// The column is one of these values.
    In(Vec<Datum>),
    /// A lower bound (value, inclusive).
    Lower(Datum, bool),
    /// An upper bound (value, inclusive).
    Upper(Datum, bool),
    /// Both.
    Between(Datum, Datum),
    /// No row can match (`= NULL`).
    Nothing,
    /// Text starting with this (`LIKE 'abc%'`).
    Prefix(String),
    /// Within one of these ranges (`k BETWEEN 1 AND 3 OR k > 9`).
    AnyOf(Vec<Interval>),
}

/// The ranges of the primary index of `table_id` that hold every row
/// matching `filters`.
pub fn plan_ranges(table_id: u32, key: &[KeyPart], filters: &[&Expr]) -> RangePlan {
    let prefix = index_prefix(table_id, crate::codec::key::PRIMARY_INDEX_ID);
    plan_key_ranges(prefix, key, true, filters)
}

/// The ranges of the index under `prefix` whose keys start with `key`
/// that hold every entry matching `filters`. With `unique_keys`, values
/// for every key column make one key (the primary index, a unique
/// index); otherwise entries go on past the key columns (the row key of
/// a non-unique index) and such values make a prefix range. A range is
/// taken on a column in either order (a `LIKE` prefix on an ascending
/// one only).
pub fn plan_key_ranges(
    prefix: Vec<u8>,
    key: &[KeyPart],
    unique_keys: bool,
    filters: &[&Expr],
) -> RangePlan {
    let parsed: Vec<Option<(usize, Constraint)>> =
        filters.iter().map(|f| constraint_of(f, key)).collect();
    let mut exact = vec![false; filters.len()];

    // Fix key columns to value sets while filters allow it.
    let mut points: Vec<Vec<u8>> = vec![prefix.clone()];
    // A NULL (IS NULL) among the values: index entries holding one go on
    // past the key columns, even in a unique index.
    let mut null_fixed = false;
    let mut fixed_all = true;
    let mut single = 0;
    let mut values = Vec::new();
    let mut col = 0;
    while col < key.len() {
        let eq = parsed.iter().enumerate().find_map(|(i, p)| match p {
            Some((c, Constraint::In(vals))) if *c == col => Some((i, vals.clone())),
            Some((c, Constraint::Nothing)) if *c == col => Some((i, Vec::new())),
            _ => None,
        });
        let Some((i, vals)) = eq else {
            fixed_all = false;
            break;
        };
        if points.len() * vals.len().max(1) > MAX_POINTS {
            fixed_all = false;
            break;
        }
        null_fixed |= vals.iter().any(Datum::is_null);
        let mut next = Vec::with_capacity(points.len() * vals.len());
        for p in &points {
            for v in &vals {
                let mut k = p.clone();
                let part = &key[col];
                let encoded =
                    encode_key_part(&mut k, v, part.ty, part.descending, part.nulls_opposite);
                if encoded.is_err() {
                    return whole(prefix, filters.len());
                }
                next.push(k);
            }
        }
        next.sort();
        next.dedup();
        points = next;
        exact[i] = true;
        if single == col && vals.len() == 1 {
            single += 1;
        }
        values.push(vals.len());
        col += 1;
    }
    let fixed = col;
    if fixed_all {
        // Every key column fixed: points, or the entries under each.
        let point = unique_keys && !null_fixed;
        let ranges = points
            .into_iter()
            .map(|k| EncodedRange {
                end: if point { key_after(&k) } else { prefix_end(&k) },
                start: k,
                point,
            })
            .collect();
        return RangePlan {
            ranges,
            exact,
            fixed,
            single,
            values,
            ranged: false,
        };
    }
    // Then one range on the next column, within each point prefix.
    let mut lower: Option<(Datum, bool)> = None;
    let mut upper: Option<(Datum, bool)> = None;
    let mut text_prefix: Option<String> = None;
    let mut alternatives: Option<Vec<Interval>> = None;
    let descending = key[col].descending;
    for (i, p) in parsed.iter().enumerate() {
        match p {
            Some((c, Constraint::Lower(v, inc))) if *c == col && lower.is_none() => {
                lower = Some((v.clone(), *inc));
                exact[i] = true;
            }
            Some((c, Constraint::Upper(v, inc))) if *c == col && upper.is_none() => {
                upper = Some((v.clone(), *inc));
                exact[i] = true;
            }
            Some((c, Constraint::Between(lo, hi)))
                if *c == col && lower.is_none() && upper.is_none() =>
            {
                lower = Some((lo.clone(), true));
                upper = Some((hi.clone(), true));
                exact[i] = true;
            }
            Some((c, Constraint::Prefix(text)))
                if *c == col && text_prefix.is_none() && !descending =>
            {
                text_prefix = Some(text.clone());
                exact[i] = true;
            }
            Some((c, Constraint::AnyOf(list))) if *c == col && alternatives.is_none() => {
                alternatives = Some(list.clone());
                exact[i] = true;
            }
            _ => {}
        }
    }
    if alternatives.is_some() && (lower.is_some() || upper.is_some() || text_prefix.is_some()) {
        // Several kinds of bound on one column: the ORed ranges are left
        // for DataFusion to apply.
        for (i, p) in parsed.iter().enumerate() {
            if matches!(p, Some((c, Constraint::AnyOf(_))) if *c == col) {
                exact[i] = false;
            }
        }
        alternatives = None;
    }
    // The intervals of the column within each point prefix: the OR of
    // ranges, or the one range the other filters make.
    let intervals: Vec<Interval> = match &alternatives {
        Some(list) => list.clone(),
        None => vec![(lower.clone(), upper.clone())],
    };
    let mut ranges = Vec::with_capacity(points.len() * intervals.len());
    for p in points {
        if let Some(text) = &text_prefix {
            // Within the prefix, the other bounds still hold (their
            // filters are exact): the range is their intersection.
            let mut start = p.clone();
            encode_text_prefix(&mut start, text);
            let end = prefix_end(&start);
            let (start, end) = clip(&p, &start, &end, key[col].ty, &lower, &upper);
            if start < end {
                ranges.push(EncodedRange {
                    start,
                    end,
                    point: false,
                });
            }
            continue;
        }
        let mut within: Vec<EncodedRange> = Vec::with_capacity(intervals.len());
        for (lo, hi) in &intervals {
            let Some((start, end)) = bounded(&p, &key[col], lo, hi) else {
                return whole(prefix, filters.len());
            };
            if start < end {
                within.push(EncodedRange {
                    start,
                    end,
                    point: false,
                });
            }
        }
        // Overlapping alternatives read once.
        within.sort_by(|a, b| a.start.cmp(&b.start));
        for r in within {
            match ranges.last_mut() {
                Some(last) if r.start <= last.end => {
                    if r.end > last.end {
                        last.end = r.end;
                    }
                }
                _ => ranges.push(r),
            }
        }
    }
    let ranged =
        lower.is_some() || upper.is_some() || text_prefix.is_some() || alternatives.is_some();
    RangePlan {
        ranges,
        exact,
        fixed,
        single,
        values,
        ranged,
    }
}

/// A range of one column: lower and upper bounds (value, inclusive).
type Interval = (Option<(Datum, bool)>, Option<(Datum, bool)>);

/// The key range of the entries under the prefix `p` whose next column
/// (of type `ty`, in descending order if `descending`) lies within `lower`
/// and `upper`, NULLs left out; `None` when a bound cannot be encoded.
fn bounded(
    p: &[u8],
    part: &KeyPart,
    lower: &Option<(Datum, bool)>,
    upper: &Option<(Datum, bool)>,
) -> Option<(Vec<u8>, Vec<u8>)> {
    let (ty, descending) = (part.ty, part.descending);
    if lower.is_none() && upper.is_none() {
        // No bound: every entry under the prefix, NULLs too.
        return Some((p.to_vec(), prefix_end(p)));
    }
    let encode = |v: &Datum| -> Option<Vec<u8>> {
        let mut k = p.to_vec();
        encode_key_datum(&mut k, v, ty, descending).ok()?;
        Some(k)
    };
    // Where the column's values begin and end under `p`: after its NULLs
    // if they sort first, else before them.
    let mut null = p.to_vec();
    encode_key_part(&mut null, &Datum::Null, ty, descending, part.nulls_opposite).ok()?;
    let nulls_first = descending != part.nulls_opposite;
    let (first, last) = if nulls_first {
        (prefix_end(&null), prefix_end(p))
    } else {
        (p.to_vec(), null)
    };
    // Descending, the smallest value's key comes last.
    let (low_key, high_key) = if descending {
        (upper, lower)
    } else {
        (lower, upper)
    };
    let start = match low_key {
        None => first,
        Some((v, true)) => encode(v)?,
        Some((v, false)) => prefix_end(&encode(v)?),
    };
    let end = match high_key {
        None => last,
        Some((v, true)) => prefix_end(&encode(v)?),
        Some((v, false)) => encode(v)?,
    };
    Some((start, end))
}

/// `[start, end)` narrowed by the bounds `lower` and `upper` of the column
/// of type `ty` that follows the key prefix `p`.
fn clip(
    p: &[u8],
    start: &[u8],
    end: &[u8],
    ty: SqlType,
    lower: &Option<(Datum, bool)>,
    upper: &Option<(Datum, bool)>,
) -> (Vec<u8>, Vec<u8>) {
    let encode = |v: &Datum| -> Option<Vec<u8>> {
        let mut k = p.to_vec();
        encode_key_datum(&mut k, v, ty, false).ok()?;
        Some(k)
    };
    let mut start = start.to_vec();
    let mut end = end.to_vec();
    if let Some((v, inclusive)) = lower {
        if let Some(k) = encode(v) {
            let k = if *inclusive { k } else { prefix_end(&k) };
            start = start.max(k);
        }
    }
    if let Some((v, inclusive)) = upper {
        if let Some(k) = encode(v) {
            let k = if *inclusive { prefix_end(&k) } else { k };
            end = end.min(k);
        }
    }
    (start, end)
}

/// The whole table (or index).
fn whole(prefix: Vec<u8>, filters: usize) -> RangePlan {
    RangePlan {
        ranges: vec![EncodedRange {
            end: prefix_end(&prefix),
            start: prefix,
            point: false,
        }],
        exact: vec![false; filters],
        fixed: 0,
        single: 0,
        values: Vec::new(),
        ranged: false,
    }
}

/// The key column and constraint a filter states, if it is one of the
/// simple forms.
fn constraint_of(e: &Expr, key: &[KeyPart]) -> Option<(usize, Constraint)> {
    match e {
        // `k = 1 OR k = 2` (DataFusion's form of a short IN list).
        Expr::BinaryExpr(b) if b.op == Operator::Or => {
            let sides = [disjunct(&b.left, key)?, disjunct(&b.right, key)?];
            let col = sides.iter().flatten().map(|(c, _)| *c).next()?;
            let mut all = Vec::new();
            let mut intervals: Vec<Interval> = Vec::new();
            for (c, constraint) in sides.into_iter().flatten() {
                if c != col {
                    return None;
                }
                match constraint {
                    Constraint::In(v) => all.extend(v),
                    Constraint::Nothing => {}
                    Constraint::Lower(v, inc) => intervals.push((Some((v, inc)), None)),
                    Constraint::Upper(v, inc) => intervals.push((None, Some((v, inc)))),
                    Constraint::Between(lo, hi) => {
                        intervals.push((Some((lo, true)), Some((hi, true))))
                    }
                    Constraint::AnyOf(list) => intervals.extend(list),
                    Constraint::Prefix(_) => return None,
                }
            }
            if !intervals.is_empty() {
                // Equalities among ranges: ranges of one value. (A NULL
                // IS NULL alternative has no range form.)
                for v in all {
                    if v.is_null() {
                        return None;
                    }
                    intervals.push((Some((v.clone(), true)), Some((v, true))));
                }
                return Some((col, Constraint::AnyOf(intervals)));
            }
            if all.is_empty() {
                return Some((col, Constraint::Nothing));
            }
            Some((col, Constraint::In(all)))
        }
        // `k >= 1 AND k <= 3` inside an OR (DataFusion's form of BETWEEN).
        Expr::BinaryExpr(b) if b.op == Operator::And => {
            let (c1, first) = constraint_of(&b.left, key)?;
            let (c2, second) = constraint_of(&b.right, key)?;
            if c1 != c2 {
                return None;
            }
            match (first, second) {
                (Constraint::Lower(lo, li), Constraint::Upper(hi, hi_inc))
                | (Constraint::Upper(hi, hi_inc), Constraint::Lower(lo, li)) => Some((
                    c1,
                    Constraint::AnyOf(vec![(Some((lo, li)), Some((hi, hi_inc)))]),
                )),
                _ => None,
            }
        }
        Expr::BinaryExpr(b) => {
            let (col, lit, op) = match (column_of(&b.left, key), literal_of(&b.right)) {
                (Some(c), Some(l)) => (c, l, b.op),
                _ => match (column_of(&b.right, key), literal_of(&b.left)) {
                    (Some(c), Some(l)) => (c, l, b.op.swap()?),
                    _ => return None,
                },
            };
            let v = key_value(lit, key[col].ty)?;
            if v.is_null() {
                // Comparisons with NULL match nothing.
                return Some((col, Constraint::Nothing));
            }
            let c = match op {
                Operator::Eq => Constraint::In(vec![v]),
                Operator::Gt => Constraint::Lower(v, false),
                Operator::GtEq => Constraint::Lower(v, true),
                Operator::Lt => Constraint::Upper(v, false),
                Operator::LtEq => Constraint::Upper(v, true),
                _ => return None,
            };
            Some((col, c))
        }
        Expr::InList(l) if !l.negated => {
            let col = column_of(&l.expr, key)?;
            let mut vals = Vec::with_capacity(l.list.len());
            for item in &l.list {
                let v = key_value(literal_of(item)?, key[col].ty)?;
                if !v.is_null() {
                    vals.push(v);
                }
            }
            if vals.is_empty() {
                return Some((col, Constraint::Nothing));
            }
            Some((col, Constraint::In(vals)))
        }
        Expr::IsNull(inner) => Some((column_of(inner, key)?, Constraint::In(vec![Datum::Null]))),
        Expr::Like(l) if !l.negated && !l.case_insensitive && l.escape_char.is_none() => {
            let col = column_of(&l.expr, key)?;
            if !matches!(key[col].ty, SqlType::Text | SqlType::Varchar(_)) {
                return None;
            }
            let Some(ScalarValue::Utf8(Some(pattern))) = literal_of(&l.pattern) else {
                return None;
            };
            // Only a pure prefix: `abc%`, with no other wildcard or escape.
            let text = pattern.strip_suffix('%')?;
            if text.contains(['%', '_', '\\']) {
                return None;
            }
            Some((col, Constraint::Prefix(text.to_string())))
        }
        Expr::Between(b) if !b.negated => {
            let col = column_of(&b.expr, key)?;
            let lo = key_value(literal_of(&b.low)?, key[col].ty)?;
            let hi = key_value(literal_of(&b.high)?, key[col].ty)?;
            if lo.is_null() || hi.is_null() {
                return Some((col, Constraint::Nothing));
            }
            Some((col, Constraint::Between(lo, hi)))
        }
        _ => None,
    }
}

/// One side of an OR: its key constraint, or `None` for a side no row
/// satisfies (a NULL or false literal: `k IN (1, NULL)` becomes
/// `k = 1 OR NULL`).
fn disjunct(e: &Expr, key: &[KeyPart]) -> Option<Option<(usize, Constraint)>> {
    match e {
        Expr::Literal(ScalarValue::Boolean(None | Some(false)) | ScalarValue::Null, _) => {
            Some(None)
        }
        _ => constraint_of(e, key).map(Some),
    }
}

/// The key column `e` refers to (through widening integer casts), or
/// the key expression it is.
fn column_of(e: &Expr, key: &[KeyPart]) -> Option<usize> {
    if key.iter().any(|k| k.expr) && !matches!(e, Expr::Column(_)) {
        let shown = e.to_string();
        if let Some(i) = key.iter().position(|k| k.expr && k.name == shown) {
            return Some(i);
        }
    }
    match e {
        Expr::Column(c) => key.iter().position(|k| !k.expr && k.name == c.name),
        Expr::Cast(c) if c.field.data_type().is_integer() => {
            let i = column_of(&c.expr, key)?;
            matches!(key[i].ty, SqlType::Int2 | SqlType::Int4 | SqlType::Int8).then_some(i)
        }
        _ => None,
    }
}

fn literal_of(e: &Expr) -> Option<&ScalarValue> {
    match e {
        Expr::Literal(v, _) => Some(v),
        _ => None,
    }
}

/// A literal as a key value of a column of type `ty`, when it converts
/// without loss (otherwise the filter is not used for ranges).
fn key_value(v: &ScalarValue, ty: SqlType) -> Option<Datum> {
    let array = v.to_array().ok()?;
    let d = datum_at(&array, 0, ty).ok()?;
    let as_int = |d: &Datum| match d {
        Datum::Int2(v) => Some(*v as i64),
        Datum::Int4(v) => Some(*v as i64),
        Datum::Int8(v) => Some(*v),
        _ => None,
    };
    Some(match (ty, d) {
        (_, Datum::Null) => Datum::Null,
        (SqlType::Int2 | SqlType::Int4 | SqlType::Int8, d) => Datum::Int8(as_int(&d)?),
        (SqlType::Numeric(_), Datum::Numeric(n)) => Datum::Numeric(n),
        (SqlType::Numeric(_), d) => Datum::Numeric(crate::types::Decimal::from_i64(as_int(&d)?)),
        (SqlType::Float8 | SqlType::Float4, Datum::Float8(f)) => Datum::Float8(f),
        (SqlType::Float8 | SqlType::Float4, Datum::Float4(f)) => Datum::Float8(f as f64),
        (SqlType::Text | SqlType::Varchar(_), d @ Datum::Text(_)) => d,
        (SqlType::Uuid, d @ Datum::Uuid(_)) => d,
        (SqlType::Bool, d @ Datum::Bool(_))
        | (SqlType::Bytea, d @ Datum::Bytea(_))
        | (SqlType::Date, d @ Datum::Date(_))
        | (SqlType::Time, d @ Datum::Time(_))
        | (SqlType::Timestamp, d @ Datum::Timestamp(_))
        | (SqlType::TimestampTz, d @ Datum::TimestampTz(_)) => d,
        _ => return None,
    })
}

/// Readable form of an encoded range for `EXPLAIN`.
pub fn describe(r: &EncodedRange, prefix_len: usize) -> String {
    let show = |k: &[u8]| {
        if k.len() <= prefix_len {
            "-".to_string()
        } else {
            format!("0x{}", hex_string(&k[prefix_len..]))
        }
    };
    if r.point {
        format!("point {}", show(&r.start))
    } else {
        format!("[{}, {})", show(&r.start), show(&r.end))
    }
}

fn hex_string(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use datafusion::logical_expr::{col, lit};

    use super::*;

    fn key1() -> Vec<KeyPart> {
        vec![KeyPart {
            name: "id".into(),
            ty: SqlType::Int4,
            descending: false,
            expr: false,
            nulls_opposite: false,
        }]
    }

    #[test]
    fn an_equality_on_the_key_is_one_point() {
        let f = col("id").eq(lit(5i32));
        let plan = plan_ranges(7, &key1(), &[&f]);
        assert_eq!(plan.ranges.len(), 1);
        assert!(plan.ranges[0].point);
        assert_eq!(plan.exact, vec![true]);
    }

    #[test]
    fn in_lists_are_points_and_between_is_one_range() {
        let f = col("id").in_list(vec![lit(3i64), lit(1i64), lit(3i64)], false);
        let plan = plan_ranges(7, &key1(), &[&f]);
        assert_eq!(plan.ranges.len(), 2);
        assert!(plan.ranges[0].start < plan.ranges[1].start);
        let f = col("id").between(lit(10i32), lit(20i32));
        let plan = plan_ranges(7, &key1(), &[&f]);
        assert_eq!(plan.ranges.len(), 1);
        assert!(!plan.ranges[0].point);
        assert_eq!(plan.exact, vec![true]);
    }

    #[test]
    fn equalities_joined_by_or_are_points() {
        let f = col("id")
            .eq(lit(2i32))
            .or(col("id").eq(lit(1i32)))
            .or(col("id").in_list(vec![lit(2i32), lit(9i32)], false));
        let plan = plan_ranges(7, &key1(), &[&f]);
        assert_eq!(plan.ranges.len(), 3);
        assert!(plan.ranges.iter().all(|r| r.point));
        assert_eq!(plan.exact, vec![true]);
        // NULL in the list.
        let f = col("id").eq(lit(2i32)).or(lit(ScalarValue::Boolean(None)));
        let plan = plan_ranges(7, &key1(), &[&f]);
        assert_eq!(plan.ranges.len(), 1);
        assert!(plan.ranges[0].point);
        assert_eq!(plan.exact, vec![true]);
        // A range in the OR: ranges, merged where they overlap.
        let f = col("id")
            .eq(lit(1i32))
            .or(col("id").gt(lit(9i32)))
            .or(col("id").gt_eq(lit(3i32)).and(col("id").lt(lit(5i32))))
            .or(col("id").gt_eq(lit(4i32)).and(col("id").lt(lit(7i32))));
        let plan = plan_ranges(7, &key1(), &[&f]);
        assert_eq!(plan.exact, vec![true]);
        assert_eq!(plan.ranges.len(), 3, "{:?}", plan.ranges);
        assert!(plan.ranges.iter().all(|r| !r.point));
        // Another column in the OR: the whole table.
        for f in [
            col("id").eq(lit(2i32)).or(col("v").eq(lit(1i32))),
            lit(ScalarValue::Boolean(None)).or(lit(false)),
        ] {
            let plan = plan_ranges(7, &key1(), &[&f]);
            assert_eq!(plan.exact, vec![false], "{f}");
            assert!(!plan.ranges[0].point, "{f}");
        }
    }

    #[test]
    fn other_filters_scan_the_table_and_stay_inexact() {
        let f = col("name").eq(lit("x"));
        let plan = plan_ranges(7, &key1(), &[&f]);
        assert_eq!(plan.ranges.len(), 1);
        assert_eq!(plan.exact, vec![false]);
        let prefix = index_prefix(7, 1);
        assert_eq!(plan.ranges[0].start, prefix);
    }

    #[test]
    fn a_composite_key_takes_equalities_then_a_range() {
        let key = vec![
            KeyPart {
                name: "a".into(),
                ty: SqlType::Int8,
                descending: false,
                expr: false,
                nulls_opposite: false,
            },
            KeyPart {
                name: "b".into(),
                ty: SqlType::Text,
                descending: false,
                expr: false,
                nulls_opposite: false,
            },
        ];
        let (f1, f2, f3) = (
            col("a").eq(lit(1i64)),
            col("b").gt(lit("m")),
            col("c").eq(lit(2i64)),
        );
        let plan = plan_ranges(9, &key, &[&f1, &f2, &f3]);
        assert_eq!(plan.exact, vec![true, true, false]);
        assert_eq!(plan.ranges.len(), 1);
        // A range on b alone is not usable.
        let plan = plan_ranges(9, &key, &[&f2]);
        assert_eq!(plan.exact, vec![false]);
    }

    #[test]
    fn comparing_with_null_reads_nothing() {
        let f = col("id").eq(lit(ScalarValue::Int32(None)));
        let plan = plan_ranges(7, &key1(), &[&f]);
        assert!(plan.ranges.is_empty());
    }
}
