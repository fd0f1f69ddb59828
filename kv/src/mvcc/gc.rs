//! Garbage collection of old versions.
//!
//! No read at or after the safe point can see a version that a newer data
//! version at or below the safe point shadows, so for each key, among its
//! records committed at or below the safe point:
//!
//! - the newest `Put` stays (reads at the safe point still see it), and
//!   everything older goes;
//! - the newest data record being a `Del`, it goes too, with everything
//!   older (the key reads as absent either way);
//! - `Lock` and `Rollback` records go (they hide no data; transactions
//!   older than the safe point are refused anyway).
//!
//! Locks are left alone: their owners or readers resolve them.

use prost::Message as _;
use protocol::mvccpb::{Op, Write};

use super::key::{append_ts, split_ts};
use super::Result;
use crate::engine::{Cf, Snapshot, WriteBatch};

/// What one pass over a range did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct GcPass {
    /// Versions staged for deletion.
    pub deleted: u64,
    /// Where to continue if the pass stopped at its limit.
    pub next: Option<Vec<u8>>,
}

/// Stages the deletion of versions in the encoded range `[start, end)`
/// that no read at or after `safe_point` can see, at most about `limit`
/// of them (a pass stops between keys).
pub fn collect<S: Snapshot + ?Sized>(
    snap: &S,
    start: &[u8],
    end: &[u8],
    safe_point: u64,
    limit: u64,
    wb: &mut WriteBatch,
) -> Result<GcPass> {
    let mut pass = GcPass::default();
    let mut current: Vec<u8> = Vec::new();
    let mut found_data = false;
    let mut failed = None;
    snap.scan(Cf::Write, start, end, &mut |k, v| {
        let mut step = || -> Result<bool> {
            let (encoded, commit_ts) = split_ts(k)?;
            if encoded != current.as_slice() {
                if pass.deleted >= limit {
                    pass.next = Some(encoded.to_vec());
                    return Ok(false);
                }
                current = encoded.to_vec();
                found_data = false;
            }
            if commit_ts > safe_point {
                return Ok(true);
            }
            let w = Write::decode(v)?;
            let is_put = w.op == Op::Put as i32;
            if !found_data && (is_put || w.op == Op::Del as i32) {
                found_data = true;
                if is_put {
                    return Ok(true);
                }
            }
            wb.delete(Cf::Write, k.to_vec());
            if is_put && w.short_value.is_none() {
                wb.delete(Cf::Default, append_ts(encoded, w.start_ts));
            }
            pass.deleted += 1;
            Ok(true)
        };
        step().unwrap_or_else(|e| {
            failed = Some(e);
            false
        })
    })?;
    failed.map_or(Ok(pass), Err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Engine, MemEngine};
    use crate::mvcc::key::{encode_key, encode_range};
    use crate::mvcc::MvccReader;

    fn put(wb: &mut WriteBatch, key: &[u8], start: u64, commit: u64, op: Op, big: bool) {
        let k = encode_key(key);
        let short_value = (op == Op::Put && !big).then(|| format!("v{start}").into_bytes());
        if op == Op::Put && big {
            wb.put(
                Cf::Default,
                append_ts(&k, start),
                format!("v{start}").into_bytes(),
            );
        }
        let w = Write {
            op: op as i32,
            start_ts: start,
            short_value,
        };
        wb.put(Cf::Write, append_ts(&k, commit), w.encode_to_vec());
    }

    #[test]
    fn keeps_exactly_what_reads_at_the_safe_point_and_later_see() {
        let e = MemEngine::new();
        let mut wb = WriteBatch::default();
        // a: puts at 11, 21 (big), 31; a rollback at 25; a put at 41.
        put(&mut wb, b"a", 10, 11, Op::Put, false);
        put(&mut wb, b"a", 20, 21, Op::Put, true);
        put(&mut wb, b"a", 25, 25, Op::Rollback, false);
        put(&mut wb, b"a", 30, 31, Op::Put, false);
        put(&mut wb, b"a", 40, 41, Op::Put, false);
        // b: a put, then a delete below the safe point.
        put(&mut wb, b"b", 10, 11, Op::Put, false);
        put(&mut wb, b"b", 20, 21, Op::Del, false);
        e.write(&wb, false).unwrap();

        let snap = e.snapshot();
        let (start, end) = encode_range(b"", b"");
        let mut gc = WriteBatch::default();
        let pass = collect(&snap, &start, &end, 35, 1000, &mut gc).unwrap();
        // a@11, a@21 (+ its value), a@25; b@11 and b@21.
        assert_eq!(pass.deleted, 5);
        e.write(&gc, false).unwrap();

        let snap = e.snapshot();
        let r = MvccReader::new(&snap);
        let get = |k: &[u8], ts| r.get(&encode_key(k), ts).unwrap();
        assert_eq!(get(b"a", 35), Some(b"v30".to_vec()));
        assert_eq!(get(b"a", 50), Some(b"v40".to_vec()));
        assert_eq!(get(b"b", 35), None);
        let mut left = 0;
        snap.scan(Cf::Default, b"", b"", &mut |_, _| {
            left += 1;
            true
        })
        .unwrap();
        assert_eq!(left, 0, "the big value went with its version");
        // A second pass finds nothing.
        let mut again = WriteBatch::default();
        assert_eq!(
            collect(&snap, &start, &end, 35, 1000, &mut again)
                .unwrap()
                .deleted,
            0
        );
    }

    #[test]
    fn a_pass_stops_between_keys_at_its_limit() {
        let e = MemEngine::new();
        let mut wb = WriteBatch::default();
        for key in [b"a", b"b", b"c"] {
            for t in 1..=5u64 {
                put(&mut wb, key, t * 10, t * 10 + 1, Op::Put, false);
            }
        }
        e.write(&wb, false).unwrap();
        let snap = e.snapshot();
        let (start, end) = encode_range(b"", b"");
        let mut gc = WriteBatch::default();
        let pass = collect(&snap, &start, &end, 100, 4, &mut gc).unwrap();
        assert_eq!(pass.deleted, 4);
        assert_eq!(pass.next, Some(encode_key(b"b")));
    }
}
