//! The audit key on the command line: `--audit-key-file PATH` (repeatable: the first seals,
//! the others are older keys that only verify) or the `PORTCULLIS_AUDIT_KEY` environment
//! variable, each hex or base64 of at least 32 bytes. The key is read here and handed to the
//! store; it is never printed, only its id.

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use portcullis_store::{AuditKey, Keyring};

/// The environment variable that holds the audit key when no key file is given.
pub const ENV_AUDIT_KEY: &str = "PORTCULLIS_AUDIT_KEY";

/// Where the audit keys come from.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct KeyArgs {
    /// A file holding the audit key (hex or base64, at least 32 bytes), which keys the audit
    /// chain's hashes and signs checkpoints. Repeatable: the first seals, the others (older
    /// keys, after a rotation) only verify. Without it, the key is `PORTCULLIS_AUDIT_KEY`;
    /// without either, events are sealed with plain SHA-256.
    #[arg(long = "audit-key-file", value_name = "PATH")]
    pub audit_key_files: Vec<PathBuf>,
}

impl KeyArgs {
    /// The keys given, the sealing one first (none: an empty keyring).
    pub fn keyring(&self) -> anyhow::Result<Keyring> {
        let from_env = std::env::var(ENV_AUDIT_KEY).ok().filter(|v| !v.trim().is_empty());
        if from_env.is_some() && !self.audit_key_files.is_empty() {
            bail!("the audit key is given twice (`--audit-key-file` and `{ENV_AUDIT_KEY}`); give one");
        }
        let mut keys = Vec::new();
        if let Some(text) = from_env {
            keys.push(AuditKey::from_text(&text).with_context(|| format!("`{ENV_AUDIT_KEY}`"))?);
        }
        for path in &self.audit_key_files {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read the audit key file `{}`", path.display()))?;
            warn_if_readable_by_others(path);
            keys.push(AuditKey::from_text(&text).with_context(|| format!("the audit key file `{}`", path.display()))?);
        }
        Ok(Keyring::new(keys))
    }
}

/// A key file others can read is a key others can use to rewrite the trail.
fn warn_if_readable_by_others(path: &std::path::Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if let Ok(metadata) = std::fs::metadata(path)
            && metadata.permissions().mode() & 0o077 != 0
        {
            eprintln!(
                "warning: the audit key file `{}` can be read by others than its owner; `chmod 600` it",
                path.display()
            );
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}
