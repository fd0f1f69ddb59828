//! Where the GC safe point may go, and when.
//!
//! Removing versions below a safe point S is safe only when
//! - no reader still reads below S: the safe point trails now by the GC
//!   life time, and clients with older transactions still running
//!   register *service safe points* that hold it back;
//! - no lock that started below S is left anywhere: GC may remove a
//!   primary key's commit record once newer versions hide it, and a lock
//!   left on a secondary key would then find no evidence that its
//!   transaction committed, and be rolled back.
//!
//! So PD first publishes a *target* (what the safe point would be), every
//! Region's leader resolves the Region's locks older than the target and
//! reports the timestamp it resolved up to, and the safe point moves to the
//! lowest such report (never past the target, never back).

use std::collections::HashMap;

use protocol::pdpb::ServiceSafePoint;

use crate::tso::LOGICAL_BITS;

/// After PD starts, the target stays put this long, so that clients
/// re-register the service safe points a restart forgot.
pub const SERVICE_GRACE_MS: u64 = 3_000;

/// Longest TTL a service safe point may ask for.
pub const MAX_SERVICE_TTL_SECS: u64 = 24 * 3600;

/// A registered service safe point.
#[derive(Debug, Clone, Copy)]
struct Service {
    safe_point: u64,
    expires_ms: u64,
}

/// PD's soft GC state: service safe points and per-Region lock resolution
/// reports (both rebuilt from clients and heartbeats after a restart).
#[derive(Debug, Default)]
pub struct GcTracker {
    services: HashMap<String, Service>,
    locks_resolved: HashMap<u64, u64>,
}

impl GcTracker {
    /// Registers, refreshes or (with `ttl_ms` 0) removes a service safe point.
    pub fn update_service(&mut self, id: &str, safe_point: u64, ttl_ms: u64, now_ms: u64) {
        if ttl_ms == 0 {
            self.services.remove(id);
        } else {
            let expires_ms = now_ms.saturating_add(ttl_ms);
            self.services.insert(
                id.to_string(),
                Service {
                    safe_point,
                    expires_ms,
                },
            );
        }
    }

    /// The live service safe points, lowest first.
    pub fn services(&mut self, now_ms: u64) -> Vec<ServiceSafePoint> {
        self.services.retain(|_, s| s.expires_ms > now_ms);
        let mut out: Vec<_> = self
            .services
            .iter()
            .map(|(id, s)| ServiceSafePoint {
                service_id: id.clone(),
                safe_point: s.safe_point,
                expires_in_ms: s.expires_ms - now_ms,
            })
            .collect();
        out.sort_by_key(|s| s.safe_point);
        out
    }

    /// What the safe point would be at `now_ms`: `life_time_ms` ago, held
    /// back by live service safe points, and never below `floor` (the
    /// current safe point).
    pub fn target(&mut self, life_time_ms: u64, now_ms: u64, floor: u64) -> u64 {
        let by_life_time = now_ms.saturating_sub(life_time_ms) << LOGICAL_BITS;
        let by_services = self
            .services(now_ms)
            .first()
            .map_or(u64::MAX, |s| s.safe_point);
        by_life_time.min(by_services).max(floor)
    }

    /// Takes a leader's report that the Region has no lock older than `ts`.
    pub fn region_locks_resolved(&mut self, region_id: u64, ts: u64) {
        let e = self.locks_resolved.entry(region_id).or_default();
        *e = (*e).max(ts);
    }

    /// A split's new Regions inherit the report of the Region they came
    /// from (the one among `region_ids` that PD already knows about).
    pub fn split(&mut self, region_ids: &[u64]) {
        let parent = region_ids
            .iter()
            .filter_map(|id| self.locks_resolved.get(id))
            .max()
            .copied();
        if let Some(ts) = parent {
            for id in region_ids {
                self.locks_resolved.entry(*id).or_insert(ts);
            }
        }
    }

    /// The timestamp below which no lock is left in any of `regions`
    /// (`u64::MAX` for none; 0 if one of them has not reported).
    pub fn locks_resolved_in(&self, regions: impl IntoIterator<Item = u64>) -> u64 {
        regions
            .into_iter()
            .map(|id| self.locks_resolved.get(&id).copied().unwrap_or(0))
            .min()
            .unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(ms: u64) -> u64 {
        ms << LOGICAL_BITS
    }

    #[test]
    fn services_hold_the_target_back_until_they_expire_or_leave() {
        let mut gc = GcTracker::default();
        assert_eq!(gc.target(1_000, 10_000, 0), ts(9_000));
        gc.update_service("a", ts(5_000), 2_000, 10_000);
        gc.update_service("b", ts(7_000), 60_000, 10_000);
        assert_eq!(gc.target(1_000, 11_000, 0), ts(5_000));
        // "a" expired: "b" holds.
        assert_eq!(gc.target(1_000, 12_500, 0), ts(7_000));
        gc.update_service("b", 0, 0, 13_000);
        assert_eq!(gc.target(1_000, 13_000, 0), ts(12_000));
        // Never below the current safe point.
        gc.update_service("c", ts(1), 60_000, 13_000);
        assert_eq!(gc.target(1_000, 13_000, ts(12_000)), ts(12_000));
        assert_eq!(gc.services(13_000).len(), 1);
    }

    #[test]
    fn every_region_must_report_and_splits_inherit() {
        let mut gc = GcTracker::default();
        assert_eq!(gc.locks_resolved_in([]), u64::MAX);
        gc.region_locks_resolved(1, 50);
        assert_eq!(gc.locks_resolved_in([1, 2]), 0);
        gc.region_locks_resolved(2, 40);
        assert_eq!(gc.locks_resolved_in([1, 2]), 40);
        // A new leader that has not resolved anything reports 0.
        gc.region_locks_resolved(1, 0);
        assert_eq!(gc.locks_resolved_in([1]), 50);
        gc.split(&[1, 3, 4]);
        assert_eq!(gc.locks_resolved_in([1, 3, 4]), 50);
    }
}
