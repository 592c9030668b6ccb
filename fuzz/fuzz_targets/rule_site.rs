//! Fuzzes the rule-site loader: YAML text (a site file, or a scenario with `site:`) decoded,
//! validated, compiled and asked a few decisions. It must never panic, overflow the stack or
//! blow up in memory; a refused site says why; the explained decision agrees with the fast one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_model::source::LineIndex;
use portcullis_rules::site_file::from_yaml;
use portcullis_rules::{Action, RequestContext};

fuzz_target!(|text: &str| {
    let _ = LineIndex::build(text);
    let Ok((file, base)) = from_yaml(text) else { return };
    match file.load(&base) {
        Ok(loaded) => {
            let site = &loaded.compiled;
            for user in site.user_ids().take(3) {
                for resource in site.resource_ids().take(6) {
                    for context in RequestContext::ALL {
                        for action in [Action::Read, Action::Update] {
                            let decision = site.decide(user, resource, action, context);
                            assert_eq!(decision.allowed, site.is_allowed(user, resource, action, context));
                        }
                    }
                }
            }
        }
        Err(errors) => assert!(!errors.is_empty()),
    }
});
