//! `portcullis rules import-site` and `export-site`: a whole QRS site (the JSON of the
//! repository's `/full` endpoints, one file per kind) checked and summed up, stored as a
//! tenant's rule site, or written back from a stored site or a site file.
//!
//! The reading of folders and archives is here: the rules crate takes text and bytes only.

use crate::out::out;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use portcullis_rules::Site;
use portcullis_rules::qrs_site::{self, Imported, Kind, QrsSiteFiles, QrsSiteProblem};
use portcullis_rules::site_file::site_to_json;

use crate::audit_keys::KeyArgs;

/// Where an imported site is stored, when it is.
#[derive(clap::Args)]
pub struct StoreArgs {
    /// `sqlite://PATH` or `postgres://...` (also `--database`): store the site there.
    #[arg(long = "store", visible_alias = "database", value_name = "URL", requires_all = ["tenant", "name"])]
    pub store: Option<String>,
    /// The tenant the site belongs to.
    #[arg(long, requires = "store")]
    pub tenant: Option<String>,
    /// The rule site's name.
    #[arg(long, requires = "store")]
    pub name: Option<String>,
    /// The audit key the servers seal with.
    #[command(flatten)]
    pub keys: KeyArgs,
}

/// Reads a QRS site: a folder of `<kind>.json` files, a `.tar.gz` (or `.tgz`) of them, or a
/// `.json` file holding one object with the seven arrays.
pub fn read_input(path: &Path) -> anyhow::Result<Result<Imported, Vec<QrsSiteProblem>>> {
    let label = path.display().to_string();
    if path.is_dir() {
        let mut files = QrsSiteFiles::new(&label);
        let entries = std::fs::read_dir(path).with_context(|| format!("cannot read the folder {label}"))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("cannot read the folder {label}"))?;
            if !entry
                .file_type()
                .with_context(|| format!("cannot read {}", entry.path().display()))?
                .is_file()
            {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let text = std::fs::read_to_string(entry.path()).with_context(|| format!("cannot read {}", entry.path().display()))?;
            files.insert(name, text);
        }
        return Ok(qrs_site::import_files(&files));
    }
    let lower = label.to_ascii_lowercase();
    if lower.ends_with(".tar.gz") || lower.ends_with(".tgz") {
        let bytes = std::fs::read(path).with_context(|| format!("cannot read {label}"))?;
        return Ok(QrsSiteFiles::from_tar_gz(&label, &bytes).and_then(|files| qrs_site::import_files(&files)));
    }
    if lower.ends_with(".json") {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {label}"))?;
        return Ok(qrs_site::import_object(&text));
    }
    if !path.exists() {
        bail!("{label} does not exist");
    }
    bail!(
        "{label} is not a QRS site: give a folder of {} files, a .tar.gz of them, or a .json object of the seven arrays",
        Kind::ALL.len()
    )
}

/// `rules import-site`.
pub fn import_site(path: &Path, at: &StoreArgs) -> anyhow::Result<ExitCode> {
    let label = path.display().to_string();
    let imported = match read_input(path)? {
        Ok(imported) => imported,
        Err(problems) => {
            // A problem of the archive itself already names it.
            let lines: Vec<String> = problems
                .iter()
                .map(|p| if p.file == label { p.to_string() } else { format!("{label}: {p}") })
                .collect();
            bail!("the QRS site does not import ({} problems):\n{}", problems.len(), lines.join("\n"));
        }
    };
    for warning in &imported.warnings {
        eprintln!("{label}: {warning}");
    }
    let counts: Vec<String> = imported.counts.iter().map(|(kind, n)| format!("{n} {}", kind.key())).collect();
    out!("{label}: {}", counts.join(", "));
    let site = &imported.site;
    out!(
        "site: {} users, {} resources, {} rules ({} disabled); {} warnings",
        site.users.len(),
        site.resources.len(),
        site.rules.len(),
        site.rules.iter().filter(|r| r.disabled).count(),
        imported.warnings.len()
    );
    let (Some(database), Some(tenant), Some(name)) = (&at.store, &at.tenant, &at.name) else {
        return Ok(ExitCode::SUCCESS);
    };
    let text = site_to_json(site);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let (store, tenant) = crate::sites_cmd::open_tenant(database, tenant, &at.keys).await?;
        let file = PathBuf::from(format!("{label} (as a site file)"));
        crate::sites_cmd::store_site(&store, &tenant, name, &file, &text, None, Some(crate::sites_cmd::Format::Json)).await
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `rules export-site`: `source` is a site file when such a file exists, else a stored site's
/// name (which needs `--store` and `--tenant`).
pub fn export_site(source: &str, to: &Path, database: Option<&str>, tenant: Option<&str>, keys: &KeyArgs) -> anyhow::Result<ExitCode> {
    let path = Path::new(source);
    let site: Site = if path.is_file() {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {source}"))?;
        crate::rules_cmd::load_site_text(source, &text)?.site
    } else {
        let (Some(database), Some(tenant)) = (database, tenant) else {
            bail!("`{source}` is not a file; to export a stored rule site, give `--store URL --tenant T`");
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        let text = runtime.block_on(async {
            let (store, tenant) = crate::sites_cmd::open_tenant(database, tenant, keys).await?;
            let stored = store
                .rule_site(tenant.id, source)
                .await?
                .with_context(|| format!("tenant `{}` has no rule site `{source}`", tenant.name))?;
            anyhow::Ok(stored.source)
        })?;
        crate::rules_cmd::load_site_text(&format!("rule site `{source}`"), &text)?.site
    };
    std::fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    let exported = qrs_site::export(&site);
    for (name, text) in exported.to_files() {
        let file = to.join(&name);
        std::fs::write(&file, text).with_context(|| format!("cannot write {}", file.display()))?;
    }
    let counts: Vec<String> = exported.counts().iter().map(|(kind, n)| format!("{n} {}", kind.key())).collect();
    out!("{}: {}", to.display(), counts.join(", "));
    let left_out = qrs_site::unexported(&site);
    if left_out > 0 {
        eprintln!("{left_out} resources of other types (app objects, tasks, ...) are not part of a QRS site's seven files and were left out");
    }
    Ok(ExitCode::SUCCESS)
}
