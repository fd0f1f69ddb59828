//! Scalar subqueries made aggregates, so that DataFusion can decorrelate
//! them.
//!
//! DataFusion runs a correlated scalar subquery only if it aggregates
//! ("Correlated scalar subquery must be aggregated"); PostgreSQL runs any,
//! failing with 21000 when one yields more than one row. A scalar subquery
//! that does not aggregate is rewritten into one that does, with the same
//! result:
//!
//! - `(SELECT e FROM … WHERE …)` becomes `(SELECT single_value(e) …)`:
//!   no row gives NULL, one row its value, more rows 21000
//!   ([`crate::exec::pg::subquery`]);
//! - `(SELECT e FROM … ORDER BY o LIMIT 1)` becomes
//!   `(SELECT first_value(e ORDER BY o) …)`.
//!
//! Subqueries that already aggregate, group, use DISTINCT, window
//! functions or other limits are left as they are.
//!
//! `x op ANY (…)` and `x op ALL (…)` are rewritten too (see
//! [`quantified`]): DataFusion answers them wrongly for ordering
//! operators.

use std::collections::HashSet;
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    BinaryOperator, Expr, GroupByExpr, LimitClause, Query, SelectItem, SetExpr, Statement, Value,
    Visit, VisitMut, Visitor, VisitorMut,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;

/// The aggregate that keeps a scalar subquery's only value.
pub const SINGLE_VALUE: &str = "single_value";

/// Rewrites the non-aggregating scalar subqueries of `stmt`;
/// `is_aggregate` tells aggregate function names.
pub fn aggregate_scalar_subqueries(stmt: &mut Statement, is_aggregate: &dyn Fn(&str) -> bool) {
    let mut r = Rewriter {
        is_aggregate,
        not_scalar: HashSet::new(),
    };
    let _ = stmt.visit(&mut r);
}

struct Rewriter<'a> {
    is_aggregate: &'a dyn Fn(&str) -> bool,
    /// Addresses of subqueries under `ANY`/`ALL` (visited after their
    /// parent, and not moved meanwhile).
    not_scalar: HashSet<*const Query>,
}

impl VisitorMut for Rewriter<'_> {
    type Break = ();

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        let all = matches!(expr, Expr::AllOp { .. });
        match expr {
            Expr::AnyOp {
                left,
                compare_op,
                right,
                ..
            }
            | Expr::AllOp {
                left,
                compare_op,
                right,
            } => {
                if let Expr::Subquery(q) = right.as_ref() {
                    match quantified(left, compare_op, q, all) {
                        Some(e) => *expr = e,
                        None => {
                            self.not_scalar.insert(q.as_ref() as *const Query);
                        }
                    }
                }
            }
            Expr::Subquery(q) if !self.not_scalar.contains(&(q.as_ref() as *const Query)) => {
                aggregate(q, self.is_aggregate);
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

/// `left op ANY (q)` / `left op ALL (q)` in terms DataFusion computes
/// right (it answers those with ordering operators wrongly): `= ANY` is
/// `IN`, `<> ALL` is `NOT IN`, and an ordering operator compares with the
/// subquery's minimum or maximum, with SQL's answers for an empty
/// subquery (ANY false, ALL true) and for NULLs (NULL where no row
/// decides). `None`: left as it is.
fn quantified(left: &Expr, op: &BinaryOperator, q: &Query, all: bool) -> Option<Expr> {
    use BinaryOperator::{Eq, Gt, GtEq, Lt, LtEq, NotEq};
    let text = match (op, all) {
        (Eq, false) => format!("{left} IN ({q})"),
        (NotEq, true) => format!("{left} NOT IN ({q})"),
        (Gt | GtEq | Lt | LtEq, _) => {
            // ANY: the most lenient row decides; ALL: the strictest.
            let agg = match (op, all) {
                (Gt | GtEq, false) | (Lt | LtEq, true) => "min",
                _ => "max",
            };
            let over = |e: &str| format!("(SELECT {e} FROM ({q}) AS quantified (v))");
            let cmp = format!("({left} {op} {})", over(&format!("{agg}(v)")));
            let rows = over("count(*)");
            let nulls = over("count(*) - count(v)");
            if all {
                format!(
                    "CASE WHEN {rows} = 0 THEN true WHEN NOT {cmp} THEN false \
                     WHEN {nulls} > 0 OR {cmp} IS NULL THEN NULL ELSE true END"
                )
            } else {
                format!(
                    "CASE WHEN {rows} = 0 THEN false WHEN {cmp} THEN true \
                     WHEN {nulls} > 0 OR {cmp} IS NULL THEN NULL ELSE false END"
                )
            }
        }
        _ => return None,
    };
    parse_expr(&text)
}

fn parse_expr(text: &str) -> Option<Expr> {
    Parser::new(&PostgreSqlDialect {})
        .try_with_sql(text)
        .and_then(|mut p| p.parse_expr())
        .ok()
}

/// Makes the scalar subquery `q` aggregate, if it is of a form that can.
fn aggregate(q: &mut Query, is_aggregate: &dyn Fn(&str) -> bool) {
    if q.fetch.is_some() || !q.locks.is_empty() {
        return;
    }
    let limit_one = match &q.limit_clause {
        None => false,
        Some(LimitClause::LimitOffset {
            limit: Some(Expr::Value(v)),
            offset: None,
            limit_by,
        }) if limit_by.is_empty() && matches!(&v.value, Value::Number(n, _) if n == "1") => true,
        Some(_) => return,
    };
    let order_by = q.order_by.clone();
    let SetExpr::Select(select) = q.body.as_mut() else {
        return;
    };
    let grouped = match &select.group_by {
        GroupByExpr::All(_) => true,
        GroupByExpr::Expressions(e, _) => !e.is_empty(),
    };
    if grouped || select.having.is_some() || select.distinct.is_some() || select.from.is_empty() {
        return;
    }
    let [item] = select.projection.as_mut_slice() else {
        return;
    };
    let e = match item {
        SelectItem::UnnamedExpr(e) => e,
        SelectItem::ExprWithAlias { expr, .. } => expr,
        _ => return,
    };
    if aggregates(e, is_aggregate) {
        return;
    }
    let text = match (limit_one, &order_by) {
        (true, Some(o)) => format!("first_value({e} {o})"),
        (true, None) => format!("first_value({e})"),
        (false, _) => format!("{SINGLE_VALUE}({e})"),
    };
    let Some(rewritten) = parse_expr(&text) else {
        return;
    };
    *e = rewritten;
    if limit_one {
        q.limit_clause = None;
        q.order_by = None;
    }
}

/// Whether `e` calls an aggregate or window function (outside nested
/// subqueries, which the visitor reaches on their own).
fn aggregates(e: &Expr, is_aggregate: &dyn Fn(&str) -> bool) -> bool {
    struct Finder<'a> {
        is_aggregate: &'a dyn Fn(&str) -> bool,
        depth: usize,
        found: bool,
    }
    impl Visitor for Finder<'_> {
        type Break = ();
        fn pre_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
            self.depth += 1;
            ControlFlow::Continue(())
        }
        fn post_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
            self.depth -= 1;
            ControlFlow::Continue(())
        }
        fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
            if let (Expr::Function(f), 0) = (e, self.depth) {
                let name = f
                    .name
                    .0
                    .last()
                    .and_then(|p| p.as_ident())
                    .map(|i| i.value.to_lowercase());
                if f.over.is_some() || name.is_some_and(|n| (self.is_aggregate)(&n)) {
                    self.found = true;
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        }
    }
    let mut f = Finder {
        is_aggregate,
        depth: 0,
        found: false,
    };
    let _ = e.visit(&mut f);
    f.found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(sql: &str) -> String {
        let mut stmt = Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .unwrap()
            .remove(0);
        aggregate_scalar_subqueries(&mut stmt, &|n| matches!(n, "max" | "min" | "count"));
        stmt.to_string()
    }

    #[test]
    fn plain_scalar_subquery_keeps_its_single_value() {
        assert_eq!(
            rewritten("SELECT (SELECT r.v FROM r WHERE r.id = t.id) AS x FROM t"),
            "SELECT (SELECT single_value(r.v) FROM r WHERE r.id = t.id) AS x FROM t"
        );
    }

    #[test]
    fn limit_one_takes_the_first_in_order() {
        assert_eq!(
            rewritten("SELECT (SELECT v FROM r WHERE r.id = t.id ORDER BY w DESC LIMIT 1) FROM t"),
            "SELECT (SELECT first_value(v ORDER BY w DESC) FROM r WHERE r.id = t.id) FROM t"
        );
    }

    #[test]
    fn quantified_comparisons_become_in_or_extremes() {
        assert_eq!(
            rewritten("SELECT * FROM t WHERE x = ANY (SELECT v FROM r)"),
            "SELECT * FROM t WHERE x IN (SELECT v FROM r)"
        );
        let all = rewritten("SELECT * FROM t WHERE x > ALL (SELECT v FROM r)");
        assert!(
            all.contains("SELECT max(v) FROM (SELECT v FROM r)"),
            "{all}"
        );
        let any = rewritten("SELECT * FROM t WHERE x > ANY (SELECT v FROM r)");
        assert!(
            any.contains("SELECT min(v) FROM (SELECT v FROM r)"),
            "{any}"
        );
    }

    #[test]
    fn aggregating_and_non_scalar_subqueries_stay() {
        for sql in [
            "SELECT (SELECT max(v) FROM r WHERE r.id = t.id) FROM t",
            "SELECT (SELECT v FROM r GROUP BY v) FROM t",
            "SELECT (SELECT 1) FROM t",
            "SELECT * FROM t WHERE x IN (SELECT v FROM r)",
            "SELECT * FROM t WHERE x = ANY(ARRAY[1, 2])",
            "SELECT (SELECT v FROM r LIMIT 2) FROM t",
        ] {
            assert_eq!(rewritten(sql), sql);
        }
    }
}
