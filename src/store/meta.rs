//! Per-key provenance metadata, stored in every key's entry file beside the value.
//!
//! All fields are optional and serialised by name (a msgpack map), so fields can be added in
//! later versions and older readers ignore what they do not know.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

/// Provenance of one stored key (spec 06 §6.4, typed).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Metadata {
    /// When the key was first written, RFC 3339 UTC (`2026-11-27T10:33:11Z`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// When rows were last appended (tables only), RFC 3339 UTC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified: Option<String>,
    /// Version of isf that wrote the key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub isf_version: Option<String>,
    /// SHA-256 of the lowered model (`isf plan`), hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan_hash: Option<String>,
    /// Full text of the script that produced the value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub script: Option<String>,
    /// Random seed of the run (per trial or per process, as the writer documents).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Parameter values of the sweep point this key belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sweep_point: Option<BTreeMap<String, serde_json::Value>>,
    /// Host name of the writing machine.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Free-form additional provenance.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, String>,
}

impl Metadata {
    /// Metadata stamped with the current time and this isf version.
    pub fn now() -> Metadata {
        Metadata::default().stamped()
    }

    /// Fill `created`, `isf_version` and `host` when the caller left them empty.
    pub fn stamped(mut self) -> Metadata {
        self.created.get_or_insert_with(now_rfc3339);
        self.isf_version
            .get_or_insert_with(|| env!("CARGO_PKG_VERSION").to_string());
        if self.host.is_none() {
            self.host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_string())
                .filter(|h| !h.is_empty());
        }
        self
    }
}

/// The current time as RFC 3339 UTC with second resolution.
pub fn now_rfc3339() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    rfc3339(secs)
}

/// Format seconds since the Unix epoch as RFC 3339 UTC (proleptic Gregorian calendar).
pub fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Days to civil date (H. Hinnant's algorithm), avoiding a date-time dependency.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_798_370_191), "2026-12-27T11:16:31Z");
    }

    #[test]
    fn unknown_fields_are_ignored_and_missing_ones_default() {
        let mut m = serde_json::Map::new();
        m.insert("seed".into(), 7.into());
        m.insert("from_the_future".into(), "x".into());
        let bytes = rmp_serde::to_vec_named(&m).unwrap();
        let meta: Metadata = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(meta.seed, Some(7));
        assert_eq!(meta.created, None);
    }
}
