//! A sequence's state in the KV store, and the runs of values a SQL node
//! takes from it and hands out from memory.
//!
//! The state is PostgreSQL's pair (`last_value`, `is_called`) under
//! `catalog::store::sequence_key` (absent: `START`, not called). The next
//! value is `last_value` when not called, else `last_value + INCREMENT`,
//! wrapping to MINVALUE (MAXVALUE for a negative increment) with CYCLE and
//! failing with 2200H without.
//!
//! A node takes a *run* of up to `max(CACHE, RUN)` consecutive values in a
//! short transaction of its own and hands them out from memory to all its
//! sessions: values are unique across nodes and increase within a node
//! (until a cycle wraps); a restart loses the rest of a run. That is
//! PostgreSQL's "gaps allowed" with a cache, made per node. `setval`
//! writes the state and drops this node's run; other nodes finish the runs
//! they hold first (as other sessions' caches do in PostgreSQL).

use std::collections::HashMap;
use std::sync::Arc;

use client::{BufferedTxn, SharedKv};
use parking_lot::Mutex;

use crate::catalog::desc::{ObjectKind, SequenceDesc};
use crate::catalog::store::sequence_key;
use crate::catalog::TableDesc;
use crate::error::{code, Error, Result};

/// Values a node takes at once at least (more if the sequence's CACHE
/// says so): few KV transactions for a SERIAL column, small gaps.
pub const RUN: i64 = 100;

/// PostgreSQL's state of a sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeqState {
    /// The last value handed out (or the first to hand out, when not
    /// `called`).
    pub last: i64,
    /// Whether `last` was handed out.
    pub called: bool,
}

impl SeqState {
    /// The state of a sequence nobody took a value of yet.
    pub fn initial(desc: &SequenceDesc) -> SeqState {
        SeqState {
            last: desc.start,
            called: false,
        }
    }

    /// The stored form: `last` big-endian, then 1 if called.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = self.last.to_be_bytes().to_vec();
        v.push(u8::from(self.called));
        v
    }

    /// Reads the stored form.
    pub fn decode(v: &[u8]) -> Result<SeqState> {
        match v {
            [last @ .., called] if last.len() == 8 => {
                let mut b = [0u8; 8];
                b.copy_from_slice(last);
                Ok(SeqState {
                    last: i64::from_be_bytes(b),
                    called: *called != 0,
                })
            }
            _ => Err(Error::internal("corrupted sequence state")),
        }
    }
}

/// Values held in memory: `next`, `next + increment`, … (`left` of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    /// The next value to hand out.
    pub next: i64,
    /// How many are left (the last one within the sequence's bounds).
    pub left: u64,
}

impl Run {
    /// Hands out the next value, if any is left.
    pub fn take(&mut self, increment: i64) -> Option<i64> {
        if self.left == 0 {
            return None;
        }
        let v = self.next;
        self.left -= 1;
        if self.left > 0 {
            // Within the bounds, so no overflow: the run was cut at them.
            self.next = self.next.checked_add(increment)?;
        }
        Some(v)
    }
}

/// Up to `n` values that follow `state` in sequence `name` (at least
/// one), and the state once they are handed out.
pub fn plan_run(
    name: &str,
    desc: &SequenceDesc,
    state: SeqState,
    n: u64,
) -> Result<(Run, SeqState)> {
    let inc = i128::from(desc.increment);
    let (min, max) = (i128::from(desc.min), i128::from(desc.max));
    let first = if !state.called {
        i128::from(state.last)
    } else {
        let next = i128::from(state.last) + inc;
        if next > max {
            if !desc.cycle {
                return Err(Error::new(
                    code::SEQUENCE_LIMIT,
                    format!(
                        "nextval: reached maximum value of sequence \"{name}\" ({})",
                        desc.max
                    ),
                ));
            }
            min
        } else if next < min {
            if !desc.cycle {
                return Err(Error::new(
                    code::SEQUENCE_LIMIT,
                    format!(
                        "nextval: reached minimum value of sequence \"{name}\" ({})",
                        desc.min
                    ),
                ));
            }
            max
        } else {
            next
        }
    };
    // Values from `first` to the bound the increment heads for.
    let room = if inc > 0 {
        (max - first) / inc + 1
    } else {
        (first - min) / -inc + 1
    };
    let count = room.clamp(1, i128::from(n.max(1)));
    let last = first + (count - 1) * inc;
    let as_i64 =
        |v: i128| i64::try_from(v).map_err(|_| Error::internal("sequence value out of range"));
    Ok((
        Run {
            next: as_i64(first)?,
            left: count as u64,
        },
        SeqState {
            last: as_i64(last)?,
            called: true,
        },
    ))
}

/// The parameters of `seq`, or 42809 when it is not a sequence.
pub fn params(seq: &TableDesc) -> Result<&SequenceDesc> {
    match &seq.kind {
        ObjectKind::Sequence(d) => Ok(d),
        _ => Err(Error::new(
            code::WRONG_OBJECT_TYPE,
            format!("\"{}\" is not a sequence", seq.name),
        )),
    }
}

/// How often a short transaction is retried after a conflict.
const ATTEMPTS: usize = 20;

/// Commits a short transaction of its own: `false` on a conflict (the
/// caller retries from the start).
async fn committed(txn: BufferedTxn) -> Result<bool> {
    match txn.commit().await {
        Ok(_) => Ok(true),
        Err(client::Error::TxnConflict(_)) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

fn contention() -> Error {
    Error::new(
        code::SERIALIZATION_FAILURE,
        "could not allocate sequence values: too much contention",
    )
}

/// Takes a run of values of `seq` from the store, in a short transaction
/// of its own.
pub async fn take_run(kv: &SharedKv, seq: &TableDesc) -> Result<Run> {
    let desc = params(seq)?;
    let n = desc.cache.max(RUN) as u64;
    let key = sequence_key(seq.id);
    for _ in 0..ATTEMPTS {
        let mut txn = BufferedTxn::begin(kv.clone(), client::DEFAULT_TXN_SIZE_LIMIT).await?;
        let state = match txn.reader().get(&key).await? {
            Some(v) => SeqState::decode(&v)?,
            None => SeqState::initial(desc),
        };
        let (run, after) = plan_run(&seq.name, desc, state, n)?;
        txn.put(key.clone(), after.encode())?;
        if committed(txn).await? {
            return Ok(run);
        }
    }
    Err(contention())
}

/// Writes the state of `seq` (what `setval` does), checking the bounds,
/// in a short transaction of its own.
pub async fn write_state(kv: &SharedKv, seq: &TableDesc, state: SeqState) -> Result<()> {
    let desc = params(seq)?;
    if state.last < desc.min || state.last > desc.max {
        return Err(Error::new(
            code::NUMERIC_VALUE_OUT_OF_RANGE,
            format!(
                "setval: value {} is out of bounds for sequence \"{}\" ({}..{})",
                state.last, seq.name, desc.min, desc.max
            ),
        ));
    }
    for _ in 0..ATTEMPTS {
        let mut txn = BufferedTxn::begin(kv.clone(), client::DEFAULT_TXN_SIZE_LIMIT).await?;
        txn.put(sequence_key(seq.id), state.encode())?;
        if committed(txn).await? {
            return Ok(());
        }
    }
    Err(contention())
}

/// The runs of sequence values a node holds, by sequence id. Clones share
/// them (one per node, inside `exec::blocks::Blocks`).
#[derive(Default, Clone)]
pub struct SequenceBlocks {
    runs: Arc<Mutex<HashMap<u32, Run>>>,
    /// Held while a run is taken: sessions that find the run used up
    /// together wait for one to refill it, instead of each taking a run
    /// and all but one being dropped (gaps of a run per session).
    refilling: Arc<tokio::sync::Mutex<()>>,
}

impl SequenceBlocks {
    /// The next value of the run held for `seq`, without I/O; `None` when
    /// a run must be taken first ([`SequenceBlocks::refill`]).
    pub fn try_next(&self, seq: &TableDesc) -> Result<Option<i64>> {
        let inc = params(seq)?.increment;
        Ok(self.runs.lock().get_mut(&seq.id).and_then(|r| r.take(inc)))
    }

    /// Takes a run for `seq` and holds it, unless another session of this
    /// node refilled it while this one waited its turn.
    pub async fn refill(&self, kv: &SharedKv, seq: &TableDesc) -> Result<()> {
        let _refilling = self.refilling.lock().await;
        if self.runs.lock().get(&seq.id).is_some_and(|r| r.left > 0) {
            return Ok(());
        }
        let run = take_run(kv, seq).await?;
        self.runs.lock().insert(seq.id, run);
        Ok(())
    }

    /// The next value of `seq` (`nextval`).
    pub async fn next(&self, kv: &SharedKv, seq: &TableDesc) -> Result<i64> {
        loop {
            if let Some(v) = self.try_next(seq)? {
                return Ok(v);
            }
            self.refill(kv, seq).await?;
        }
    }

    /// `setval`: writes the state and drops this node's run.
    pub async fn set(
        &self,
        kv: &SharedKv,
        seq: &TableDesc,
        value: i64,
        called: bool,
    ) -> Result<()> {
        write_state(
            kv,
            seq,
            SeqState {
                last: value,
                called,
            },
        )
        .await?;
        self.runs.lock().remove(&seq.id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::SqlType;

    fn seq(start: i64, increment: i64, min: i64, max: i64, cycle: bool) -> SequenceDesc {
        SequenceDesc {
            ty: SqlType::Int8,
            start,
            increment,
            min,
            max,
            cycle,
            cache: 1,
            owned_by: None,
        }
    }

    /// Every value `n` runs of size `size` hand out, or the first error.
    fn values(d: &SequenceDesc, size: u64, n: usize) -> std::result::Result<Vec<i64>, String> {
        let mut state = SeqState::initial(d);
        let mut out = Vec::new();
        while out.len() < n {
            let (mut run, after) = plan_run("s", d, state, size).map_err(|e| e.message)?;
            state = after;
            while let Some(v) = run.take(d.increment) {
                out.push(v);
            }
        }
        out.truncate(n);
        Ok(out)
    }

    #[test]
    fn runs_of_any_size_give_the_same_values() {
        for size in [1, 2, 3, 100] {
            assert_eq!(
                values(&seq(1, 1, 1, i64::MAX, false), size, 4),
                Ok(vec![1, 2, 3, 4])
            );
            assert_eq!(
                values(&seq(5, 1, 1, 6, true), size, 5),
                Ok(vec![5, 6, 1, 2, 3])
            );
            assert_eq!(
                values(&seq(-1, -3, -7, -1, true), size, 7),
                Ok(vec![-1, -4, -7, -1, -4, -7, -1])
            );
        }
    }

    #[test]
    fn exhaustion_is_2200h_at_the_right_value() {
        assert_eq!(
            values(&seq(1, 1, 1, 3, false), 100, 4),
            Err("nextval: reached maximum value of sequence \"s\" (3)".into())
        );
        assert_eq!(
            values(&seq(-1, -2, -5, -1, false), 100, 4),
            Err("nextval: reached minimum value of sequence \"s\" (-5)".into())
        );
        // Near the ends of i64: no overflow.
        assert_eq!(
            values(&seq(i64::MAX - 1, 1, 1, i64::MAX, false), 100, 2),
            Ok(vec![i64::MAX - 1, i64::MAX])
        );
        assert!(values(&seq(1, i64::MAX, 1, i64::MAX, false), 100, 2).is_err());
    }

    #[test]
    fn state_round_trips_and_setval_semantics_hold() {
        let s = SeqState {
            last: -42,
            called: true,
        };
        assert_eq!(SeqState::decode(&s.encode()), Ok(s));
        assert!(SeqState::decode(b"short").is_err());
        let d = seq(1, 1, 1, 100, false);
        // setval(s, 10, false): the next value is 10; with true, 11.
        let (mut r, _) = plan_run(
            "s",
            &d,
            SeqState {
                last: 10,
                called: false,
            },
            5,
        )
        .unwrap();
        assert_eq!(r.take(1), Some(10));
        let (mut r, _) = plan_run(
            "s",
            &d,
            SeqState {
                last: 10,
                called: true,
            },
            5,
        )
        .unwrap();
        assert_eq!(r.take(1), Some(11));
    }

    #[tokio::test]
    async fn nodes_share_a_sequence_without_duplicates() {
        let kv: SharedKv = Arc::new(kv::local::LocalTxnKv::new());
        let t = TableDesc {
            id: 7,
            schema_id: 1,
            name: "s".into(),
            kind: ObjectKind::Sequence(seq(1, 1, 1, i64::MAX, false)),
            columns: Vec::new(),
            next_column_id: 1,
            primary: crate::catalog::IndexDesc::new(1, String::new(), Vec::new(), true),
            indexes: Vec::new(),
            next_index_id: 2,
            constraints: Vec::new(),
            version: 1,
            buckets: 0,
        };
        let (a, b) = (SequenceBlocks::default(), SequenceBlocks::default());
        let mut seen = std::collections::HashSet::new();
        let mut last = 0;
        for _ in 0..250 {
            let v = a.next(&kv, &t).await.unwrap();
            assert!(v > last);
            last = v;
            assert!(seen.insert(v));
            assert!(seen.insert(b.next(&kv, &t).await.unwrap()));
        }
        a.set(&kv, &t, 5000, true).await.unwrap();
        assert_eq!(a.next(&kv, &t).await.unwrap(), 5001);
    }
}
