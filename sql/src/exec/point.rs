//! Reading a [`PointSelect`]: one key lookup through the statement's view,
//! the row decoded into a one-row Arrow batch (the form every result
//! takes on its way to the client).

use std::sync::Arc;

use client::TxnReader;
use datafusion::arrow::datatypes::Schema;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::SendableRecordBatchStream;

use crate::codec::row::decode_row_with_missing;
use crate::error::Result;
use crate::plan::point::PointSelect;
use crate::types::arrow::{batch, field, ColumnBuilder};
use crate::types::SqlType;

/// The result columns of `point` and its rows (none or one).
pub async fn read(
    point: &PointSelect,
    reader: &TxnReader,
) -> Result<(Vec<(String, SqlType)>, SendableRecordBatchStream)> {
    let table = &point.table;
    let wanted: Vec<(u32, SqlType)> = point.columns.iter().map(|(_, id, ty)| (*id, *ty)).collect();
    let fields: Vec<_> = point
        .columns
        .iter()
        .map(|(name, id, ty)| {
            let nullable = table.column_by_id(*id).is_none_or(|c| !c.not_null);
            field(name, *ty, nullable)
        })
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let value = match &point.key {
        Some(key) => reader.get(key).await?,
        None => None,
    };
    let mut builders: Vec<ColumnBuilder> = wanted
        .iter()
        .map(|(_, ty)| ColumnBuilder::new(*ty, 1))
        .collect();
    let rows = match value {
        Some(bytes) => {
            let missing: Vec<Option<&[u8]>> = wanted
                .iter()
                .map(|(id, _)| table.column_by_id(*id).and_then(|c| c.missing.as_deref()))
                .collect();
            let row = decode_row_with_missing(&bytes, &wanted, &missing)?;
            for (b, d) in builders.iter_mut().zip(&row) {
                b.push(d)?;
            }
            1
        }
        None => 0,
    };
    let result = batch(schema.clone(), &mut builders, rows)?;
    let columns = point
        .columns
        .iter()
        .map(|(name, _, ty)| (name.clone(), *ty))
        .collect();
    let stream = futures::stream::iter([Ok(result)]);
    Ok((
        columns,
        Box::pin(RecordBatchStreamAdapter::new(schema, stream)),
    ))
}
