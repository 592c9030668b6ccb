//! Fuzzes the tenant file loader: YAML text to a validated tenant. It must never panic,
//! overflow the stack or blow up in memory (deep nesting and aliases are bounded before
//! decoding); a refusal says at least one thing; a document over the YAML limits is never
//! loaded; and the line index (built for error messages) reads anything.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_model::source::{LineIndex, SourcePath, YamlError, check_yaml};
use portcullis_model::tenant_file::load_tenant_text;

fuzz_target!(|text: &str| {
    let index = LineIndex::build(text);
    let _ = index.locate(&SourcePath::root().key("users").index(0).key("roles"));
    let checked = check_yaml(text);
    match load_tenant_text("fuzz.yaml", text) {
        Ok(tenant) => {
            assert!(checked.is_ok());
            for user in &tenant.users {
                assert!(
                    user.groups.iter().all(|g| tenant.group(g).is_some()),
                    "user `{}` names an unknown group",
                    user.id
                );
            }
        }
        Err(error) => {
            assert!(!error.lines.is_empty());
            if let Err(YamlError::Limit { .. }) = checked {
                assert_eq!(error.lines.len(), 1);
            }
        }
    }
});
