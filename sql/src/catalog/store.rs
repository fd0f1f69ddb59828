//! Where the catalog lives in the key space, and reading and writing it
//! inside transactions.
//!
//! Every catalog key starts with `m` (table data starts with `t`):
//!
//! | key                     | value                                    |
//! |-------------------------|------------------------------------------|
//! | `m` `v`                 | catalog version, u64 big-endian          |
//! | `m` `i`                 | next object id, u32 big-endian           |
//! | `m` `d` id:u32be        | [`TableDesc`] (JSON): table, view, sequence |
//! | `m` `s` name            | [`SchemaDesc`] (JSON)                    |
//! | `m` `u` name            | [`UserDesc`] (JSON)                      |
//! | `m` `q` id:u32be        | a sequence's state: last value, i64 big-endian, then 1 byte: 1 if it was handed out (PostgreSQL's `last_value`, `is_called`) |
//! | `m` `r` id:u32be        | a table's hidden row id counter (`exec::blocks`) |
//!
//! A sequence's state key is absent until its first `nextval`/`setval`
//! (absent: `START`, not yet handed out). It is written only by those
//! functions, each in a short transaction of its own (sequences are not
//! transactional), never by DDL: a block that creates a sequence and calls
//! `nextval` on it must not conflict with itself at COMMIT. It outlives a
//! dropped sequence, like a dropped table's rows: ids are never reused.
//!
//! DDL writes these keys in the session's transaction, so it commits or
//! rolls back with it, and bumps the version key: two DDLs that run at the
//! same time conflict on it and one of them is retried or fails (40001).

use std::sync::Arc;

use client::{BufferedTxn, TxnReader};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{Catalog, SchemaDesc, TableDesc, UserDesc, FIRST_USER_ID, PUBLIC_SCHEMA_ID};
use crate::error::{Error, Result};

const VERSION_KEY: &[u8] = b"mv";
const NEXT_ID_KEY: &[u8] = b"mi";
const TABLE_PREFIX: &[u8] = b"md";
const SCHEMA_PREFIX: &[u8] = b"ms";
const USER_PREFIX: &[u8] = b"mu";
const SEQUENCE_PREFIX: &[u8] = b"mq";

/// Start and end of every catalog key.
const META_RANGE: (&[u8], &[u8]) = (b"m", b"n");

fn with_id(prefix: &[u8], id: u32) -> Vec<u8> {
    let mut k = prefix.to_vec();
    k.extend_from_slice(&id.to_be_bytes());
    k
}

fn with_name(prefix: &[u8], name: &str) -> Vec<u8> {
    let mut k = prefix.to_vec();
    k.extend_from_slice(name.as_bytes());
    k
}

/// Key of a sequence's state (see the table above).
pub fn sequence_key(id: u32) -> Vec<u8> {
    with_id(SEQUENCE_PREFIX, id)
}

fn decode<T: DeserializeOwned>(key: &[u8], value: &[u8]) -> Result<T> {
    serde_json::from_slice(value).map_err(|e| {
        Error::internal(format!(
            "corrupted catalog entry {}: {e}",
            String::from_utf8_lossy(key)
        ))
    })
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| Error::internal(format!("catalog encoding: {e}")))
}

fn be_u64(v: &[u8]) -> Result<u64> {
    Ok(u64::from_be_bytes(v.try_into().map_err(|_| {
        Error::internal("corrupted catalog version")
    })?))
}

/// The catalog version as `reader` sees it (0: never bootstrapped).
pub async fn read_version(reader: &TxnReader) -> Result<u64> {
    match reader.get(VERSION_KEY).await? {
        Some(v) => be_u64(&v),
        None => Ok(0),
    }
}

/// Every descriptor as `reader` sees it.
pub async fn load(reader: &TxnReader) -> Result<Catalog> {
    let mut cat = Catalog::default();
    let (mut from, end) = (META_RANGE.0.to_vec(), META_RANGE.1);
    loop {
        let page = reader.scan(&from, end, 0, 0).await?;
        for p in page.pairs {
            let (k, v) = (p.key.as_slice(), p.value.as_slice());
            if k == VERSION_KEY {
                cat.version = be_u64(v)?;
            } else if k.starts_with(TABLE_PREFIX) {
                let t: TableDesc = decode(k, v)?;
                cat.tables.insert(t.id, Arc::new(t));
            } else if k.starts_with(SCHEMA_PREFIX) {
                let s: SchemaDesc = decode(k, v)?;
                cat.schemas.insert(s.name.clone(), s);
            } else if k.starts_with(USER_PREFIX) {
                let u: UserDesc = decode(k, v)?;
                cat.users.insert(u.name.clone(), u);
            }
        }
        match page.resume {
            Some(next) => from = next,
            None => return Ok(cat),
        }
    }
}

/// The user `name` as `reader` sees it (read from its key, not from a
/// cached catalog: user DDL checks what its own transaction sees).
pub async fn get_user(reader: &TxnReader, name: &str) -> Result<Option<UserDesc>> {
    let key = with_name(USER_PREFIX, name);
    match reader.get(&key).await? {
        Some(v) => Ok(Some(decode(&key, &v)?)),
        None => Ok(None),
    }
}

/// Gives user `name` the SCRAM verifier `verifier` if it has none yet
/// (the bootstrap superuser's first password, `--initial-password`);
/// says whether it did. Retried on conflict, like [`bootstrap`].
pub async fn set_initial_password(
    kv: client::SharedKv,
    name: &str,
    verifier: &str,
) -> Result<bool> {
    for _ in 0..10 {
        let mut txn = BufferedTxn::begin(kv.clone(), client::DEFAULT_TXN_SIZE_LIMIT).await?;
        let Some(mut user) = get_user(&txn.reader(), name).await? else {
            return Err(Error::new(
                crate::error::code::UNDEFINED_OBJECT,
                format!("role \"{name}\" does not exist"),
            ));
        };
        if user.scram_verifier.is_some() {
            return Ok(false);
        }
        user.scram_verifier = Some(verifier.to_string());
        let mut w = CatalogWriter::new(&mut txn);
        w.put_user(&user)?;
        w.bump_version().await?;
        match txn.commit().await {
            Ok(_) => return Ok(true),
            Err(client::Error::TxnConflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::new(
        crate::error::code::SERIALIZATION_FAILURE,
        "could not set the initial password: the catalog kept changing",
    ))
}

/// Catalog writes inside one transaction.
pub struct CatalogWriter<'a> {
    txn: &'a mut BufferedTxn,
}

impl<'a> CatalogWriter<'a> {
    /// Writes through `txn`.
    pub fn new(txn: &'a mut BufferedTxn) -> Self {
        CatalogWriter { txn }
    }

    /// Bumps the catalog version (every DDL does, once per statement).
    pub async fn bump_version(&mut self) -> Result<u64> {
        let v = read_version(&self.txn.reader()).await? + 1;
        self.txn
            .put(VERSION_KEY.to_vec(), v.to_be_bytes().to_vec())?;
        Ok(v)
    }

    /// A new object id.
    pub async fn allocate_id(&mut self) -> Result<u32> {
        let id = match self.txn.reader().get(NEXT_ID_KEY).await? {
            Some(v) => u32::from_be_bytes(
                v.as_slice()
                    .try_into()
                    .map_err(|_| Error::internal("corrupted id counter"))?,
            ),
            None => FIRST_USER_ID,
        };
        let next = id
            .checked_add(1)
            .ok_or_else(|| Error::internal("object ids exhausted"))?;
        self.txn
            .put(NEXT_ID_KEY.to_vec(), next.to_be_bytes().to_vec())?;
        Ok(id)
    }

    /// Writes (creates or replaces) a table, view or sequence.
    pub fn put_table(&mut self, t: &TableDesc) -> Result<()> {
        self.txn.put(with_id(TABLE_PREFIX, t.id), encode(t)?)?;
        Ok(())
    }

    /// Removes a table, view or sequence descriptor.
    pub fn delete_table(&mut self, id: u32) -> Result<()> {
        self.txn.delete(with_id(TABLE_PREFIX, id))?;
        Ok(())
    }

    /// Writes a schema.
    pub fn put_schema(&mut self, s: &SchemaDesc) -> Result<()> {
        self.txn
            .put(with_name(SCHEMA_PREFIX, &s.name), encode(s)?)?;
        Ok(())
    }

    /// Removes a schema.
    pub fn delete_schema(&mut self, name: &str) -> Result<()> {
        self.txn.delete(with_name(SCHEMA_PREFIX, name))?;
        Ok(())
    }

    /// Writes a user.
    pub fn put_user(&mut self, u: &UserDesc) -> Result<()> {
        self.txn.put(with_name(USER_PREFIX, &u.name), encode(u)?)?;
        Ok(())
    }

    /// Removes a user.
    pub fn delete_user(&mut self, name: &str) -> Result<()> {
        self.txn.delete(with_name(USER_PREFIX, name))?;
        Ok(())
    }

    /// The transaction written through.
    pub fn txn(&mut self) -> &mut BufferedTxn {
        self.txn
    }
}

/// Creates the `public` schema and the first user the first time any SQL
/// node starts on a cluster (several starting at once: one wins, the
/// others find it done).
pub async fn bootstrap(kv: client::SharedKv, superuser: &str) -> Result<()> {
    for _ in 0..10 {
        let mut txn = BufferedTxn::begin(kv.clone(), client::DEFAULT_TXN_SIZE_LIMIT).await?;
        if read_version(&txn.reader()).await? != 0 {
            return Ok(());
        }
        let mut w = CatalogWriter::new(&mut txn);
        w.put_schema(&SchemaDesc {
            id: PUBLIC_SCHEMA_ID,
            name: super::DEFAULT_SCHEMA.to_string(),
        })?;
        w.put_user(&UserDesc {
            id: 10,
            name: superuser.to_string(),
            scram_verifier: None,
            superuser: true,
            login: true,
        })?;
        w.bump_version().await?;
        match txn.commit().await {
            Ok(_) => return Ok(()),
            Err(client::Error::TxnConflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::internal("could not bootstrap the catalog"))
}
