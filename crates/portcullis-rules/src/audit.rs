//! The audit matrix (QMC Audit page): for users × resources in one request context, the
//! actions granted and the rules that grant them; and the preview of an unsaved rule as the
//! difference it makes to that matrix. Renders as a text table, CSV or JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use serde::Serialize;

use crate::action::ActionSet;
use crate::compile::{CompiledSite, ResourceId, UserId};
use crate::context::RequestContext;
use crate::err::RuleError;
use crate::eval::PrivilegeMemo;
use crate::site::{Rule, Site};

/// Which part of the site to audit.
#[derive(Debug, Clone, Default)]
pub struct AuditScope {
    /// Only these users (`DIRECTORY\userId`, ignoring case); all when empty.
    pub users: Vec<String>,
    /// Only resources of this type (ignoring case); all when `None`.
    pub resource_type: Option<String>,
    /// Only these actions; all when empty.
    pub actions: ActionSet,
}

/// One non-empty cell: what a user may do on a resource, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditCell {
    /// The user, `DIRECTORY\userId`.
    pub user: String,
    /// The resource id.
    pub resource: String,
    /// Every action granted.
    #[serde(serialize_with = "serialize_actions")]
    pub granted: ActionSet,
    /// Each granting rule and the actions it grants here.
    pub rules: Vec<RuleGrant>,
}

/// A rule's share of a cell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleGrant {
    /// The rule's name.
    pub rule: String,
    /// What it grants in this cell.
    #[serde(serialize_with = "serialize_actions")]
    pub actions: ActionSet,
}

fn serialize_actions<S: serde::Serializer>(actions: &ActionSet, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(actions.actions().map(|a| a.name()))
}

/// A resource as shown in the matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditResource {
    /// Its id.
    pub id: String,
    /// Its type.
    #[serde(rename = "type")]
    pub resource_type: String,
    /// Its name.
    pub name: Option<String>,
}

/// The matrix: only cells where something is granted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditMatrix {
    /// The request context audited.
    pub context: &'static str,
    /// The users audited.
    pub users: Vec<String>,
    /// The resources audited.
    pub resources: Vec<AuditResource>,
    /// Non-empty cells, by user then resource.
    pub cells: Vec<AuditCell>,
}

fn scope_ids(site: &CompiledSite, scope: &AuditScope) -> (Vec<UserId>, Vec<ResourceId>) {
    let users: Vec<UserId> = if scope.users.is_empty() {
        site.user_ids().collect()
    } else {
        scope.users.iter().filter_map(|u| site.user(u)).collect()
    };
    let resources: Vec<ResourceId> = site
        .resource_ids()
        .filter(|r| match (&scope.resource_type, site.resource_source(*r)) {
            (Some(wanted), Some(resource)) => resource.resource_type.eq_ignore_ascii_case(wanted),
            _ => true,
        })
        .collect();
    (users, resources)
}

/// Reports how far long work has come: `(done, total)` in the work's own units (users' rows).
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

/// Computes the matrix. Rules are evaluated one by one (not stopped at the first grant) so
/// every granting rule is named.
pub fn audit(site: &CompiledSite, context: RequestContext, scope: &AuditScope) -> AuditMatrix {
    audit_with_progress(site, context, scope, &mut |_, _| {})
}

/// [`audit`], reporting each user's row as it is done (a large site takes seconds).
///
/// Rows are worked out in chunks on every core the machine offers (the plan they share is
/// built once, see `classes.rs`), and put back in user order.
pub fn audit_with_progress(site: &CompiledSite, context: RequestContext, scope: &AuditScope, progress: Progress<'_>) -> AuditMatrix {
    let (users, resources) = scope_ids(site, scope);
    let wanted = if scope.actions.is_empty() { ActionSet::ALL } else { scope.actions };
    let total = users.len() as u64;
    progress(0, total);
    let plan = site.audit_plan(&resources, context, wanted);
    let chunks: Vec<&[UserId]> = users.chunks(ROWS_PER_CHUNK).collect();
    let row_cells = |rows: &[UserId]| {
        let mut cells = Vec::new();
        let mut memo = PrivilegeMemo::default();
        for user in rows {
            let user_key = site.user_key(*user);
            site.audit_row(&plan, *user, context, &mut memo, &mut |position, granted, granting| {
                let Some(resource) = resources.get(position as usize) else { return };
                let rules = granting
                    .iter()
                    .filter_map(|idx| site.rules().get(*idx as usize).map(|rule| (rule, plan.actions_of(*idx))))
                    .map(|(rule, actions)| RuleGrant {
                        rule: rule.name.clone(),
                        actions,
                    })
                    .collect();
                cells.push(AuditCell {
                    user: user_key.to_owned(),
                    resource: site.resource_id(*resource).to_owned(),
                    granted,
                    rules,
                });
            });
        }
        cells
    };
    let mut rows_done = 0u64;
    let cells = in_parallel(&chunks, |chunk| row_cells(chunk), &mut |chunk: &&[UserId]| {
        rows_done += chunk.len() as u64;
        progress(rows_done, total);
    })
    .into_iter()
    .flatten()
    .collect();
    progress(total, total);
    AuditMatrix {
        context: context.name(),
        users: users.iter().map(|u| site.user_key(*u).to_owned()).collect(),
        resources: resources
            .iter()
            .filter_map(|r| site.resource_source(*r))
            .map(|r| AuditResource {
                id: r.id.clone(),
                resource_type: r.resource_type.clone(),
                name: r.name.clone(),
            })
            .collect(),
        cells,
    }
}

/// Users per chunk of audit work: enough to make handing out chunks cheap, few enough that
/// the cores finish together and progress moves often.
const ROWS_PER_CHUNK: usize = 16;

/// `job` on each of `jobs` on as many threads as the machine has cores (none for a single
/// job), the results in the jobs' order; `done` hears of each finished job, on this thread.
fn in_parallel<J: Sync, T: Send>(jobs: &[J], job: impl Fn(&J) -> T + Sync, done: &mut dyn FnMut(&J)) -> Vec<T> {
    let n_threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(jobs.len());
    if n_threads <= 1 {
        return jobs
            .iter()
            .map(|j| {
                let result = job(j);
                done(j);
                result
            })
            .collect();
    }
    let next = AtomicUsize::new(0);
    let (sender, receiver) = mpsc::channel();
    std::thread::scope(|threads| {
        for _ in 0..n_threads {
            let sender = sender.clone();
            let (next, job) = (&next, &job);
            threads.spawn(move || {
                loop {
                    let idx = next.fetch_add(1, Ordering::Relaxed);
                    let Some(j) = jobs.get(idx) else { break };
                    if sender.send((idx, job(j))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(sender);
        let mut results: Vec<Option<T>> = jobs.iter().map(|_| None).collect();
        for (idx, result) in receiver {
            if let (Some(slot), Some(j)) = (results.get_mut(idx), jobs.get(idx)) {
                *slot = Some(result);
                done(j);
            }
        }
        results.into_iter().flatten().collect()
    })
}

/// One change an unsaved rule makes to a cell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffCell {
    /// The user.
    pub user: String,
    /// The resource.
    pub resource: String,
    /// Actions granted after and not before.
    #[serde(serialize_with = "serialize_actions")]
    pub added: ActionSet,
    /// Actions granted before and not after.
    #[serde(serialize_with = "serialize_actions")]
    pub removed: ActionSet,
    /// The rules granting the added actions after the change.
    pub added_by: Vec<String>,
}

/// What saving some rules would change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditDiff {
    /// The request context.
    pub context: &'static str,
    /// Names of the rules previewed; `(replaces)` marks one that replaces a rule of that name.
    pub previewed: Vec<String>,
    /// Changed cells.
    pub changes: Vec<DiffCell>,
}

/// Previews `unsaved` rules on `site`: a rule with the name of an existing rule replaces it (an
/// edit), others are added. Previewed rules run even when marked disabled, as in the QMC.
pub fn preview(site: &Site, unsaved: &[Rule], context: RequestContext, scope: &AuditScope) -> Result<AuditDiff, Vec<RuleError>> {
    preview_with_progress(site, unsaved, context, scope, &mut |_, _| {})
}

/// [`preview`], reporting progress over both matrices (before and after) as one piece of work.
pub fn preview_with_progress(
    site: &Site,
    unsaved: &[Rule],
    context: RequestContext,
    scope: &AuditScope,
    progress: Progress<'_>,
) -> Result<AuditDiff, Vec<RuleError>> {
    let before_site = CompiledSite::compile(site)?;
    let mut after = site.clone();
    let mut previewed = Vec::new();
    for rule in unsaved {
        let mut rule = rule.clone();
        rule.disabled = false;
        match after.rules.iter_mut().find(|r| r.name.eq_ignore_ascii_case(&rule.name)) {
            Some(existing) => {
                previewed.push(format!("{} (replaces)", rule.name));
                *existing = rule;
            }
            None => {
                previewed.push(rule.name.clone());
                after.rules.push(rule);
            }
        }
    }
    let after_site = CompiledSite::compile(&after)?;
    let before = audit_with_progress(&before_site, context, scope, &mut |done, total| progress(done, 2 * total));
    let after_matrix = audit_with_progress(&after_site, context, scope, &mut |done, total| progress(total + done, 2 * total));
    Ok(diff(&before, &after_matrix, previewed))
}

/// The difference between two matrices of the same site.
pub fn diff(before: &AuditMatrix, after: &AuditMatrix, previewed: Vec<String>) -> AuditDiff {
    let key = |c: &AuditCell| (c.user.clone(), c.resource.clone());
    let before_cells: BTreeMap<(String, String), &AuditCell> = before.cells.iter().map(|c| (key(c), c)).collect();
    let after_cells: BTreeMap<(String, String), &AuditCell> = after.cells.iter().map(|c| (key(c), c)).collect();
    let mut keys: Vec<&(String, String)> = before_cells.keys().chain(after_cells.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut changes = Vec::new();
    for key in keys {
        let old = before_cells.get(key).map_or(ActionSet::NONE, |c| c.granted);
        let new_cell = after_cells.get(key);
        let new = new_cell.map_or(ActionSet::NONE, |c| c.granted);
        let added = new.minus(old);
        let removed = old.minus(new);
        if added.is_empty() && removed.is_empty() {
            continue;
        }
        let added_by = new_cell
            .map(|c| {
                c.rules
                    .iter()
                    .filter(|g| !ActionSet(g.actions.0 & added.0).is_empty())
                    .map(|g| g.rule.clone())
                    .collect()
            })
            .unwrap_or_default();
        changes.push(DiffCell {
            user: key.0.clone(),
            resource: key.1.clone(),
            added,
            removed,
            added_by,
        });
    }
    AuditDiff {
        context: before.context,
        previewed,
        changes,
    }
}

fn resource_label(matrix: &AuditMatrix, id: &str) -> String {
    match matrix.resources.iter().find(|r| r.id == id) {
        Some(AuditResource {
            resource_type,
            name: Some(name),
            ..
        }) => format!("{id} ({resource_type} `{name}`)"),
        Some(AuditResource { resource_type, .. }) => format!("{id} ({resource_type})"),
        None => id.to_owned(),
    }
}

fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (idx, cell) in row.iter().enumerate() {
            if let Some(width) = widths.get_mut(idx) {
                *width = (*width).max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[String]| {
        let parts: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        let _ = writeln!(out, "{}", parts.join("  ").trim_end());
    };
    line(&headers.iter().map(|h| (*h).to_owned()).collect::<Vec<_>>());
    line(&widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>());
    for row in rows {
        line(row);
    }
    out
}

fn grants_text(rules: &[RuleGrant]) -> String {
    rules.iter().map(|g| format!("{} [{}]", g.rule, g.actions)).collect::<Vec<_>>().join("; ")
}

impl AuditMatrix {
    /// The matrix as a text table: one row per user and resource with a grant.
    pub fn to_table(&self) -> String {
        let rows: Vec<Vec<String>> = self
            .cells
            .iter()
            .map(|c| {
                vec![
                    c.user.clone(),
                    resource_label(self, &c.resource),
                    c.granted.to_string(),
                    grants_text(&c.rules),
                ]
            })
            .collect();
        let mut out = table(&["USER", "RESOURCE", "ACTIONS", "GRANTED BY"], &rows);
        let _ = writeln!(
            out,
            "{} users × {} resources in {}: {} cells with grants",
            self.users.len(),
            self.resources.len(),
            self.context,
            self.cells.len()
        );
        out
    }

    /// The matrix as CSV: `user,resource,resource_type,resource_name,actions,rules`.
    pub fn to_csv(&self) -> String {
        let mut out = String::from("user,resource,resource_type,resource_name,actions,rules\n");
        for cell in &self.cells {
            let resource = self.resources.iter().find(|r| r.id == cell.resource);
            let actions: Vec<&str> = cell.granted.actions().map(|a| a.name()).collect();
            let rules: Vec<String> = cell
                .rules
                .iter()
                .map(|g| format!("{}({})", g.rule, g.actions.actions().map(|a| a.name()).collect::<Vec<_>>().join(" ")))
                .collect();
            let fields = [
                cell.user.clone(),
                cell.resource.clone(),
                resource.map(|r| r.resource_type.clone()).unwrap_or_default(),
                resource.and_then(|r| r.name.clone()).unwrap_or_default(),
                actions.join(";"),
                rules.join(";"),
            ];
            let fields: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
            let _ = writeln!(out, "{}", fields.join(","));
        }
        out
    }

    /// The matrix as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

impl AuditDiff {
    /// The diff as a text table: `+` rows for added actions, `-` rows for removed ones.
    pub fn to_table(&self) -> String {
        let mut rows = Vec::new();
        for change in &self.changes {
            if !change.added.is_empty() {
                rows.push(vec![
                    "+".into(),
                    change.user.clone(),
                    change.resource.clone(),
                    change.added.to_string(),
                    change.added_by.join(", "),
                ]);
            }
            if !change.removed.is_empty() {
                rows.push(vec![
                    "-".into(),
                    change.user.clone(),
                    change.resource.clone(),
                    change.removed.to_string(),
                    String::new(),
                ]);
            }
        }
        let mut out = table(&["", "USER", "RESOURCE", "ACTIONS", "GRANTED BY"], &rows);
        let n_added = self.changes.iter().filter(|c| !c.added.is_empty()).count();
        let n_removed = self.changes.iter().filter(|c| !c.removed.is_empty()).count();
        let _ = writeln!(
            out,
            "preview of {} in {}: {n_added} cells gain actions, {n_removed} cells lose actions",
            self.previewed.join(", "),
            self.context
        );
        out
    }

    /// The diff as CSV: `change,user,resource,actions,rules`.
    pub fn to_csv(&self) -> String {
        let mut out = String::from("change,user,resource,actions,rules\n");
        for change in &self.changes {
            for (sign, actions, rules) in [("+", change.added, change.added_by.join(";")), ("-", change.removed, String::new())] {
                if !actions.is_empty() {
                    let names: Vec<&str> = actions.actions().map(|a| a.name()).collect();
                    let _ = writeln!(
                        out,
                        "{sign},{},{},{},{}",
                        csv_field(&change.user),
                        csv_field(&change.resource),
                        names.join(";"),
                        csv_field(&rules)
                    );
                }
            }
        }
        out
    }

    /// The diff as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}
