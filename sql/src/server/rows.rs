//! Rows at the wire edge: Arrow batches into DataRow messages, each value
//! in PostgreSQL's text or binary form (formatted once, here).

use std::sync::Arc;

use bytes::{BufMut, BytesMut};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::physical_plan::SendableRecordBatchStream;
use futures::{Stream, StreamExt};
use pgwire::api::results::{FieldFormat, FieldInfo};
use pgwire::api::Type;
use pgwire::error::PgWireResult;
use pgwire::messages::data::DataRow;

use super::to_pgwire;
use crate::exec::query::from_datafusion;
use crate::types::arrow::datum_at;
use crate::types::binary::{encode_binary, type_modifier, type_oid};
use crate::types::text::{write_text, TextFormat};
use crate::types::{Datum, SqlType};

/// The RowDescription fields of a result, in `format`.
pub fn fields(
    columns: &[(String, SqlType)],
    format: impl Fn(usize) -> FieldFormat,
) -> Vec<FieldInfo> {
    columns
        .iter()
        .enumerate()
        .map(|(i, (name, ty))| {
            let pg_type = Type::from_oid(type_oid(*ty)).unwrap_or(Type::TEXT);
            FieldInfo::new(name.clone(), None, None, pg_type, format(i))
                .with_type_modifier(type_modifier(*ty))
        })
        .collect()
}

/// The rows of `batches` as DataRows, lazily: one batch at a time.
pub fn data_rows(
    batches: SendableRecordBatchStream,
    columns: Vec<(String, SqlType)>,
    formats: Vec<FieldFormat>,
    text: TextFormat,
) -> impl Stream<Item = PgWireResult<DataRow>> + Send + 'static {
    let shape = Arc::new((columns, formats, text));
    batches.flat_map(move |b| {
        let rows: Vec<PgWireResult<DataRow>> = match b {
            Ok(batch) => encode_batch(&batch, &shape.0, &shape.1, &shape.2),
            Err(e) => vec![Err(to_pgwire(from_datafusion(e)))],
        };
        futures::stream::iter(rows)
    })
}

fn encode_batch(
    batch: &RecordBatch,
    columns: &[(String, SqlType)],
    formats: &[FieldFormat],
    text: &TextFormat,
) -> Vec<PgWireResult<DataRow>> {
    let mut out = Vec::with_capacity(batch.num_rows());
    let mut s = String::new();
    let mut bin = Vec::new();
    for row in 0..batch.num_rows() {
        let mut data = BytesMut::new();
        for (i, array) in batch.columns().iter().enumerate() {
            let ty = columns.get(i).map(|c| c.1).unwrap_or(SqlType::Text);
            let d = match datum_at(array.as_ref(), row, ty) {
                Ok(d) => d,
                Err(e) => {
                    out.push(Err(to_pgwire(e)));
                    return out;
                }
            };
            if d == Datum::Null {
                data.put_i32(-1);
                continue;
            }
            match formats.get(i).copied().unwrap_or(FieldFormat::Text) {
                FieldFormat::Text => {
                    s.clear();
                    write_text(&d, ty, text, &mut s);
                    data.put_i32(s.len() as i32);
                    data.put_slice(s.as_bytes());
                }
                FieldFormat::Binary => {
                    bin.clear();
                    encode_binary(&d, ty, &mut bin);
                    data.put_i32(bin.len() as i32);
                    data.put_slice(&bin);
                }
            }
        }
        out.push(Ok(DataRow::new(data, batch.num_columns() as i16)));
    }
    out
}
