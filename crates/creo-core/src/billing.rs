//! Billing's domain: tiers and their limits, chargeable actions and their prices, ledger entry
//! kinds. Money is integer milli-credits everywhere (0.25 credit = 250), never floating point.
//! The server enforces these (its `billing/` holds the request limiter and the payment
//! provider's signed webhooks).

use serde::{Deserialize, Serialize};

/// Milli-credits: 1 credit = 1000.
pub type Milli = i64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    #[default]
    Free,
    Pro,
    Team,
    Enterprise,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Free => "free",
            Tier::Pro => "pro",
            Tier::Team => "team",
            Tier::Enterprise => "enterprise",
        }
    }

    pub fn parse(s: &str) -> Option<Tier> {
        Some(match s {
            "free" => Tier::Free,
            "pro" => Tier::Pro,
            "team" => Tier::Team,
            "enterprise" => Tier::Enterprise,
            _ => return None,
        })
    }
}

/// What one tier allows. `None` means unlimited.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TierLimits {
    /// REST requests per second per account (a token bucket of this size, refilled per second).
    pub requests_per_second: u32,
    /// REST requests per hour per account.
    pub requests_per_hour: u32,
    /// Generations (sample and standard) per calendar month (UTC).
    pub monthly_generations: Option<u32>,
    /// Members an account may have.
    pub seats: Option<u32>,
    /// Exports carry a watermark.
    pub watermarked_exports: bool,
    /// Versions kept per document. Named versions beyond it are refused; an automatic one
    /// (workflow, restore, generation) makes room by dropping the oldest automatic one.
    #[serde(default)]
    pub versions_per_document: Option<u32>,
    /// Comments per document.
    #[serde(default)]
    pub comments_per_document: Option<u32>,
    /// The bytes an account's media library may hold.
    #[serde(default)]
    pub media_storage_bytes: Option<u64>,
    /// The largest single upload, in bytes.
    #[serde(default = "default_max_upload")]
    pub max_upload_bytes: u64,
}

fn default_max_upload() -> u64 {
    100 << 20
}

/// The tier table (configurable; enterprise accounts may also carry their own limits).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Tiers {
    pub free: TierLimits,
    pub pro: TierLimits,
    pub team: TierLimits,
    pub enterprise: TierLimits,
}

impl Default for Tiers {
    fn default() -> Self {
        Tiers {
            free: TierLimits {
                requests_per_second: 10,
                requests_per_hour: 2_000,
                monthly_generations: Some(100),
                seats: Some(3),
                watermarked_exports: true,
                versions_per_document: Some(50),
                comments_per_document: Some(500),
                media_storage_bytes: Some(1 << 30),
                max_upload_bytes: 100 << 20,
            },
            pro: TierLimits {
                requests_per_second: 50,
                requests_per_hour: 20_000,
                monthly_generations: None,
                seats: Some(5),
                watermarked_exports: false,
                versions_per_document: Some(200),
                comments_per_document: Some(2_000),
                media_storage_bytes: Some(50 << 30),
                max_upload_bytes: 1 << 30,
            },
            team: TierLimits {
                requests_per_second: 100,
                requests_per_hour: 50_000,
                monthly_generations: None,
                seats: Some(50),
                watermarked_exports: false,
                versions_per_document: Some(1_000),
                comments_per_document: Some(10_000),
                media_storage_bytes: Some(500 << 30),
                max_upload_bytes: 2 << 30,
            },
            enterprise: TierLimits {
                requests_per_second: 200,
                requests_per_hour: 200_000,
                monthly_generations: None,
                seats: None,
                watermarked_exports: false,
                versions_per_document: None,
                comments_per_document: None,
                media_storage_bytes: None,
                max_upload_bytes: 4 << 30,
            },
        }
    }
}

impl Tiers {
    pub fn get(&self, tier: Tier) -> &TierLimits {
        match tier {
            Tier::Free => &self.free,
            Tier::Pro => &self.pro,
            Tier::Team => &self.team,
            Tier::Enterprise => &self.enterprise,
        }
    }
}

/// Something an account pays credits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Action {
    SampleGeneration,
    StandardGeneration,
    HiresExport,
    /// One input through a model (an embedded text, a search query, a scored draft).
    Inference,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::SampleGeneration => "sample_generation",
            Action::StandardGeneration => "standard_generation",
            Action::HiresExport => "hires_export",
            Action::Inference => "inference",
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        Some(match s {
            "sample_generation" => Action::SampleGeneration,
            "standard_generation" => Action::StandardGeneration,
            "hires_export" => Action::HiresExport,
            "inference" => Action::Inference,
            _ => return None,
        })
    }

    /// Counts against a tier's monthly generations.
    pub fn is_generation(self) -> bool {
        matches!(self, Action::SampleGeneration | Action::StandardGeneration)
    }
}

/// Prices in milli-credits (configurable).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Prices {
    pub sample_generation: Milli,
    pub standard_generation: Milli,
    pub hires_export: Milli,
    pub inference: Milli,
}

impl Default for Prices {
    fn default() -> Self {
        Prices {
            sample_generation: 250,
            standard_generation: 1_000,
            hires_export: 2_000,
            inference: 10,
        }
    }
}

impl Prices {
    pub fn of(&self, action: Action) -> Milli {
        match action {
            Action::SampleGeneration => self.sample_generation,
            Action::StandardGeneration => self.standard_generation,
            Action::HiresExport => self.hires_export,
            Action::Inference => self.inference,
        }
    }
}

/// Why the ledger moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// An action paid at once.
    Charge,
    /// The used part of a reservation.
    Capture,
    /// Credits bought through the payment provider.
    Purchase,
    /// Credits given (sign-up grant, support).
    Grant,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Charge => "charge",
            EntryKind::Capture => "capture",
            EntryKind::Purchase => "purchase",
            EntryKind::Grant => "grant",
        }
    }

    pub fn parse(s: &str) -> Option<EntryKind> {
        Some(match s {
            "charge" => EntryKind::Charge,
            "capture" => EntryKind::Capture,
            "purchase" => EntryKind::Purchase,
            "grant" => EntryKind::Grant,
            _ => return None,
        })
    }
}

/// The first millisecond of the UTC calendar month containing `ms`.
pub fn month_start_ms(ms: i64) -> i64 {
    use chrono::{Datelike, TimeZone, Utc};
    let t = Utc.timestamp_millis_opt(ms).single().unwrap_or_default();
    Utc.with_ymd_and_hms(t.year(), t.month(), 1, 0, 0, 0)
        .single()
        .map_or(0, |m| m.timestamp_millis())
}

/// `YYYY-MM-DD` (UTC) of a millisecond timestamp.
pub fn utc_day(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%d")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_and_days_are_utc() {
        // 2026-11-22T10:00:00Z
        let t = 1_795_341_600_000;
        assert_eq!(utc_day(t), "2026-11-22");
        assert_eq!(utc_day(month_start_ms(t)), "2026-11-01");
        assert_eq!(month_start_ms(month_start_ms(t)), month_start_ms(t));
    }

    #[test]
    fn names_round_trip() {
        for a in [
            Action::SampleGeneration,
            Action::StandardGeneration,
            Action::HiresExport,
            Action::Inference,
        ] {
            assert_eq!(Action::parse(a.as_str()), Some(a));
        }
        for t in [Tier::Free, Tier::Pro, Tier::Team, Tier::Enterprise] {
            assert_eq!(Tier::parse(t.as_str()), Some(t));
        }
        assert_eq!(Prices::default().of(Action::SampleGeneration), 250);
    }
}
