//! `single_value(x)`: the aggregate a scalar subquery becomes
//! (`plan::subqueries`). Over no row it is NULL, over one row that row's
//! value (NULL included), over more rows the error PostgreSQL gives for a
//! scalar subquery of several rows (21000).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Int64Type};
use datafusion::common::ScalarValue;
use datafusion::error::Result;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility,
};

use super::sql_error;
use crate::error::code;
use crate::plan::subqueries::SINGLE_VALUE;

/// The `single_value` aggregate.
pub fn single_value() -> AggregateUDF {
    AggregateUDF::new_from_impl(SingleValue {
        signature: Signature::any(1, Volatility::Immutable),
    })
}

/// See the module documentation.
#[derive(Debug, PartialEq, Eq, Hash)]
struct SingleValue {
    signature: Signature,
}

impl AggregateUDFImpl for SingleValue {
    fn name(&self) -> &str {
        SINGLE_VALUE
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(args.first().cloned().unwrap_or(DataType::Null))
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let value = ScalarValue::try_from(args.return_field.data_type())?;
        Ok(Box::new(SingleAccumulator { value, rows: 0 }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![
            Arc::new(Field::new(
                format!("{}[value]", args.name),
                args.return_field.data_type().clone(),
                true,
            )),
            Arc::new(Field::new(
                format!("{}[rows]", args.name),
                DataType::Int64,
                true,
            )),
        ])
    }
}

/// The first value seen and how many rows there were.
#[derive(Debug)]
struct SingleAccumulator {
    value: ScalarValue,
    rows: i64,
}

impl SingleAccumulator {
    fn add(&mut self, values: &ArrayRef, rows: i64) -> Result<()> {
        if rows == 0 {
            return Ok(());
        }
        if self.rows > 0 || rows > 1 {
            return Err(sql_error(
                code::CARDINALITY_VIOLATION,
                "more than one row returned by a subquery used as an expression",
            ));
        }
        self.value = ScalarValue::try_from_array(values, 0)?;
        self.rows = rows;
        Ok(())
    }
}

impl Accumulator for SingleAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        match values.first() {
            Some(a) => self.add(a, a.len() as i64),
            None => Ok(()),
        }
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let [values, rows] = states else {
            return Ok(());
        };
        let rows = rows.as_primitive::<Int64Type>();
        for i in 0..rows.len() {
            if rows.is_null(i) || rows.value(i) == 0 {
                continue;
            }
            self.add(&values.slice(i, 1), rows.value(i))?;
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![
            self.value.clone(),
            ScalarValue::Int64(Some(self.rows)),
        ])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(self.value.clone())
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.value.size() - std::mem::size_of_val(&self.value)
    }
}
