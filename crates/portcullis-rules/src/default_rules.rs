//! The default rule set shipped with Portcullis: `default_rules/default_rules.yaml`, built into
//! the binary. It reproduces the default behaviour of spec §7 as rules in the language itself;
//! `default_rules/README.md` documents it rule by rule.

use portcullis_model::source::SourcePath;

use crate::site::Rule;
use crate::site_file::RuleFile;

/// The rule file's text.
pub const DEFAULT_RULES_YAML: &str = include_str!("../default_rules/default_rules.yaml");

/// The id of the Everyone stream in a fresh QSEoW install.
pub const EVERYONE_STREAM_ID: &str = "aaec8d41-5201-43ab-809f-3063750dfafd";

/// The id of the Monitoring apps stream in a fresh QSEoW install.
pub const MONITORING_APPS_STREAM_ID: &str = "a70ca8a5-1d59-4cc9-b5fa-6e207978dcaf";

/// The default rules. A test checks that the shipped file decodes and compiles, so a broken
/// file cannot be released; should it not decode anyway, the list is empty.
pub fn rules() -> Vec<Rule> {
    let Ok(files) = serde_norway::from_str::<Vec<RuleFile>>(DEFAULT_RULES_YAML) else {
        return Vec::new();
    };
    let mut errors = Vec::new();
    files
        .iter()
        .enumerate()
        .map(|(idx, file)| {
            let mut rule = file.to_rule(&SourcePath::root().index(idx), &mut errors);
            rule.comment = file.comment.clone().unwrap_or_default();
            rule
        })
        .collect()
}
