//! Constructors for the typed routing errors of `errorpb`.

use protocol::errorpb::{self, region_error::Kind, RegionError};
use protocol::metapb;

fn err(message: String, kind: Kind) -> RegionError {
    RegionError {
        message,
        kind: Some(kind),
    }
}

/// This peer is not the leader; `leader` is the leader when known.
pub fn not_leader(region_id: u64, leader: Option<metapb::Peer>) -> RegionError {
    err(
        format!("peer of region {region_id} is not leader"),
        Kind::NotLeader(errorpb::NotLeader { region_id, leader }),
    )
}

/// The request's epoch is stale; `current` is the Region as it is now.
pub fn epoch_not_match(current: Vec<metapb::Region>) -> RegionError {
    err(
        "region epoch not match".into(),
        Kind::EpochNotMatch(errorpb::EpochNotMatch {
            current_regions: current,
        }),
    )
}

/// The store has no peer of `region_id`.
pub fn region_not_found(region_id: u64) -> RegionError {
    err(
        format!("region {region_id} not found"),
        Kind::RegionNotFound(errorpb::RegionNotFound { region_id }),
    )
}

/// `key` is outside `region`.
pub fn key_not_in_region(key: &[u8], region: &metapb::Region) -> RegionError {
    err(
        format!(
            "key {} not in region {}",
            crate::keys::fmt_key(key),
            region.id
        ),
        Kind::KeyNotInRegion(errorpb::KeyNotInRegion {
            key: key.to_vec(),
            region_id: region.id,
            start_key: region.start_key.clone(),
            end_key: region.end_key.clone(),
        }),
    )
}

/// The command was dropped before it committed; it never took effect.
pub fn stale_command() -> RegionError {
    err(
        "stale command".into(),
        Kind::StaleCommand(errorpb::StaleCommand {}),
    )
}

/// The store cannot take the request now.
pub fn server_is_busy(reason: impl Into<String>) -> RegionError {
    let reason = reason.into();
    err(
        reason.clone(),
        Kind::ServerIsBusy(errorpb::ServerIsBusy { reason }),
    )
}

/// Whether `a` and `b` are the same epoch.
pub fn same_epoch(a: Option<&metapb::RegionEpoch>, b: Option<&metapb::RegionEpoch>) -> bool {
    let a = a.cloned().unwrap_or_default();
    let b = b.cloned().unwrap_or_default();
    a.conf_ver == b.conf_ver && a.version == b.version
}
