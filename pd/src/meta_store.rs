//! Where PD keeps its durable state.
//!
//! [`FileMetaStore`] writes the whole [`PersistedState`] as one file:
//!
//! | bytes | content                                  |
//! |-------|------------------------------------------|
//! | 8     | magic `STRATAPD`                         |
//! | 4     | CRC-32 of the payload, little endian     |
//! | 8     | payload length, little endian            |
//! | n     | `PersistedState`, protobuf               |
//!
//! A save writes a temporary file, syncs it and renames it over the old one,
//! so a crash leaves either the old or the new state, never a mix. A file
//! that fails its checksum or length check is refused with an error; PD
//! never starts from a state it cannot trust.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use prost::Message as _;
use protocol::pdpb::PersistedState;

use crate::error::{PdError, Result};

const MAGIC: &[u8; 8] = b"STRATAPD";
const FILE_NAME: &str = "pd.state";

/// Durable storage for PD's state.
pub trait MetaStore: Send + 'static {
    /// The last saved state, or `None` for a new PD.
    fn load(&self) -> Result<Option<PersistedState>>;
    /// Saves `state` durably before returning.
    fn save(&mut self, state: &PersistedState) -> Result<()>;
}

/// PD state in one file under the data directory.
pub struct FileMetaStore {
    dir: PathBuf,
}

impl FileMetaStore {
    /// A store under `dir`, created if missing.
    pub fn open(dir: &Path) -> Result<Self> {
        fs::create_dir_all(dir)
            .map_err(|e| PdError::Storage(format!("cannot create {}: {e}", dir.display())))?;
        Ok(FileMetaStore {
            dir: dir.to_path_buf(),
        })
    }

    fn path(&self) -> PathBuf {
        self.dir.join(FILE_NAME)
    }
}

fn storage_err(path: &Path, e: impl std::fmt::Display) -> PdError {
    PdError::Storage(format!("{}: {e}", path.display()))
}

/// Decodes a state file, checking magic, length and checksum.
fn decode(path: &Path, bytes: &[u8]) -> Result<PersistedState> {
    let corrupt = |why: &str| storage_err(path, format!("corrupted PD state file ({why})"));
    if bytes.len() < 20 || &bytes[..8] != MAGIC {
        return Err(corrupt("bad header"));
    }
    let crc = u32::from_le_bytes(bytes[8..12].try_into().map_err(|_| corrupt("bad header"))?);
    let len = u64::from_le_bytes(
        bytes[12..20]
            .try_into()
            .map_err(|_| corrupt("bad header"))?,
    );
    let payload = &bytes[20..];
    if payload.len() as u64 != len {
        return Err(corrupt("truncated"));
    }
    if crc32fast::hash(payload) != crc {
        return Err(corrupt("checksum mismatch"));
    }
    PersistedState::decode(payload).map_err(|e| corrupt(&e.to_string()))
}

fn encode(state: &PersistedState) -> Vec<u8> {
    let payload = state.encode_to_vec();
    let mut out = Vec::with_capacity(payload.len() + 20);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

impl MetaStore for FileMetaStore {
    fn load(&self) -> Result<Option<PersistedState>> {
        let path = self.path();
        match fs::read(&path) {
            Ok(bytes) => decode(&path, &bytes).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(storage_err(&path, e)),
        }
    }

    fn save(&mut self, state: &PersistedState) -> Result<()> {
        let path = self.path();
        let tmp = self.dir.join(format!("{FILE_NAME}.tmp"));
        let mut f = fs::File::create(&tmp).map_err(|e| storage_err(&tmp, e))?;
        f.write_all(&encode(state))
            .map_err(|e| storage_err(&tmp, e))?;
        f.sync_all().map_err(|e| storage_err(&tmp, e))?;
        fs::rename(&tmp, &path).map_err(|e| storage_err(&path, e))?;
        // Make the rename itself durable.
        fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| storage_err(&self.dir, e))?;
        Ok(())
    }
}

/// PD state in memory, for tests and the simulation.
#[derive(Default)]
pub struct MemMetaStore {
    state: Option<PersistedState>,
}

impl MetaStore for MemMetaStore {
    fn load(&self) -> Result<Option<PersistedState>> {
        Ok(self.state.clone())
    }

    fn save(&mut self, state: &PersistedState) -> Result<()> {
        self.state = Some(state.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_and_loads() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = FileMetaStore::open(dir.path()).unwrap();
        assert!(s.load().unwrap().is_none());
        let st = PersistedState {
            cluster_id: 7,
            id_limit: 1000,
            ..Default::default()
        };
        s.save(&st).unwrap();
        assert_eq!(
            FileMetaStore::open(dir.path()).unwrap().load().unwrap(),
            Some(st)
        );
    }

    #[test]
    fn refuses_corrupted_and_truncated_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = FileMetaStore::open(dir.path()).unwrap();
        s.save(&PersistedState {
            cluster_id: 7,
            ..Default::default()
        })
        .unwrap();
        let path = dir.path().join(FILE_NAME);
        let mut bytes = fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        fs::write(&path, &bytes).unwrap();
        let err = s.load().unwrap_err().to_string();
        assert!(err.contains("checksum"), "{err}");
        fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
        let err = s.load().unwrap_err().to_string();
        assert!(err.contains("truncated"), "{err}");
    }
}
