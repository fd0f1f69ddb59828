//! The RocksDB [`Engine`]: one database per store, one column family per [`Cf`].

use std::ffi::{c_char, c_void, CStr};
use std::path::Path;
use std::sync::Arc;

use librocksdb_sys as ffi;
use rocksdb::{AsColumnFamilyRef, AsRawPtr};

use rocksdb::{
    ColumnFamily, ColumnFamilyDescriptor, DBCompressionType, DBRecoveryMode, Options, ReadOptions,
    WriteOptions, DB,
};

use super::{Cf, Engine, EngineError, Result, Snapshot, WriteBatch, WriteOp};

/// A RocksDB database shared by every part of one store.
#[derive(Clone)]
pub struct RocksEngine {
    db: Arc<DB>,
}

fn io(e: rocksdb::Error) -> EngineError {
    let text = e.to_string();
    if text.contains("Corruption") {
        EngineError::Corruption(text)
    } else {
        EngineError::Io(text)
    }
}

fn cf_options() -> Options {
    let mut opts = Options::default();
    opts.set_compression_type(DBCompressionType::Lz4);
    opts
}

impl RocksEngine {
    /// Opens (creating if missing) the database under `path`.
    ///
    /// Corrupted or truncated files are reported as
    /// [`EngineError::Corruption`]; nothing is repaired or dropped silently.
    pub fn open(path: &Path) -> Result<Self> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_paranoid_checks(true);
        // A torn last record is what a crash in the middle of an unsynced
        // write leaves; corruption anywhere else is an error, never a
        // silent truncation of acknowledged Raft log entries.
        opts.set_wal_recovery_mode(DBRecoveryMode::TolerateCorruptedTailRecords);
        opts.increase_parallelism(2);
        opts.set_max_background_jobs(2);
        let cfs = Cf::ALL
            .iter()
            .map(|cf| ColumnFamilyDescriptor::new(cf.name(), cf_options()));
        let db = DB::open_cf_descriptors(&opts, path, cfs).map_err(io)?;
        Ok(RocksEngine { db: Arc::new(db) })
    }

    fn cf(&self, cf: Cf) -> &ColumnFamily {
        // Every Cf is created at open, so the handle always exists.
        self.db
            .cf_handle(cf.name())
            .expect("column family created at open")
    }

    /// Approximate bytes of `[start, end)` in `cf`, memtables included (the
    /// crate's own call counts only flushed files, so fresh data would
    /// weigh nothing).
    fn approximate_cf_size(&self, cf: Cf, start: &[u8], end: &[u8]) -> Result<u64> {
        const INCLUDE_MEMTABLES_AND_FILES: u8 = 0b11;
        let starts = [start.as_ptr() as *const c_char];
        let start_lens = [start.len()];
        let ends = [end.as_ptr() as *const c_char];
        let end_lens = [end.len()];
        let mut size: u64 = 0;
        let mut err: *mut c_char = std::ptr::null_mut();
        // SAFETY: the database and column family handles live as long as
        // `self.db`; the key arrays hold one (pointer, length) pair each
        // and outlive the call; `size` has room for the one result.
        unsafe {
            ffi::rocksdb_approximate_sizes_cf_with_flags(
                self.db.as_raw_ptr(),
                self.cf(cf).inner(),
                1,
                starts.as_ptr(),
                start_lens.as_ptr(),
                ends.as_ptr(),
                end_lens.as_ptr(),
                INCLUDE_MEMTABLES_AND_FILES,
                &mut size,
                &mut err,
            );
            if !err.is_null() {
                let msg = CStr::from_ptr(err).to_string_lossy().into_owned();
                ffi::rocksdb_free(err as *mut c_void);
                return Err(EngineError::Io(msg));
            }
        }
        Ok(size)
    }
}

fn read_options(start: &[u8], end: &[u8]) -> ReadOptions {
    let mut ro = ReadOptions::default();
    ro.set_iterate_lower_bound(start.to_vec());
    if !end.is_empty() {
        ro.set_iterate_upper_bound(end.to_vec());
    }
    ro
}

/// Visits `[start, end)` with an iterator made from `read_options` (whose
/// bounds keep it inside the range): in key order, or backwards from the
/// last key if `reverse`.
fn drive<'a>(
    start: &[u8],
    end: &[u8],
    reverse: bool,
    make: impl FnOnce(ReadOptions) -> rocksdb::DBRawIteratorWithThreadMode<'a, DB>,
    visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
) -> Result<()> {
    if !end.is_empty() && start >= end {
        return Ok(());
    }
    let mut it = make(read_options(start, end));
    if reverse {
        it.seek_to_last();
    } else {
        it.seek(start);
    }
    while it.valid() {
        let (Some(k), Some(v)) = (it.key(), it.value()) else {
            break;
        };
        if !visit(k, v) {
            return Ok(());
        }
        if reverse {
            it.prev();
        } else {
            it.next();
        }
    }
    it.status().map_err(io)
}

impl Engine for RocksEngine {
    type Snapshot = RocksSnapshot;

    fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.db.get_cf(self.cf(cf), key).map_err(io)
    }

    fn scan(
        &self,
        cf: Cf,
        start: &[u8],
        end: &[u8],
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        drive(
            start,
            end,
            false,
            |ro| self.db.raw_iterator_cf_opt(self.cf(cf), ro),
            visit,
        )
    }

    fn write(&self, batch: &WriteBatch, sync: bool) -> Result<()> {
        let mut wb = rocksdb::WriteBatch::default();
        for op in batch.ops() {
            match op {
                WriteOp::Put { cf, key, value } => wb.put_cf(self.cf(*cf), key, value),
                WriteOp::Delete { cf, key } => wb.delete_cf(self.cf(*cf), key),
                WriteOp::DeleteRange { cf, start, end } => {
                    if start < end {
                        wb.delete_range_cf(self.cf(*cf), start, end)
                    }
                }
            }
        }
        let mut wo = WriteOptions::default();
        wo.set_sync(sync);
        self.db.write_opt(wb, &wo).map_err(io)
    }

    fn snapshot(&self) -> RocksSnapshot {
        let db = self.db.clone();
        // SAFETY: the snapshot borrows the DB behind `db`, an Arc that the
        // RocksSnapshot owns and drops after the snapshot (field order), so
        // the borrow never outlives the database.
        let snap: rocksdb::Snapshot<'static> = unsafe { std::mem::transmute(db.snapshot()) };
        RocksSnapshot { snap, db }
    }

    fn approximate_size(&self, start: &[u8], end: &[u8]) -> Result<u64> {
        let upper = crate::keys::data_end(end);
        let mut total = 0;
        for cf in Cf::DATA {
            total += self.approximate_cf_size(cf, start, &upper)?;
        }
        Ok(total)
    }

    fn used_size(&self) -> Result<u64> {
        let mut total = 0;
        for cf in Cf::ALL {
            for prop in [
                "rocksdb.total-sst-files-size",
                "rocksdb.size-all-mem-tables",
            ] {
                total += self
                    .db
                    .property_int_value_cf(self.cf(cf), prop)
                    .map_err(io)?
                    .unwrap_or(0);
            }
        }
        Ok(total)
    }
}

/// A RocksDB snapshot that keeps its database alive.
pub struct RocksSnapshot {
    // Dropped before `db`: declared first.
    snap: rocksdb::Snapshot<'static>,
    db: Arc<DB>,
}

impl RocksSnapshot {
    fn cf(&self, cf: Cf) -> &ColumnFamily {
        self.db
            .cf_handle(cf.name())
            .expect("column family created at open")
    }
}

impl Snapshot for RocksSnapshot {
    fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.snap.get_cf(self.cf(cf), key).map_err(io)
    }

    fn scan(
        &self,
        cf: Cf,
        start: &[u8],
        end: &[u8],
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        drive(
            start,
            end,
            false,
            |ro| self.snap.raw_iterator_cf_opt(self.cf(cf), ro),
            visit,
        )
    }

    fn scan_rev(
        &self,
        cf: Cf,
        start: &[u8],
        end: &[u8],
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        drive(
            start,
            end,
            true,
            |ro| self.snap.raw_iterator_cf_opt(self.cf(cf), ro),
            visit,
        )
    }
}
