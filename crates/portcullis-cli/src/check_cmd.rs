//! `portcullis check`: one decision on a tenant file, printed in plain words or as JSON.

use crate::out::out;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use portcullis_engine::{RawRequest, Sessions, Snapshot, decide, resolve};
use portcullis_model::Channel;
use portcullis_model::tenant_file::load_tenant_text;

/// Arguments of `portcullis check`.
#[derive(clap::Args)]
pub struct CheckArgs {
    /// The tenant file (or a scenario file: its `tenant:` is used).
    #[arg(long)]
    tenant: PathBuf,
    /// The user's id.
    #[arg(long)]
    user: String,
    /// The action, e.g. `app:exportdata`.
    #[arg(long)]
    action: String,
    /// The resource id (a space, app or data connection), for non-tenant actions.
    #[arg(long)]
    resource: Option<String>,
    /// `session` (default: a fresh login), `api-key` or `oauth:<client id>`.
    #[arg(long, default_value = "session")]
    via: Channel,
    /// Print the decision as JSON.
    #[arg(long)]
    json: bool,
}

/// Prints the decision; exit status 0 for allow, 1 for deny.
pub fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let label = args.tenant.display().to_string();
    let text = std::fs::read_to_string(&args.tenant).with_context(|| format!("cannot read the tenant file `{label}`"))?;
    let mut tenant = load_tenant_text(&label, &text)?;
    if args.via == Channel::Session {
        // A session check logs the user in first, as the scenario runner does.
        tenant.record_login(&args.user)?;
    }
    let snapshot = Snapshot::build(&tenant, 0);
    let raw = RawRequest {
        user: &args.user,
        via: &args.via,
        action: &args.action,
        resource: args.resource.as_deref(),
    };
    let resolved = resolve(&snapshot, &raw)?;
    // A session of this one question: it has no timeouts, so its clock does not matter.
    let mut sessions = Sessions::default();
    sessions.login(&snapshot, resolved.user, 0);
    let decision = decide(&snapshot, &resolved.request(sessions.rights(&args.user, 0), true));
    let verdict = decision.verdict();
    if args.json {
        let reasons: Vec<serde_json::Value> = decision
            .explanation
            .reasons
            .iter()
            .map(|r| {
                let mut tokens = Vec::new();
                r.tokens(&mut tokens);
                serde_json::json!({ "kind": r.kind(), "tokens": tokens, "text": r.sentence() })
            })
            .collect();
        let out = serde_json::json!({
            "decision": verdict,
            "user": args.user,
            "via": args.via,
            "action": args.action,
            "resource": args.resource,
            "tokens": decision.explanation.tokens(),
            "reasons": reasons,
        });
        out!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        let target = args.resource.as_deref().map(|r| format!(" on `{r}`")).unwrap_or_default();
        out!(
            "{}: `{}` may {}`{}`{target} (via {})",
            verdict.to_uppercase(),
            args.user,
            if decision.allowed { "" } else { "not " },
            args.action,
            args.via
        );
        for reason in &decision.explanation.reasons {
            out!("  - {}", reason.sentence());
        }
        out!("  tokens: {}", decision.explanation.tokens().join(", "));
    }
    Ok(if decision.allowed { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
