//! Physical expressions as a coprocessor plan carries them: a tree of the
//! kinds a store can rebuild exactly (columns, literals, operators, casts,
//! IN lists, LIKE, CASE and registered scalar functions by name). Literal
//! values and cast types travel beside the tree in an Arrow IPC batch
//! ([`Literals`]), so every Arrow type round-trips without a format of
//! our own.
//!
//! An expression holding anything else is not pushed down: the SQL node
//! keeps it ([`to_node`] answers `None`).

use std::sync::Arc;

use datafusion::arrow::array::{new_null_array, ArrayRef};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::ScalarValue;
use datafusion::config::ConfigOptions;
use datafusion::execution::FunctionRegistry;
use datafusion::logical_expr::Operator;
use datafusion::physical_expr::expressions::{
    in_list, BinaryExpr, CaseExpr, CastExpr, Column, IsNotNullExpr, IsNullExpr, LikeExpr, Literal,
    NegativeExpr, NotExpr, TryCastExpr,
};
use datafusion::physical_expr::{PhysicalExpr, ScalarFunctionExpr};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Operators a plan may carry (by their printed form).
const OPERATORS: &[Operator] = &[
    Operator::Eq,
    Operator::NotEq,
    Operator::Lt,
    Operator::LtEq,
    Operator::Gt,
    Operator::GtEq,
    Operator::Plus,
    Operator::Minus,
    Operator::Multiply,
    Operator::Divide,
    Operator::Modulo,
    Operator::And,
    Operator::Or,
    Operator::IsDistinctFrom,
    Operator::IsNotDistinctFrom,
    Operator::StringConcat,
    Operator::RegexMatch,
    Operator::RegexIMatch,
    Operator::RegexNotMatch,
    Operator::RegexNotIMatch,
];

/// One node of an expression tree in a plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Node {
    /// Input column `index`, named `name`.
    Column {
        name: String,
        index: usize,
    },
    /// Literal number `n` of the plan's [`Literals`].
    Literal(usize),
    /// `left op right`.
    Binary {
        op: String,
        left: Box<Node>,
        right: Box<Node>,
    },
    /// A cast to the type of literal `to` (a typed NULL).
    Cast {
        expr: Box<Node>,
        to: usize,
    },
    /// `TRY_CAST`, likewise.
    TryCast {
        expr: Box<Node>,
        to: usize,
    },
    Not(Box<Node>),
    Negative(Box<Node>),
    IsNull(Box<Node>),
    IsNotNull(Box<Node>),
    InList {
        expr: Box<Node>,
        list: Vec<Node>,
        negated: bool,
    },
    Like {
        negated: bool,
        case_insensitive: bool,
        expr: Box<Node>,
        pattern: Box<Node>,
    },
    Case {
        expr: Option<Box<Node>>,
        when_then: Vec<(Node, Node)>,
        otherwise: Option<Box<Node>>,
    },
    /// A registered scalar function, by name.
    Function {
        name: String,
        args: Vec<Node>,
    },
}

/// The literal values (and cast target types) of a plan, gathered while
/// its expressions are turned into [`Node`]s.
#[derive(Debug, Default)]
pub struct Literals {
    arrays: Vec<ArrayRef>,
}

impl Literals {
    fn push(&mut self, array: ArrayRef) -> usize {
        self.arrays.push(array);
        self.arrays.len() - 1
    }

    /// The literals as one batch of one row (`None` if there are none).
    pub fn into_batch(self) -> Result<Option<RecordBatch>> {
        if self.arrays.is_empty() {
            return Ok(None);
        }
        let fields: Vec<Field> = self
            .arrays
            .iter()
            .enumerate()
            .map(|(i, a)| Field::new(format!("l{i}"), a.data_type().clone(), true))
            .collect();
        RecordBatch::try_new(Arc::new(Schema::new(fields)), self.arrays)
            .map(Some)
            .map_err(|e| Error::internal(format!("coprocessor literals: {e}")))
    }
}

/// `expr` as a plan node, its literals added to `lits`; `None` if it
/// holds something a store cannot rebuild.
pub fn to_node(expr: &Arc<dyn PhysicalExpr>, lits: &mut Literals) -> Option<Node> {
    let any: &dyn PhysicalExpr = expr.as_ref();
    let boxed = |e: &Arc<dyn PhysicalExpr>, lits: &mut Literals| to_node(e, lits).map(Box::new);
    if let Some(c) = any.downcast_ref::<Column>() {
        return Some(Node::Column {
            name: c.name().to_string(),
            index: c.index(),
        });
    }
    if let Some(l) = any.downcast_ref::<Literal>() {
        let array = l.value().to_array_of_size(1).ok()?;
        return Some(Node::Literal(lits.push(array)));
    }
    if let Some(b) = any.downcast_ref::<BinaryExpr>() {
        if !OPERATORS.contains(b.op()) {
            return None;
        }
        return Some(Node::Binary {
            op: b.op().to_string(),
            left: boxed(b.left(), lits)?,
            right: boxed(b.right(), lits)?,
        });
    }
    if let Some(c) = any.downcast_ref::<CastExpr>() {
        if c.has_explicit_metadata() || c.has_explicit_nullability() {
            return None;
        }
        let expr = boxed(c.expr(), lits)?;
        let to = lits.push(new_null_array(c.cast_type(), 1));
        return Some(Node::Cast { expr, to });
    }
    if let Some(c) = any.downcast_ref::<TryCastExpr>() {
        let expr = boxed(c.expr(), lits)?;
        let to = lits.push(new_null_array(c.cast_type(), 1));
        return Some(Node::TryCast { expr, to });
    }
    if let Some(n) = any.downcast_ref::<NotExpr>() {
        return Some(Node::Not(boxed(n.arg(), lits)?));
    }
    if let Some(n) = any.downcast_ref::<NegativeExpr>() {
        return Some(Node::Negative(boxed(n.arg(), lits)?));
    }
    if let Some(n) = any.downcast_ref::<IsNullExpr>() {
        return Some(Node::IsNull(boxed(n.arg(), lits)?));
    }
    if let Some(n) = any.downcast_ref::<IsNotNullExpr>() {
        return Some(Node::IsNotNull(boxed(n.arg(), lits)?));
    }
    if let Some(i) = any.downcast_ref::<datafusion::physical_expr::expressions::InListExpr>() {
        return Some(Node::InList {
            expr: boxed(i.expr(), lits)?,
            list: i
                .list()
                .iter()
                .map(|e| to_node(e, lits))
                .collect::<Option<_>>()?,
            negated: i.negated(),
        });
    }
    if let Some(l) = any.downcast_ref::<LikeExpr>() {
        return Some(Node::Like {
            negated: l.negated(),
            case_insensitive: l.case_insensitive(),
            expr: boxed(l.expr(), lits)?,
            pattern: boxed(l.pattern(), lits)?,
        });
    }
    if let Some(c) = any.downcast_ref::<CaseExpr>() {
        let expr = match c.expr() {
            Some(e) => Some(boxed(e, lits)?),
            None => None,
        };
        let when_then = c
            .when_then_expr()
            .iter()
            .map(|(w, t)| Some((to_node(w, lits)?, to_node(t, lits)?)))
            .collect::<Option<_>>()?;
        let otherwise = match c.else_expr() {
            Some(e) => Some(boxed(e, lits)?),
            None => None,
        };
        return Some(Node::Case {
            expr,
            when_then,
            otherwise,
        });
    }
    if let Some(f) = any.downcast_ref::<ScalarFunctionExpr>() {
        // Volatile functions (random(), now()) must not run per store.
        if f.fun().signature().volatility != datafusion::logical_expr::Volatility::Immutable {
            return None;
        }
        return Some(Node::Function {
            name: f.fun().name().to_string(),
            args: f
                .args()
                .iter()
                .map(|e| to_node(e, lits))
                .collect::<Option<_>>()?,
        });
    }
    None
}

/// What a store needs to rebuild expressions: the input's schema, the
/// plan's literals and the functions registered.
pub struct Rebuild<'a> {
    pub schema: &'a Schema,
    pub literals: Option<&'a RecordBatch>,
    pub registry: &'a dyn FunctionRegistry,
    pub config: Arc<ConfigOptions>,
}

impl Rebuild<'_> {
    fn literal(&self, n: usize) -> Result<&ArrayRef> {
        self.literals
            .and_then(|b| b.columns().get(n))
            .ok_or_else(|| Error::internal(format!("coprocessor plan: no literal {n}")))
    }

    fn cast_type(&self, n: usize) -> Result<DataType> {
        Ok(self.literal(n)?.data_type().clone())
    }

    /// The physical expression of `node`.
    pub fn expr(&self, node: &Node) -> Result<Arc<dyn PhysicalExpr>> {
        let bad = |e: datafusion::error::DataFusionError| {
            Error::internal(format!("coprocessor plan: {e}"))
        };
        let boxed = |n: &Node| self.expr(n);
        Ok(match node {
            Node::Column { name, index } => {
                if *index >= self.schema.fields().len() {
                    return Err(Error::internal(format!(
                        "coprocessor plan: no input column {index}"
                    )));
                }
                Arc::new(Column::new(name, *index))
            }
            Node::Literal(n) => {
                let value = ScalarValue::try_from_array(self.literal(*n)?, 0).map_err(bad)?;
                Arc::new(Literal::new(value))
            }
            Node::Binary { op, left, right } => {
                let op = OPERATORS
                    .iter()
                    .find(|o| o.to_string() == *op)
                    .ok_or_else(|| Error::internal(format!("coprocessor plan: operator {op}")))?;
                Arc::new(BinaryExpr::new(boxed(left)?, *op, boxed(right)?))
            }
            Node::Cast { expr, to } => {
                Arc::new(CastExpr::new(boxed(expr)?, self.cast_type(*to)?, None))
            }
            Node::TryCast { expr, to } => {
                Arc::new(TryCastExpr::new(boxed(expr)?, self.cast_type(*to)?))
            }
            Node::Not(e) => Arc::new(NotExpr::new(boxed(e)?)),
            Node::Negative(e) => Arc::new(NegativeExpr::new(boxed(e)?)),
            Node::IsNull(e) => Arc::new(IsNullExpr::new(boxed(e)?)),
            Node::IsNotNull(e) => Arc::new(IsNotNullExpr::new(boxed(e)?)),
            Node::InList {
                expr,
                list,
                negated,
            } => {
                let list = list.iter().map(boxed).collect::<Result<Vec<_>>>()?;
                in_list(boxed(expr)?, list, negated, self.schema).map_err(bad)?
            }
            Node::Like {
                negated,
                case_insensitive,
                expr,
                pattern,
            } => Arc::new(LikeExpr::new(
                *negated,
                *case_insensitive,
                boxed(expr)?,
                boxed(pattern)?,
            )),
            Node::Case {
                expr,
                when_then,
                otherwise,
            } => {
                let expr = expr.as_deref().map(boxed).transpose()?;
                let when_then = when_then
                    .iter()
                    .map(|(w, t)| Ok((boxed(w)?, boxed(t)?)))
                    .collect::<Result<Vec<_>>>()?;
                let otherwise = otherwise.as_deref().map(boxed).transpose()?;
                Arc::new(CaseExpr::try_new(expr, when_then, otherwise).map_err(bad)?)
            }
            Node::Function { name, args } => {
                let udf = match crate::exec::pg::rule_udf(name) {
                    Some(f) => f,
                    None => self.registry.udf(name).map_err(bad)?,
                };
                let args = args.iter().map(boxed).collect::<Result<Vec<_>>>()?;
                Arc::new(
                    ScalarFunctionExpr::try_new(udf, args, self.schema, self.config.clone())
                        .map_err(bad)?,
                )
            }
        })
    }
}

/// Whether `a` and `b` compute the same thing: equal trees, where a
/// function call is the same function over the same arguments whatever
/// configuration it was built with (the SQL node builds filters and
/// aggregate arguments with different ones).
pub fn same_expr(a: &Arc<dyn PhysicalExpr>, b: &Arc<dyn PhysicalExpr>) -> bool {
    let (ca, cb) = (a.children(), b.children());
    if ca.len() != cb.len() || !ca.iter().zip(&cb).all(|(x, y)| same_expr(x, y)) {
        return false;
    }
    let fa = a.as_ref().downcast_ref::<ScalarFunctionExpr>();
    let fb = b.as_ref().downcast_ref::<ScalarFunctionExpr>();
    match (fa, fb) {
        (Some(x), Some(y)) => x.fun() == y.fun() && x.return_type() == y.return_type(),
        (None, None) => {
            // The nodes themselves, children aside.
            let holes = |n: usize| -> Vec<Arc<dyn PhysicalExpr>> {
                (0..n)
                    .map(|i| Arc::new(Column::new("?", i)) as Arc<dyn PhysicalExpr>)
                    .collect()
            };
            match (
                a.clone().with_new_children(holes(ca.len())),
                b.clone().with_new_children(holes(cb.len())),
            ) {
                (Ok(x), Ok(y)) => x.as_ref() == y.as_ref(),
                _ => false,
            }
        }
        _ => false,
    }
}
