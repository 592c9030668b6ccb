//! Which decisions a tenant logs. Data-leaving actions are always logged, allowed or
//! denied; the rest follow the tenant's mode (off, denies, all) with optional sampling.

use serde::{Deserialize, Serialize};

/// Which ordinary decisions are logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DecisionLogMode {
    /// None (data-leaving decisions are still logged).
    #[default]
    Off,
    /// Denies only.
    Denies,
    /// Every decision.
    All,
}

/// A tenant's decision-logging policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DecisionLogPolicy {
    /// Which ordinary decisions.
    pub mode: DecisionLogMode,
    /// Of those, how many per million are kept (1,000,000 = all). Data-leaving decisions are never sampled.
    pub sample_per_million: u32,
}

impl Default for DecisionLogPolicy {
    fn default() -> Self {
        DecisionLogPolicy {
            mode: DecisionLogMode::Off,
            sample_per_million: 1_000_000,
        }
    }
}

impl DecisionLogPolicy {
    /// Whether to log a decision. `sample_key` is any well-mixed number for the request
    /// (e.g. a hash of user, action and resource) so sampling is deterministic.
    pub fn should_log(&self, data_leaving: bool, allowed: bool, sample_key: u64) -> bool {
        if data_leaving {
            return true;
        }
        let selected = match self.mode {
            DecisionLogMode::Off => false,
            DecisionLogMode::Denies => !allowed,
            DecisionLogMode::All => true,
        };
        selected && (sample_key % 1_000_000) < u64::from(self.sample_per_million)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_leaving_decisions_are_always_logged() {
        let off = DecisionLogPolicy::default();
        assert!(off.should_log(true, false, 7));
        assert!(off.should_log(true, true, 7));
        assert!(!off.should_log(false, false, 7));
    }

    #[test]
    fn modes_and_sampling() {
        let denies = DecisionLogPolicy {
            mode: DecisionLogMode::Denies,
            sample_per_million: 1_000_000,
        };
        assert!(denies.should_log(false, false, 1) && !denies.should_log(false, true, 1));
        let tenth = DecisionLogPolicy {
            mode: DecisionLogMode::All,
            sample_per_million: 100_000,
        };
        let kept = (0..10_000u64)
            .filter(|k| tenth.should_log(false, true, k.wrapping_mul(0x9E37_79B9_7F4A_7C15)))
            .count();
        assert!((800..1200).contains(&kept), "{kept}");
    }
}
