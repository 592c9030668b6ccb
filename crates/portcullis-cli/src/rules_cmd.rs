//! `portcullis rules ...`: lint rule files, audit a rule site (with a preview of unsaved
//! rules), decide one request with its explanation, convert rules to and from QRS JSON, import
//! and export whole QRS sites (`qrs_site_cmd.rs`), and manage a tenant's stored sites
//! (`sites_cmd.rs`).

use crate::out::{out, put};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use portcullis_model::source::LineIndex;
use portcullis_rules::audit::{AuditScope, audit_with_progress, preview_with_progress};
use portcullis_rules::lint::{counts, lint, read_rule_file};
use portcullis_rules::site_file::{LoadedSite, from_yaml, rules_to_yaml};
use portcullis_rules::{Action, ActionSet, RequestContext, qrs};

/// The `rules` subcommands.
#[derive(clap::Subcommand)]
pub enum RulesCommand {
    /// Report problems in rule files (QRS SystemRule JSON, site/scenario YAML, or a YAML list
    /// of rules). Exits with 1 when a file has errors.
    Lint {
        /// Rule files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: LintFormat,
    },
    /// Print the audit matrix of a site: who may do what on which resource, and which rules
    /// grant it. With `--preview`, print only what the unsaved rules would add or remove.
    Audit {
        /// A site file (or a `model: rules` scenario file).
        site: PathBuf,
        /// The request context to audit.
        #[arg(long, default_value = "hub", value_parser = parse_context)]
        context: RequestContext,
        /// Only these users (`DIRECTORY\userId`); repeatable.
        #[arg(long = "user")]
        users: Vec<String>,
        /// Only resources of this type.
        #[arg(long)]
        resource_type: Option<String>,
        /// Only these actions; repeatable.
        #[arg(long = "action", value_parser = parse_action)]
        actions: Vec<Action>,
        /// A rule file with unsaved rules: show the difference they make (a rule with the
        /// name of an existing one replaces it).
        #[arg(long)]
        preview: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: AuditFormat,
    },
    /// Decide one request on a site and explain it.
    Check {
        /// A site file (or a `model: rules` scenario file).
        site: PathBuf,
        /// The user, `DIRECTORY\userId`.
        user: String,
        /// The action (`read`, `update`, ...).
        #[arg(value_parser = parse_action)]
        action: Action,
        /// The resource id.
        resource: String,
        /// The request context.
        #[arg(long, default_value = "hub", value_parser = parse_context)]
        context: RequestContext,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the rules of a site (or any rule file) as QRS `SystemRule` JSON.
    Export {
        /// A rule file.
        file: PathBuf,
    },
    /// Print the rules of QRS `SystemRule` JSON as a YAML list for a site file's `rules:`.
    Import {
        /// A QRS JSON file.
        file: PathBuf,
    },
    /// Print the shipped default rule set (YAML).
    Defaults,
    /// Check a whole QRS site (the JSON of the `/qrs/<kind>/full` endpoints: a folder of
    /// users.json, userdirectories.json, streams.json, apps.json, custompropertydefinitions.json,
    /// dataconnections.json, systemrules.json; a .tar.gz of them; or a .json object of the
    /// seven arrays) and print what it holds; with `--store`, `--tenant` and `--name`, store it
    /// as a rule site. Every problem names its file, object id and field; exits with 2 when
    /// there is an error.
    ImportSite {
        /// The folder, archive or JSON object file.
        path: PathBuf,
        #[command(flatten)]
        at: crate::qrs_site_cmd::StoreArgs,
    },
    /// Write a site as a QRS site's seven JSON files: a site file, or a stored rule site by
    /// name (with `--store` and `--tenant`).
    ExportSite {
        /// A site file, or the name of a stored rule site.
        source: String,
        /// The folder to write the files to (created when missing).
        #[arg(long)]
        to: PathBuf,
        /// `sqlite://PATH` or `postgres://...` (also `--database`), for a stored site.
        #[arg(long = "store", visible_alias = "database", value_name = "URL", requires = "tenant")]
        store: Option<String>,
        /// The tenant of a stored site.
        #[arg(long)]
        tenant: Option<String>,
        /// The audit key the servers seal with.
        #[command(flatten)]
        keys: crate::audit_keys::KeyArgs,
    },
    /// A tenant's stored rule sites (what `PUT /v1/rules/sites/{name}` stores), on the
    /// database directly: list, put, get, delete.
    #[command(subcommand)]
    Sites(crate::sites_cmd::SitesCommand),
}

/// Output formats of `rules lint`.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum LintFormat {
    /// One finding per line, with a hint line.
    Text,
    /// A JSON array of findings per file.
    Json,
}

/// Output formats of `rules audit`.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum AuditFormat {
    /// Aligned columns.
    Table,
    /// Comma-separated values.
    Csv,
    /// JSON.
    Json,
}

fn parse_context(text: &str) -> Result<RequestContext, String> {
    RequestContext::parse(text).ok_or_else(|| format!("unknown context `{text}`; write `hub` or `qmc`"))
}

fn parse_action(text: &str) -> Result<Action, String> {
    Action::parse(text).map_err(|error| format!("{error} (hint: {})", error.hint()))
}

/// Runs a `rules` subcommand.
pub fn run(command: RulesCommand) -> anyhow::Result<ExitCode> {
    match command {
        RulesCommand::Lint { files, format } => run_lint(&files, format),
        RulesCommand::Audit {
            site,
            context,
            users,
            resource_type,
            actions,
            preview: preview_file,
            format,
        } => {
            let loaded = load_site(&site)?;
            let scope = AuditScope {
                users,
                resource_type,
                actions: actions.into_iter().fold(ActionSet::NONE, ActionSet::with),
            };
            let output = match preview_file {
                None => {
                    let bar = crate::progress::bar("auditing");
                    let matrix = audit_with_progress(&loaded.compiled, context, &scope, &mut crate::progress::reporter(&bar));
                    bar.finish_and_clear();
                    match format {
                        AuditFormat::Table => matrix.to_table(),
                        AuditFormat::Csv => matrix.to_csv(),
                        AuditFormat::Json => matrix.to_json(),
                    }
                }
                Some(rule_file) => {
                    let text = read(&rule_file)?;
                    let unsaved = read_rule_file(&rule_file.display().to_string(), &text)
                        .map_err(anyhow::Error::msg)
                        .with_context(|| format!("cannot read the rules of {}", rule_file.display()))?;
                    let unsaved: Vec<_> = unsaved.into_iter().map(|r| r.rule).collect();
                    let bar = crate::progress::bar("previewing");
                    let previewed = preview_with_progress(&loaded.site, &unsaved, context, &scope, &mut crate::progress::reporter(&bar));
                    bar.finish_and_clear();
                    let diff = previewed.map_err(|errors| {
                        let lines: Vec<String> = errors.iter().map(|e| format!("{}: {e}", rule_file.display())).collect();
                        anyhow::anyhow!(lines.join("\n"))
                    })?;
                    match format {
                        AuditFormat::Table => diff.to_table(),
                        AuditFormat::Csv => diff.to_csv(),
                        AuditFormat::Json => diff.to_json(),
                    }
                }
            };
            put!("{output}");
            Ok(ExitCode::SUCCESS)
        }
        RulesCommand::Check {
            site,
            user,
            action,
            resource,
            context,
            json,
        } => {
            let loaded = load_site(&site)?;
            let compiled = &loaded.compiled;
            let user_id = compiled
                .user(&user)
                .with_context(|| format!("unknown user `{user}` (write it as DIRECTORY\\userId)"))?;
            let resource_id = compiled.resource(&resource).with_context(|| format!("unknown resource `{resource}`"))?;
            let decision = compiled.decide(user_id, resource_id, action, context);
            if json {
                out!("{}", serde_json::to_string_pretty(&decision.to_report())?);
            } else {
                out!("{decision}");
            }
            Ok(if decision.allowed { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        RulesCommand::Export { file } => {
            let text = read(&file)?;
            let rules = read_rule_file(&file.display().to_string(), &text).map_err(anyhow::Error::msg)?;
            let rules: Vec<_> = rules.into_iter().map(|r| r.rule).collect();
            out!("{}", qrs::export(&rules));
            Ok(ExitCode::SUCCESS)
        }
        RulesCommand::Import { file } => {
            let text = read(&file)?;
            let imported = qrs::import(&text).with_context(|| format!("cannot import {}", file.display()))?;
            for (idx, rule) in imported.iter().enumerate() {
                for problem in &rule.problems {
                    eprintln!("{}: rule #{idx} `{}`: {problem}", file.display(), rule.rule.name);
                }
            }
            let rules: Vec<_> = imported.into_iter().map(|i| i.rule).collect();
            put!("{}", rules_to_yaml(&rules));
            Ok(ExitCode::SUCCESS)
        }
        RulesCommand::Defaults => {
            put!("{}", portcullis_rules::default_rules::DEFAULT_RULES_YAML);
            Ok(ExitCode::SUCCESS)
        }
        RulesCommand::ImportSite { path, at } => crate::qrs_site_cmd::import_site(&path, &at),
        RulesCommand::ExportSite {
            source,
            to,
            store,
            tenant,
            keys,
        } => crate::qrs_site_cmd::export_site(&source, &to, store.as_deref(), tenant.as_deref(), &keys),
        RulesCommand::Sites(command) => crate::sites_cmd::run(command),
    }
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

fn load_site(path: &Path) -> anyhow::Result<LoadedSite> {
    load_site_text(&path.display().to_string(), &read(path)?)
}

/// Loads a site file's text (`label` names it in messages): every problem at label:line:col.
pub(crate) fn load_site_text(label: &str, text: &str) -> anyhow::Result<LoadedSite> {
    let (file, base) = from_yaml(text).map_err(|error| anyhow::anyhow!("{label}: {error}"))?;
    file.load(&base).map_err(|errors| {
        let lines = LineIndex::build(text);
        let rendered: Vec<String> = errors
            .iter()
            .map(|error| match lines.locate(&error.path) {
                Some(at) => format!("{label}:{at}: {}", error.with_hint()),
                None => format!("{label}: {}", error.with_hint()),
            })
            .collect();
        anyhow::anyhow!("the site does not load:\n{}", rendered.join("\n"))
    })
}

fn run_lint(files: &[PathBuf], format: LintFormat) -> anyhow::Result<ExitCode> {
    let (mut n_errors, mut n_warnings, mut n_notes, mut n_rules) = (0, 0, 0, 0);
    let mut json_out = serde_json::Map::new();
    for file in files {
        let label = file.display().to_string();
        let text = read(file)?;
        let rules = match read_rule_file(&label, &text) {
            Ok(rules) => rules,
            Err(message) => {
                eprintln!("{label}: error: {message}");
                n_errors += 1;
                continue;
            }
        };
        n_rules += rules.len();
        let findings = lint(&rules);
        let (e, w, n) = counts(&findings);
        n_errors += e;
        n_warnings += w;
        n_notes += n;
        match format {
            LintFormat::Text => {
                for finding in &findings {
                    out!("{label}: {finding}");
                }
            }
            LintFormat::Json => {
                json_out.insert(label, serde_json::to_value(&findings)?);
            }
        }
    }
    match format {
        LintFormat::Text => out!(
            "{n_rules} rules in {} files: {n_errors} errors, {n_warnings} warnings, {n_notes} notes",
            files.len()
        ),
        LintFormat::Json => out!("{}", serde_json::to_string_pretty(&json_out)?),
    }
    if n_errors > 0 { Ok(ExitCode::FAILURE) } else { Ok(ExitCode::SUCCESS) }
}
