//! `portcullis rules sites ...`: a tenant's stored security-rule sites, managed on the
//! database directly (with or without a server): list them, store one from a site file
//! (checked and compiled first, as the server does, so a node never meets a site it cannot
//! load), print one as it was stored, delete one. Each write is one transaction with its audit
//! event; running servers follow it through the change feed (or their poll).

use crate::out::{out, put};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use portcullis_store::{Author, NewRuleSite, RuleSiteFormat, Store, TenantRecord};

use crate::audit_keys::KeyArgs;

/// Where the sites are: the database, the tenant, and the audit key that seals the events.
#[derive(clap::Args)]
pub struct SiteStore {
    /// `sqlite://PATH` or `postgres://...` (also `--store`).
    #[arg(long, visible_alias = "store", value_name = "URL")]
    database: String,
    /// The tenant.
    #[arg(long)]
    tenant: String,
    /// The audit key the servers seal with (events written without it are plain SHA-256).
    #[command(flatten)]
    keys: KeyArgs,
}

/// `portcullis rules sites ...`.
#[derive(clap::Subcommand)]
pub enum SitesCommand {
    /// List the tenant's sites: name, revision, format, size, last write and its author.
    List {
        #[command(flatten)]
        at: SiteStore,
    },
    /// Store a site file under a name (created, or replaced), after checking that it loads.
    Put {
        #[command(flatten)]
        at: SiteStore,
        /// The site's name.
        name: String,
        /// A site file (YAML or JSON; a `model: rules` scenario file gives its `site:`).
        file: PathBuf,
        /// Replace only the site at this revision (refused when it moved on).
        #[arg(long, value_name = "REVISION")]
        if_match: Option<u64>,
        /// How the file is written (default: `json` for a `.json` file, else `yaml`).
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// Print a site's text as it was stored.
    Get {
        #[command(flatten)]
        at: SiteStore,
        /// The site's name.
        name: String,
    },
    /// Delete a site.
    Delete {
        #[command(flatten)]
        at: SiteStore,
        /// The site's name.
        name: String,
        /// Delete only the site at this revision.
        #[arg(long, value_name = "REVISION")]
        if_match: Option<u64>,
    },
}

/// How a site file is written.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// YAML.
    Yaml,
    /// JSON.
    Json,
}

/// Runs a `rules sites` subcommand.
pub fn run(command: SitesCommand) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        match command {
            SitesCommand::List { at } => list(&at).await,
            SitesCommand::Put {
                at,
                name,
                file,
                if_match,
                format,
            } => put(&at, &name, &file, if_match, format).await,
            SitesCommand::Get { at, name } => get(&at, &name).await,
            SitesCommand::Delete { at, name, if_match } => delete(&at, &name, if_match).await,
        }
    })
}

async fn open(at: &SiteStore) -> anyhow::Result<(Arc<dyn Store>, TenantRecord)> {
    open_tenant(&at.database, &at.tenant, &at.keys).await
}

/// Opens the store at `database` and finds `tenant` in it (other commands that store sites).
pub async fn open_tenant(database: &str, tenant: &str, keys: &KeyArgs) -> anyhow::Result<(Arc<dyn Store>, TenantRecord)> {
    let store = portcullis_store::open_with_keys(database, keys.keyring()?)
        .await
        .with_context(|| format!("cannot open `{}`", portcullis_store::redact(database)))?;
    let tenant = store
        .tenant_by_name(tenant)
        .await?
        .with_context(|| format!("there is no tenant `{tenant}`"))?;
    Ok((store, tenant))
}

async fn list(at: &SiteStore) -> anyhow::Result<ExitCode> {
    let (store, tenant) = open(at).await?;
    let read = store.rule_sites_after(tenant.id, 0).await?;
    if read.changed.is_empty() {
        out!("tenant `{}` has no rule sites", tenant.name);
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<[String; 6]> = read
        .changed
        .iter()
        .map(|site| {
            [
                site.name.clone(),
                site.revision.to_string(),
                site.format.as_str().to_owned(),
                site.source.len().to_string(),
                portcullis_store::rfc3339_millis(site.updated_at.saturating_mul(1000)),
                who(&site.updated_by),
            ]
        })
        .collect();
    let header = ["NAME", "REVISION", "FORMAT", "BYTES", "UPDATED", "BY"].map(str::to_owned);
    let widths: Vec<usize> = (0..header.len())
        .map(|i| std::iter::once(&header).chain(&rows).map(|row| row[i].chars().count()).max().unwrap_or(0))
        .collect();
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row.iter().zip(&widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
        out!("{}", cells.join("  ").trim_end());
    }
    Ok(ExitCode::SUCCESS)
}

/// Who wrote a site, from its stored author (`{"actor": {...}, "channel": ...}`).
fn who(author: &str) -> String {
    let Ok(author) = serde_json::from_str::<serde_json::Value>(author) else {
        return author.to_owned();
    };
    let actor = &author["actor"];
    let name = actor["user"].as_str().or(actor["client"].as_str());
    let channel = author["channel"].as_str().unwrap_or("?");
    match name {
        Some(name) => format!("{name} ({channel})"),
        None => channel.to_owned(),
    }
}

async fn put(at: &SiteStore, name: &str, file: &std::path::Path, if_match: Option<u64>, format: Option<Format>) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let (store, tenant) = open(at).await?;
    store_site(&store, &tenant, name, file, &text, if_match, format).await?;
    Ok(ExitCode::SUCCESS)
}

/// Checks and compiles a site file's `text` (read from `file`), then stores it under `name`;
/// answers its new revision.
pub async fn store_site(
    store: &Arc<dyn Store>,
    tenant: &TenantRecord,
    name: &str,
    file: &std::path::Path,
    text: &str,
    if_match: Option<u64>,
    format: Option<Format>,
) -> anyhow::Result<u64> {
    if name.trim().is_empty() {
        bail!("a rule site needs a name");
    }
    let loaded = crate::rules_cmd::load_site_text(&file.display().to_string(), text)?;
    let format = match format {
        Some(Format::Json) => RuleSiteFormat::Json,
        Some(Format::Yaml) => RuleSiteFormat::Yaml,
        None if file.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")) => RuleSiteFormat::Json,
        None => RuleSiteFormat::Yaml,
    };
    let (users, resources) = (loaded.site.users.len(), loaded.site.resources.len());
    let rules: Vec<&str> = loaded.site.rules.iter().map(|r| r.name.as_str()).collect();
    let site = NewRuleSite {
        tenant: tenant.id,
        name,
        format,
        source: text,
        expected_revision: if_match,
        summary: serde_json::json!({ "users": users, "resources": resources, "rules": rules }),
    };
    let stored = store.put_rule_site(&site, &Author::cli()).await?;
    out!(
        "stored rule site `{name}` of tenant `{}` at revision {} ({users} users, {resources} resources, {} rules)",
        tenant.name,
        stored.revision,
        rules.len()
    );
    Ok(stored.revision)
}

async fn get(at: &SiteStore, name: &str) -> anyhow::Result<ExitCode> {
    let (store, tenant) = open(at).await?;
    let site = store
        .rule_site(tenant.id, name)
        .await?
        .with_context(|| format!("tenant `{}` has no rule site `{name}`", tenant.name))?;
    put!("{}", site.source);
    Ok(ExitCode::SUCCESS)
}

async fn delete(at: &SiteStore, name: &str, if_match: Option<u64>) -> anyhow::Result<ExitCode> {
    let (store, tenant) = open(at).await?;
    match store.delete_rule_site(tenant.id, name, if_match, &Author::cli()).await {
        Ok(revision) => {
            out!("deleted rule site `{name}` of tenant `{}` (sites revision {revision})", tenant.name);
            Ok(ExitCode::SUCCESS)
        }
        Err(portcullis_store::StoreError::NotFound(_)) => bail!("tenant `{}` has no rule site `{name}`", tenant.name),
        Err(error) => Err(error.into()),
    }
}
