//! The scenario format, decoded once for every target: name, model, `rejects:`, checks and
//! steps. The tenant or site under test is left to the target that loads it (in process it is
//! decoded here too, over HTTP the server reads it), so its problems are that target's refusal.
//!
//! One case rule: every word a scenario compares with an answer — `expect`, `because` tokens,
//! `rejects` phrases — is compared without regard to case.

use std::fmt;

use portcullis_model::source::{SourcePath, check_yaml};
use portcullis_model::{Channel, UnknownChannel};
use serde::de::{IgnoredAny, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::runner::SourceFile;

/// A scenario file, as the interpreter reads it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// What the scenario shows (the report names it).
    pub name: Option<String>,
    /// The seed or spec section it follows.
    pub source: Option<String>,
    /// More words about it.
    pub description: Option<String>,
    /// Which model the subject is written in.
    #[serde(default)]
    pub model: Model,
    /// The tenant of a cloud scenario; only its presence is read here.
    pub tenant: Option<IgnoredAny>,
    /// The site of a rules scenario; only its presence is read here.
    pub site: Option<IgnoredAny>,
    /// Set when loading the subject must fail: phrases the refusal must contain.
    pub rejects: Option<Phrases>,
    /// Questions asked right after loading.
    #[serde(default)]
    pub checks: Vec<Check>,
    /// Changes and questions, in order, after the checks.
    // A step is written `- login: bob`: a one-key map, not a YAML tag.
    #[serde(default, with = "serde_norway::with::singleton_map_recursive")]
    pub steps: Vec<Step>,
}

/// The two models a scenario can be written in.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    /// A Qlik Cloud tenant (`tenant:`), the default.
    #[default]
    Cloud,
    /// A QSEoW security-rule site (`site:`).
    Rules,
}

impl<'de> Deserialize<'de> for Model {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Model, D::Error> {
        deserializer.deserialize_str(Word("`cloud` or `rules`", |word: &str| match word {
            "cloud" => Ok(Model::Cloud),
            "rules" => Ok(Model::Rules),
            other => Err(format!("unknown model `{other}`; expected `cloud` or `rules`")),
        }))
    }
}

/// Reads one word of a closed set; the error is raised while the word is read, so the
/// decoder names the word's own line and column.
struct Word<T>(&'static str, fn(&str) -> Result<T, String>);

impl<T> Visitor<'_> for Word<T> {
    type Value = T;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.0)
    }

    fn visit_str<E: serde::de::Error>(self, word: &str) -> Result<T, E> {
        (self.1)(word).map_err(E::custom)
    }
}

/// One phrase or a list of them.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Phrases {
    /// `rejects: phrase`.
    One(String),
    /// `rejects: [phrase, phrase]`.
    Many(Vec<String>),
}

impl Phrases {
    /// The phrases as a list.
    pub fn list(&self) -> &[String] {
        match self {
            Phrases::One(one) => std::slice::from_ref(one),
            Phrases::Many(many) => many,
        }
    }
}

/// One question and the answer it expects: a cloud check (`via`, `resource` for items) or a
/// rule check (`resource` and `context`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// The user asked about (a cloud user id, or `DIRECTORY\userId` in a site).
    pub user: String,
    /// Cloud: the channel; a session when left out.
    #[serde(default, deserialize_with = "channel")]
    pub via: Option<Channel>,
    /// The action's name.
    pub action: String,
    /// The space, item or site resource; left out for a cloud tenant-level action.
    pub resource: Option<String>,
    /// Rules: `hub` or `qmc`.
    pub context: Option<String>,
    /// The decision expected.
    pub expect: Expect,
    /// Tokens the explanation must hold.
    #[serde(default)]
    pub because: Vec<String>,
}

impl Check {
    /// The channel the question is asked through (a session unless it says otherwise).
    pub fn channel(&self) -> Channel {
        self.via.clone().unwrap_or(Channel::Session)
    }

    /// The question in words: `bob app:read `sales` via session`, `ACME\bob read `s1` in hub`.
    pub fn describe(&self) -> String {
        let mut words = format!("{} {}", self.user, self.action);
        if let Some(resource) = &self.resource {
            words.push_str(&format!(" `{resource}`"));
        }
        match &self.context {
            Some(context) => words.push_str(&format!(" in {context}")),
            None => words.push_str(&format!(" via {}", self.channel())),
        }
        words
    }

    /// The expected answer in words: `allow`, or `deny because [status:disabled]`.
    pub fn expected(&self) -> String {
        if self.because.is_empty() {
            self.expect.word().to_owned()
        } else {
            format!("{} because [{}]", self.expect.word(), self.because.join(", "))
        }
    }
}

/// A channel, read so that a wrong one is named at its own line and column.
fn channel<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Channel>, D::Error> {
    deserializer
        .deserialize_str(Word("a channel", |word: &str| word.parse().map_err(|e: UnknownChannel| e.to_string())))
        .map(Some)
}

/// `allow` or `deny`, in any case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Granted.
    Allow,
    /// Refused.
    Deny,
}

impl Expect {
    /// The word, as an answer says it.
    pub fn word(self) -> &'static str {
        match self {
            Expect::Allow => "allow",
            Expect::Deny => "deny",
        }
    }
}

impl<'de> Deserialize<'de> for Expect {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Expect, D::Error> {
        deserializer.deserialize_str(Word("`allow` or `deny`", |word: &str| {
            [Expect::Allow, Expect::Deny]
                .into_iter()
                .find(|expect| same_word(expect.word(), word))
                .ok_or_else(|| format!("unknown expectation `{word}`; write `allow` or `deny`"))
        }))
    }
}

impl Serialize for Expect {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.word())
    }
}

/// A step of a cloud scenario, in the words the server's `POST /v1/changes` takes too.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum Step {
    /// Log the user in: a session's rights are fixed here.
    Login(String),
    /// Assign a role.
    Assign(Assign),
    /// Remove a role from one path.
    Unassign(Assign),
    /// Add a user to a group.
    Join(Membership),
    /// Remove a user from a group.
    Leave(Membership),
    /// Set a tenant setting or a UserDefault permission.
    Set(Set),
    /// Mark a space so that data leaves it only through named roles, or take the mark off
    /// (Portcullis's export mark, `docs/export-control.md`).
    Mark(Mark),
    /// Ask a question at this point.
    Check(Check),
}

impl Step {
    /// The step's key, as written: `login`, `assign`, ...
    pub fn key(&self) -> &'static str {
        match self {
            Step::Login(_) => "login",
            Step::Assign(_) => "assign",
            Step::Unassign(_) => "unassign",
            Step::Join(_) => "join",
            Step::Leave(_) => "leave",
            Step::Set(_) => "set",
            Step::Mark(_) => "mark",
            Step::Check(_) => "check",
        }
    }
}

/// A role and whom it is assigned to: exactly one of `user`, `group`, `everyone: true`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Assign {
    /// The role's name.
    pub role: String,
    /// A user id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// A group name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The Everyone group.
    #[serde(default)]
    pub everyone: bool,
}

/// A space and the custom roles data may leave it through (absent or null: no mark).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Mark {
    /// The space id.
    pub space: String,
    /// Custom role names; `[]`: no data leaves.
    #[serde(default)]
    pub export_only_through: Option<Vec<String>>,
}

/// A user and a group.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Membership {
    /// The user id.
    pub user: String,
    /// The group name.
    pub group: String,
}

/// A setting or a UserDefault permission: exactly one of `setting`, `userDefault`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Set {
    /// A tenant setting's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub setting: Option<String>,
    /// A UserDefault permission key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_default: Option<String>,
    /// `true`/`false` for a setting, a permission value such as `allowed`.
    pub value: serde_norway::Value,
}

/// The case rule for tokens and expectations: the same word, whatever its case.
pub fn same_word(left: &str, right: &str) -> bool {
    left.to_lowercase() == right.to_lowercase()
}

/// The case rule for `rejects` phrases: the message holds the phrase, whatever its case.
pub fn holds_phrase(message: &str, phrase: &str) -> bool {
    message.to_lowercase().contains(&phrase.to_lowercase())
}

#[derive(Deserialize)]
struct NameProbe {
    #[serde(default)]
    name: Option<String>,
}

/// A scenario file that cannot be run as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    /// The scenario's name when it could still be read, so the report can show it.
    pub name: Option<String>,
    /// Every problem, each with its file:line:col.
    pub message: String,
}

impl Scenario {
    /// Decodes and checks a scenario.
    pub fn parse(source: &SourceFile) -> Result<Scenario, Unreadable> {
        check_yaml(&source.text).map_err(|error| {
            let at = error
                .location()
                .map(|at| format!("{}:{at}", source.label))
                .unwrap_or_else(|| source.label.clone());
            let message = match error.hint() {
                Some(hint) => format!("{at}: {}; hint: {hint}", error.message()),
                None => format!("{at}: {}", error.message()),
            };
            Unreadable { name: None, message }
        })?;
        let scenario: Scenario = serde_norway::from_str(&source.text).map_err(|error| Unreadable {
            name: serde_norway::from_str::<NameProbe>(&source.text).ok().and_then(|probe| probe.name),
            message: source.decode_error(&error),
        })?;
        let problems = scenario.problems(source);
        if problems.is_empty() {
            Ok(scenario)
        } else {
            Err(Unreadable {
                name: scenario.name,
                message: problems.join("\n              "),
            })
        }
    }

    /// What the types cannot say: which parts each model takes, and that a refusal asks nothing.
    fn problems(&self, source: &SourceFile) -> Vec<String> {
        let root = SourcePath::root();
        let mut problems = Vec::new();
        // The root has no position of its own: a missing part names the file.
        let mut problem = |path: &SourcePath, message: &str| match path.as_str() {
            "" => problems.push(format!("{}: {message}", source.label)),
            _ => problems.push(format!("{}: {message}", source.locate(path))),
        };
        match self.model {
            Model::Cloud => {
                if self.tenant.is_none() {
                    problem(&root, "the scenario has no `tenant:`");
                }
                if self.site.is_some() {
                    problem(&root.key("site"), "`site:` is for `model: rules` scenarios");
                }
            }
            Model::Rules => {
                if self.site.is_none() {
                    problem(&root, "the scenario has no `site:`");
                }
                if self.tenant.is_some() {
                    problem(&root.key("tenant"), "`tenant:` is for cloud scenarios; a rules scenario has a `site:`");
                }
                if !self.steps.is_empty() {
                    problem(&root.key("steps"), "a rules scenario has no steps");
                }
            }
        }
        if self.rejects.is_some() && !(self.checks.is_empty() && self.steps.is_empty()) {
            let path = if self.checks.is_empty() { root.key("steps") } else { root.key("checks") };
            problem(&path, "a `rejects:` scenario has no checks or steps: what it loads must be refused");
        }
        for (path, check) in self.all_checks() {
            match self.model {
                Model::Cloud if check.context.is_some() => {
                    problem(
                        &path.key("context"),
                        "`context` is for rule checks; a cloud check names its channel with `via`",
                    );
                }
                Model::Rules if check.via.is_some() => {
                    problem(
                        &path.key("via"),
                        "`via` is for cloud checks; a rule check names its `context` (`hub` or `qmc`)",
                    );
                }
                Model::Rules if check.resource.is_none() || check.context.is_none() => {
                    problem(&path, "a rule check names its `resource` and its `context` (`hub` or `qmc`)");
                }
                _ => {}
            }
        }
        problems
    }

    /// Every check with where it is written: `checks[i]` and `steps[i].check`.
    fn all_checks(&self) -> impl Iterator<Item = (SourcePath, &Check)> {
        let root = SourcePath::root();
        let checks = self.checks.iter().enumerate().map({
            let root = root.clone();
            move |(idx, check)| (root.key("checks").index(idx), check)
        });
        let steps = self.steps.iter().enumerate().filter_map(move |(idx, step)| match step {
            Step::Check(check) => Some((root.key("steps").index(idx).key(step.key()), check)),
            _ => None,
        });
        checks.chain(steps)
    }
}
