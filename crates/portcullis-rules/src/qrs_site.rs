//! A whole QRS site, as the repository's `/qrs/<kind>/full` endpoints return it: users, user
//! directories, streams, apps, custom property definitions, data connections and system
//! rules, one JSON array per kind. Read from files named by kind (a folder, a `.tar.gz`
//! archive, or one JSON object holding the seven arrays), checked with every problem located
//! as (file, object id, field), converted to a [`Site`], and written back to the same shapes.
//!
//! The files, by kind ([`Kind::file_name`]): `users.json` and `systemrules.json` are required
//! (a site without them decides nothing); the five others may be missing and then count as
//! empty. Unknown fields in the objects are accepted and dropped.
//!
//! In the [`Site`], every QRS object but users and rules becomes a resource of its QRS type
//! (`UserDirectory`, `CustomPropertyDefinition`, `Stream`, `App`, `DataConnection`), so rules
//! reach `resource.stream.name`, `resource.owner.name`, `resource.published` and
//! `resource.@Prop` as QSEoW does. A user's QRS id rides as the attribute [`USER_ID_ATTRIBUTE`],
//! a name no rule can spell, so export can give the same ids back.
//!
//! Pure like the rest of the crate: the caller reads the folder or archive bytes; an archive is
//! unpacked in memory with bounds on its size ([`MAX_ARCHIVE_BYTES`]). Archives are `.tar.gz`
//! because its two readers are small and long maintained: `tar` (without its `xattr` default)
//! and `flate2` with only its pure-Rust backend; the `zip` crate's defaults bring a dozen
//! codecs, and a site's seven text files need none of them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read as _;

use serde::{Deserialize, Serialize};

pub use crate::err::{QrsSiteProblem, Severity};

use crate::compile::CompiledSite;
use crate::err::RuleField;
use crate::qrs::{self, SystemRule};
use crate::site::{Resource, Site, User};

/// The user attribute that keeps a user's QRS id (`:` cannot appear in a rule's path).
pub const USER_ID_ATTRIBUTE: &str = "qrs:id";

/// The most an archive may unpack to: a site of 100k users is some tens of MiB of JSON.
pub const MAX_ARCHIVE_BYTES: u64 = 256 * 1024 * 1024;

/// The most entries an archive may hold (seven files, and the folders around them).
pub const MAX_ARCHIVE_ENTRIES: usize = 64;

/// The seven kinds of objects of a QRS site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// `/qrs/user/full`.
    Users,
    /// `/qrs/userdirectory/full`.
    UserDirectories,
    /// `/qrs/stream/full`.
    Streams,
    /// `/qrs/app/full`.
    Apps,
    /// `/qrs/custompropertydefinition/full`.
    CustomPropertyDefinitions,
    /// `/qrs/dataconnection/full`.
    DataConnections,
    /// `/qrs/systemrule/full`.
    SystemRules,
}

impl Kind {
    /// Every kind, in the order they are read (definitions before the objects that use them).
    pub const ALL: [Kind; 7] = [
        Kind::Users,
        Kind::UserDirectories,
        Kind::Streams,
        Kind::Apps,
        Kind::CustomPropertyDefinitions,
        Kind::DataConnections,
        Kind::SystemRules,
    ];

    /// The key of its array in a site's JSON object (the QRS type in lower case, plural).
    pub fn key(self) -> &'static str {
        match self {
            Kind::Users => "users",
            Kind::UserDirectories => "userdirectories",
            Kind::Streams => "streams",
            Kind::Apps => "apps",
            Kind::CustomPropertyDefinitions => "custompropertydefinitions",
            Kind::DataConnections => "dataconnections",
            Kind::SystemRules => "systemrules",
        }
    }

    /// Its file in a folder or archive.
    pub fn file_name(self) -> String {
        format!("{}.json", self.key())
    }

    /// The kind a file name stands for (`users.json`, any case).
    pub fn of_file(name: &str) -> Option<Kind> {
        let lower = name.to_ascii_lowercase();
        let stem = lower.strip_suffix(".json")?;
        Kind::ALL.into_iter().find(|kind| kind.key() == stem)
    }

    /// Whether a site must have it.
    pub fn required(self) -> bool {
        matches!(self, Kind::Users | Kind::SystemRules)
    }

    /// The QRS object type (a resource's type, and what `objectTypes` of a custom property
    /// definition name).
    pub fn object_type(self) -> &'static str {
        match self {
            Kind::Users => "User",
            Kind::UserDirectories => "UserDirectory",
            Kind::Streams => "Stream",
            Kind::Apps => "App",
            Kind::CustomPropertyDefinitions => "CustomPropertyDefinition",
            Kind::DataConnections => "DataConnection",
            Kind::SystemRules => "SystemRule",
        }
    }
}

/// A reference to another object, as QRS embeds it (`owner`, `stream`, `definition`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QrsRef {
    /// Its id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// An owner, as QRS embeds it in apps, streams and data connections.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QrsOwner {
    /// The user's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The user's id in its directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The user's directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_directory: Option<String>,
    /// The user's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// One value of a custom property on an object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QrsCustomPropertyValue {
    /// The value.
    #[serde(default)]
    pub value: String,
    /// Its definition (by id, or by name when the id is missing).
    #[serde(default)]
    pub definition: QrsRef,
}

/// A user directory attribute (`Group`, `Email`, ...), one value each.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QrsUserAttribute {
    /// The attribute's name.
    #[serde(default)]
    pub attribute_type: String,
    /// Its value.
    #[serde(default)]
    pub attribute_value: String,
}

/// A user of `/qrs/user/full`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QrsUser {
    /// GUID.
    #[serde(default)]
    pub id: Option<String>,
    /// The id within its directory.
    #[serde(default)]
    pub user_id: Option<String>,
    /// The directory.
    #[serde(default)]
    pub user_directory: Option<String>,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// QMC admin roles.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Directory attributes.
    #[serde(default)]
    pub attributes: Vec<QrsUserAttribute>,
    /// Custom property values.
    #[serde(default)]
    pub custom_properties: Vec<QrsCustomPropertyValue>,
}

/// A user directory of `/qrs/userdirectory/full`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QrsUserDirectory {
    /// GUID.
    #[serde(default)]
    pub id: Option<String>,
    /// Display name in the QMC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The directory name its users carry (`user.userDirectory`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_directory_name: Option<String>,
    /// The connector type.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub directory_type: Option<String>,
}

/// A stream of `/qrs/stream/full`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QrsStream {
    /// GUID.
    #[serde(default)]
    pub id: Option<String>,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<QrsOwner>,
    /// Custom property values.
    #[serde(default)]
    pub custom_properties: Vec<QrsCustomPropertyValue>,
}

/// An app of `/qrs/app/full`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QrsApp {
    /// GUID.
    #[serde(default)]
    pub id: Option<String>,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<QrsOwner>,
    /// The stream it is published to (`null` when not published).
    #[serde(default)]
    pub stream: Option<QrsRef>,
    /// Published.
    #[serde(default)]
    pub published: bool,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Custom property values.
    #[serde(default)]
    pub custom_properties: Vec<QrsCustomPropertyValue>,
}

/// A custom property definition of `/qrs/custompropertydefinition/full`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QrsCustomPropertyDefinition {
    /// GUID.
    #[serde(default)]
    pub id: Option<String>,
    /// Name (`@Name` in rules).
    #[serde(default)]
    pub name: Option<String>,
    /// `Text` in practice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_type: Option<String>,
    /// The values it may take (any, when empty).
    #[serde(default)]
    pub choice_values: Vec<String>,
    /// The object types it may be set on (`App`, `Stream`, `User`, ...; any, when empty).
    #[serde(default)]
    pub object_types: Vec<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A data connection of `/qrs/dataconnection/full`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QrsDataConnection {
    /// GUID.
    #[serde(default)]
    pub id: Option<String>,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// The connection string (`resource.connectionstring`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connectionstring: Option<String>,
    /// `folder`, `ODBC`, ... (`resource.type`).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub connection_type: Option<String>,
    /// Owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<QrsOwner>,
    /// Custom property values.
    #[serde(default)]
    pub custom_properties: Vec<QrsCustomPropertyValue>,
}

/// A whole site: the seven arrays, as one JSON object keyed by [`Kind::key`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QrsSite {
    /// Users.
    #[serde(default)]
    pub users: Vec<QrsUser>,
    /// User directories.
    #[serde(default)]
    pub userdirectories: Vec<QrsUserDirectory>,
    /// Streams.
    #[serde(default)]
    pub streams: Vec<QrsStream>,
    /// Apps.
    #[serde(default)]
    pub apps: Vec<QrsApp>,
    /// Custom property definitions.
    #[serde(default)]
    pub custompropertydefinitions: Vec<QrsCustomPropertyDefinition>,
    /// Data connections.
    #[serde(default)]
    pub dataconnections: Vec<QrsDataConnection>,
    /// System rules.
    #[serde(default)]
    pub systemrules: Vec<SystemRule>,
}

impl QrsSite {
    /// How many objects of each kind.
    pub fn counts(&self) -> BTreeMap<Kind, usize> {
        BTreeMap::from([
            (Kind::Users, self.users.len()),
            (Kind::UserDirectories, self.userdirectories.len()),
            (Kind::Streams, self.streams.len()),
            (Kind::Apps, self.apps.len()),
            (Kind::CustomPropertyDefinitions, self.custompropertydefinitions.len()),
            (Kind::DataConnections, self.dataconnections.len()),
            (Kind::SystemRules, self.systemrules.len()),
        ])
    }

    /// The seven files: name and text (a pretty-printed JSON array, then a newline).
    pub fn to_files(&self) -> Vec<(String, String)> {
        fn text<T: Serialize>(items: &[T]) -> String {
            let mut text = serde_json::to_string_pretty(items).unwrap_or_else(|_| "[]".to_owned());
            text.push('\n');
            text
        }
        Kind::ALL
            .into_iter()
            .map(|kind| {
                let body = match kind {
                    Kind::Users => text(&self.users),
                    Kind::UserDirectories => text(&self.userdirectories),
                    Kind::Streams => text(&self.streams),
                    Kind::Apps => text(&self.apps),
                    Kind::CustomPropertyDefinitions => text(&self.custompropertydefinitions),
                    Kind::DataConnections => text(&self.dataconnections),
                    Kind::SystemRules => text(&self.systemrules),
                };
                (kind.file_name(), body)
            })
            .collect()
    }
}

impl QrsSiteProblem {
    fn error(file: impl Into<String>, object: Option<String>, field: Option<&str>, message: impl Into<String>) -> Self {
        QrsSiteProblem {
            severity: Severity::Error,
            file: file.into(),
            object,
            field: field.map(str::to_owned),
            message: message.into(),
            hint: None,
        }
    }

    fn warning(file: impl Into<String>, object: Option<String>, field: Option<&str>, message: impl Into<String>) -> Self {
        QrsSiteProblem {
            severity: Severity::Warning,
            ..QrsSiteProblem::error(file, object, field, message)
        }
    }

    fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// Whether any problem is an error.
pub fn has_errors(problems: &[QrsSiteProblem]) -> bool {
    problems.iter().any(|p| p.severity == Severity::Error)
}

/// The files of a site as read from a folder or an archive: file name → text.
#[derive(Debug, Clone, Default)]
pub struct QrsSiteFiles {
    files: BTreeMap<String, String>,
    /// Where they came from (an archive's name), for problems about the whole.
    label: String,
}

impl QrsSiteFiles {
    /// No files yet; `label` names the folder or archive in problems.
    pub fn new(label: impl Into<String>) -> Self {
        QrsSiteFiles {
            files: BTreeMap::new(),
            label: label.into(),
        }
    }

    /// Adds a file by its name (without folders).
    pub fn insert(&mut self, name: impl Into<String>, text: impl Into<String>) {
        self.files.insert(name.into(), text.into());
    }

    /// The files of a `.tar.gz` archive, unpacked in memory. Files may sit at its root or
    /// in folders (only the last part of the name counts); folders and links are skipped. The
    /// problem comes in a list, as import's do.
    pub fn from_tar_gz(label: impl Into<String>, bytes: &[u8]) -> Result<Self, Vec<QrsSiteProblem>> {
        Self::from_tar_gz_within(label, bytes, MAX_ARCHIVE_BYTES)
    }

    /// [`QrsSiteFiles::from_tar_gz`] with a lower bound on what it unpacks to (a server keeps
    /// it near what it may store).
    pub fn from_tar_gz_within(label: impl Into<String>, bytes: &[u8], max_bytes: u64) -> Result<Self, Vec<QrsSiteProblem>> {
        Self::unpack_tar_gz(label, bytes, max_bytes.min(MAX_ARCHIVE_BYTES)).map_err(|problem| vec![*problem])
    }

    fn unpack_tar_gz(label: impl Into<String>, bytes: &[u8], max_bytes: u64) -> Result<Self, Box<QrsSiteProblem>> {
        let mut files = QrsSiteFiles::new(label);
        let bad = |message: String| QrsSiteProblem::error(files.label.clone(), None, None, message);
        let decoder = flate2::read::GzDecoder::new(bytes);
        // One bound for the whole unpacked stream: tar headers and contents alike.
        let mut archive = tar::Archive::new(decoder.take(max_bytes + 1));
        let entries = archive
            .entries()
            .map_err(|e| bad(format!("not a .tar.gz archive: {e}")).hint("pack the seven JSON files with `tar czf site.tar.gz *.json`"))?;
        let mut total: u64 = 0;
        let mut found = BTreeMap::new();
        for (n, entry) in entries.enumerate() {
            if n >= MAX_ARCHIVE_ENTRIES {
                return Err(Box::new(bad(format!("the archive holds more than {MAX_ARCHIVE_ENTRIES} entries"))));
            }
            let mut entry = entry.map_err(|e| bad(format!("not a .tar.gz archive: {e}")))?;
            if !entry.header().entry_type().is_file() {
                continue;
            }
            let path = entry.path().map_err(|e| bad(format!("an entry has an unreadable name: {e}")))?;
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            total = total.saturating_add(entry.size());
            if total > max_bytes {
                return Err(Box::new(bad(format!("the archive unpacks to more than {max_bytes} bytes"))));
            }
            let mut text = String::new();
            entry
                .read_to_string(&mut text)
                .map_err(|e| QrsSiteProblem::error(name.clone(), None, None, format!("cannot read it from the archive as UTF-8 text: {e}")))?;
            found.insert(name, text);
        }
        files.files = found;
        Ok(files)
    }

    /// The site the files hold, with the problems of reading them (a missing required file,
    /// a file that is not a JSON array, an object of the wrong shape, an unknown file).
    pub fn parse(&self) -> (QrsSite, Vec<QrsSiteProblem>) {
        let mut problems = Vec::new();
        let mut by_kind: BTreeMap<Kind, (String, &str)> = BTreeMap::new();
        for (name, text) in &self.files {
            match Kind::of_file(name) {
                Some(kind) => {
                    if let Some((other, _)) = by_kind.insert(kind, (name.clone(), text)) {
                        problems.push(QrsSiteProblem::error(name.clone(), None, None, format!("`{other}` holds the same kind")));
                    }
                }
                None => problems.push(
                    QrsSiteProblem::warning(name.clone(), None, None, "not a file of a QRS site; ignored")
                        .hint(format!("the files are {}", file_names())),
                ),
            }
        }
        let mut arrays = BTreeMap::new();
        for kind in Kind::ALL {
            match by_kind.get(&kind) {
                None if kind.required() => problems.push(QrsSiteProblem::error(kind.file_name(), None, None, "the file is missing").hint(format!(
                    "save the JSON of `GET /qrs/{}/full` as {}",
                    kind.object_type().to_lowercase(),
                    kind.file_name()
                ))),
                None => {}
                Some((name, text)) => match serde_json::from_str::<serde_json::Value>(without_bom(text)) {
                    Ok(value) => {
                        arrays.insert(kind, (name.clone(), value));
                    }
                    Err(e) => problems.push(QrsSiteProblem::error(name.clone(), None, None, format!("not JSON: {e}"))),
                },
            }
        }
        (decode(arrays, &mut problems), problems)
    }
}

/// The text after a UTF-8 byte order mark, which Windows tools often write before JSON.
fn without_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// The seven file names, for hints.
fn file_names() -> String {
    Kind::ALL.map(Kind::file_name).join(", ")
}

/// A site from one JSON object with the seven arrays (keys as [`Kind::key`]). A required
/// array that is missing is a problem, as a missing file is.
pub fn parse_object(text: &str) -> (QrsSite, Vec<QrsSiteProblem>) {
    let mut problems = Vec::new();
    let label = "the site object";
    let object = match serde_json::from_str::<serde_json::Value>(without_bom(text)) {
        Ok(serde_json::Value::Object(object)) => object,
        Ok(_) => {
            problems.push(QrsSiteProblem::error(label, None, None, "not a JSON object").hint(format!("send {{{}}}", key_list())));
            return (QrsSite::default(), problems);
        }
        Err(e) => {
            problems.push(QrsSiteProblem::error(label, None, None, format!("not JSON: {e}")));
            return (QrsSite::default(), problems);
        }
    };
    let mut arrays = BTreeMap::new();
    for (key, value) in object {
        match Kind::ALL.into_iter().find(|kind| kind.key().eq_ignore_ascii_case(&key)) {
            Some(kind) => {
                arrays.insert(kind, (kind.key().to_owned(), value));
            }
            None => problems.push(
                QrsSiteProblem::warning(label, None, Some(&key), "not a kind of a QRS site; ignored").hint(format!("the keys are {}", key_list())),
            ),
        }
    }
    for kind in Kind::ALL {
        if kind.required() && !arrays.contains_key(&kind) {
            problems.push(QrsSiteProblem::error(kind.key(), None, None, "the array is missing"));
        }
    }
    (decode(arrays, &mut problems), problems)
}

fn key_list() -> String {
    Kind::ALL.map(Kind::key).join(", ")
}

/// Decodes each kind's array object by object, so a bad object is reported with its id.
fn decode(arrays: BTreeMap<Kind, (String, serde_json::Value)>, problems: &mut Vec<QrsSiteProblem>) -> QrsSite {
    fn items<T: serde::de::DeserializeOwned>(file: &str, value: serde_json::Value, problems: &mut Vec<QrsSiteProblem>) -> Vec<T> {
        let serde_json::Value::Array(values) = value else {
            problems.push(QrsSiteProblem::error(file, None, None, "not a JSON array").hint("save the array that the `/full` endpoint returns"));
            return Vec::new();
        };
        let mut out = Vec::with_capacity(values.len());
        for (idx, value) in values.into_iter().enumerate() {
            let object = object_label(value.get("id").and_then(serde_json::Value::as_str), idx);
            match serde_json::from_value::<T>(value) {
                Ok(item) => out.push(item),
                Err(e) => problems.push(QrsSiteProblem::error(file, Some(object), None, format!("not of the QRS shape: {e}"))),
            }
        }
        out
    }
    let mut site = QrsSite::default();
    for (kind, (file, value)) in arrays {
        match kind {
            Kind::Users => site.users = items(&file, value, problems),
            Kind::UserDirectories => site.userdirectories = items(&file, value, problems),
            Kind::Streams => site.streams = items(&file, value, problems),
            Kind::Apps => site.apps = items(&file, value, problems),
            Kind::CustomPropertyDefinitions => site.custompropertydefinitions = items(&file, value, problems),
            Kind::DataConnections => site.dataconnections = items(&file, value, problems),
            Kind::SystemRules => site.systemrules = items(&file, value, problems),
        }
    }
    site
}

/// An object's label in problems: its id, or its index when it has none.
fn object_label(id: Option<&str>, idx: usize) -> String {
    match id {
        Some(id) if !id.is_empty() => id.to_owned(),
        _ => format!("#{idx}"),
    }
}

/// A site imported from QRS: the site, and the warnings found on the way.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The site.
    pub site: Site,
    /// How many objects of each kind were read.
    pub counts: BTreeMap<Kind, usize>,
    /// Warnings (never errors: those fail the import).
    pub warnings: Vec<QrsSiteProblem>,
}

/// Reads, checks and converts the files of a site: every problem, or the site.
pub fn import_files(files: &QrsSiteFiles) -> Result<Imported, Vec<QrsSiteProblem>> {
    let (qrs_site, problems) = files.parse();
    import_with(&qrs_site, problems, &|kind| {
        files
            .files
            .keys()
            .find(|name| Kind::of_file(name) == Some(kind))
            .cloned()
            .unwrap_or_else(|| kind.file_name())
    })
}

/// Checks and converts a site object ([`parse_object`]): every problem, or the site.
pub fn import_object(text: &str) -> Result<Imported, Vec<QrsSiteProblem>> {
    let (qrs_site, problems) = parse_object(text);
    import_with(&qrs_site, problems, &|kind| kind.key().to_owned())
}

/// Checks and converts a decoded site (files named as [`Kind::file_name`]).
pub fn import(qrs_site: &QrsSite) -> Result<Imported, Vec<QrsSiteProblem>> {
    import_with(qrs_site, Vec::new(), &Kind::file_name)
}

fn import_with(qrs_site: &QrsSite, mut problems: Vec<QrsSiteProblem>, file: &dyn Fn(Kind) -> String) -> Result<Imported, Vec<QrsSiteProblem>> {
    let site = Converter {
        qrs: qrs_site,
        file,
        problems: &mut problems,
    }
    .convert();
    if has_errors(&problems) {
        problems.sort_by_key(|p| p.severity);
        return Err(problems);
    }
    Ok(Imported {
        site,
        counts: qrs_site.counts(),
        warnings: problems,
    })
}

/// Turns a decoded site into a [`Site`], collecting problems.
struct Converter<'a> {
    qrs: &'a QrsSite,
    file: &'a dyn Fn(Kind) -> String,
    problems: &'a mut Vec<QrsSiteProblem>,
}

/// A custom property definition, as checks need it.
struct Definition<'a> {
    name: &'a str,
    choice_values: &'a [String],
    object_types: &'a [String],
}

impl Converter<'_> {
    fn error(&mut self, kind: Kind, object: &str, field: Option<&str>, message: impl Into<String>) -> &mut QrsSiteProblem {
        self.problems
            .push(QrsSiteProblem::error((self.file)(kind), Some(object.to_owned()), field, message));
        self.problems.last_mut().expect("just pushed")
    }

    fn warning(&mut self, kind: Kind, object: &str, field: Option<&str>, message: impl Into<String>) {
        self.problems
            .push(QrsSiteProblem::warning((self.file)(kind), Some(object.to_owned()), field, message));
    }

    /// An object's id, or an error when it has none (the label is then its index).
    fn id(&mut self, kind: Kind, id: &Option<String>, idx: usize) -> (String, bool) {
        match id.as_deref() {
            Some(id) if !id.trim().is_empty() => (id.to_owned(), true),
            _ => {
                let label = object_label(None, idx);
                self.error(kind, &label, Some("id"), format!("the {} has no id", kind.object_type()));
                (label, false)
            }
        }
    }

    /// A required text field, or an error.
    fn required(&mut self, kind: Kind, object: &str, field: &str, value: &Option<String>) -> String {
        match value.as_deref() {
            Some(text) if !text.trim().is_empty() => text.to_owned(),
            _ => {
                self.error(kind, object, Some(field), format!("`{field}` is missing or empty"));
                String::new()
            }
        }
    }

    fn convert(mut self) -> Site {
        let qrs = self.qrs;
        let mut site = Site::default();
        // Every resource id, across kinds: the site knows a resource by its id alone.
        let mut resource_ids: HashMap<String, Kind> = HashMap::new();
        let mut claim = |this: &mut Self, kind: Kind, id: &str| {
            if let Some(other) = resource_ids.insert(id.to_owned(), kind) {
                let where_ = if other == kind {
                    String::new()
                } else {
                    format!(" (by a {} too)", other.object_type())
                };
                this.error(kind, id, Some("id"), format!("the id `{id}` is used twice{where_}"));
            }
        };

        // Definitions first: the objects' custom properties are checked against them.
        let mut definitions: HashMap<String, Definition<'_>> = HashMap::new();
        let mut definition_names: HashMap<String, String> = HashMap::new();
        for (idx, definition) in qrs.custompropertydefinitions.iter().enumerate() {
            let kind = Kind::CustomPropertyDefinitions;
            let (id, has_id) = self.id(kind, &definition.id, idx);
            let name = self.required(kind, &id, "name", &definition.name);
            if has_id {
                claim(&mut self, kind, &id);
            }
            if !name.is_empty() && definition_names.insert(name.to_lowercase(), id.clone()).is_some() {
                self.error(kind, &id, Some("name"), format!("a custom property `{name}` is defined twice"));
            }
            let mut attributes = BTreeMap::new();
            if let Some(value_type) = &definition.value_type {
                attributes.insert("valueType".to_owned(), vec![value_type.clone()]);
            }
            attributes.insert("choiceValues".to_owned(), definition.choice_values.clone());
            attributes.insert("objectTypes".to_owned(), definition.object_types.clone());
            if let Some(description) = &definition.description {
                attributes.insert("description".to_owned(), vec![description.clone()]);
            }
            definitions.insert(
                id.clone(),
                Definition {
                    name: definition.name.as_deref().unwrap_or_default(),
                    choice_values: &definition.choice_values,
                    object_types: &definition.object_types,
                },
            );
            site.resources.push(Resource {
                id,
                resource_type: kind.object_type().to_owned(),
                name: Some(name),
                attributes,
                ..Resource::default()
            });
        }
        let properties = |this: &mut Self, kind: Kind, object: &str, values: &[QrsCustomPropertyValue]| {
            let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for value in values {
                let found = match (&value.definition.id, &value.definition.name) {
                    (Some(id), _) if !id.is_empty() => definitions.get(id),
                    (_, Some(name)) => definition_names.get(&name.to_lowercase()).and_then(|id| definitions.get(id)),
                    _ => None,
                };
                let Some(definition) = found else {
                    let shown = value.definition.name.as_deref().or(value.definition.id.as_deref()).unwrap_or("?");
                    this.error(
                        kind,
                        object,
                        Some("customProperties"),
                        format!("the custom property `{shown}` has no definition"),
                    )
                    .hint = Some(format!("define it in {}", (this.file)(Kind::CustomPropertyDefinitions)));
                    continue;
                };
                if !definition.object_types.is_empty() && !definition.object_types.iter().any(|t| t.eq_ignore_ascii_case(kind.object_type())) {
                    this.error(
                        kind,
                        object,
                        Some("customProperties"),
                        format!(
                            "the custom property `{}` is not for objects of type {} (its objectTypes: {})",
                            definition.name,
                            kind.object_type(),
                            definition.object_types.join(", ")
                        ),
                    );
                }
                if !definition.choice_values.is_empty() && !definition.choice_values.contains(&value.value) {
                    this.error(
                        kind,
                        object,
                        Some("customProperties"),
                        format!("`{}` is not a value of the custom property `{}`", value.value, definition.name),
                    )
                    .hint = Some(format!("its choiceValues: {}", definition.choice_values.join(", ")));
                }
                let values = out.entry(definition.name.to_owned()).or_default();
                if !values.contains(&value.value) {
                    values.push(value.value.clone());
                }
            }
            out
        };

        // Users, by id and by key (owners name them either way).
        let mut user_by_id: HashMap<String, usize> = HashMap::new();
        let mut user_keys: HashSet<String> = HashSet::new();
        let directories: HashSet<String> = qrs
            .userdirectories
            .iter()
            .filter_map(|d| d.user_directory_name.as_deref().filter(|n| !n.is_empty()).or(d.name.as_deref()))
            .map(str::to_lowercase)
            .collect();
        for (idx, user) in qrs.users.iter().enumerate() {
            let kind = Kind::Users;
            let (id, has_id) = self.id(kind, &user.id, idx);
            let user_id = self.required(kind, &id, "userId", &user.user_id);
            let user_directory = self.required(kind, &id, "userDirectory", &user.user_directory);
            if has_id && user_by_id.insert(id.clone(), site.users.len()).is_some() {
                self.error(kind, &id, Some("id"), format!("the id `{id}` is used twice"));
            }
            let key = format!("{user_directory}\\{user_id}");
            if !user_keys.insert(key.to_lowercase()) {
                self.error(kind, &id, Some("userId"), format!("the user `{key}` is listed twice"));
            }
            if !directories.is_empty() && !user_directory.is_empty() && !directories.contains(&user_directory.to_lowercase()) {
                self.warning(
                    kind,
                    &id,
                    Some("userDirectory"),
                    format!("`{user_directory}` is not a directory of {}", (self.file)(Kind::UserDirectories)),
                );
            }
            let (mut email, mut groups, mut attributes) = (None, Vec::new(), BTreeMap::<String, Vec<String>>::new());
            for attribute in &user.attributes {
                if attribute.attribute_type.is_empty() {
                    self.error(kind, &id, Some("attributes"), "an attribute has no `attributeType`");
                } else if attribute.attribute_type.eq_ignore_ascii_case("email") && email.is_none() {
                    email = Some(attribute.attribute_value.clone());
                } else if attribute.attribute_type.eq_ignore_ascii_case("group") {
                    groups.push(attribute.attribute_value.clone());
                } else {
                    attributes
                        .entry(attribute.attribute_type.clone())
                        .or_default()
                        .push(attribute.attribute_value.clone());
                }
            }
            if has_id {
                attributes.insert(USER_ID_ATTRIBUTE.to_owned(), vec![id.clone()]);
            }
            let custom_properties = properties(&mut self, kind, &id, &user.custom_properties);
            site.users.push(User {
                user_directory,
                user_id,
                name: user.name.clone(),
                email,
                groups,
                roles: user.roles.clone(),
                custom_properties,
                attributes,
                ..User::default()
            });
        }
        let owner = |this: &mut Self, kind: Kind, object: &str, owner: &Option<QrsOwner>| -> Option<String> {
            let owner = owner.as_ref()?;
            let found = match (&owner.id, &owner.user_directory, &owner.user_id) {
                (Some(id), _, _) if !id.is_empty() => user_by_id.get(id).map(|&idx| site.users[idx].key()),
                (_, Some(directory), Some(user_id)) => {
                    let key = format!("{directory}\\{user_id}");
                    user_keys.contains(&key.to_lowercase()).then_some(key)
                }
                _ => None,
            };
            if found.is_none() {
                let shown = owner.id.clone().unwrap_or_else(|| {
                    format!(
                        "{}\\{}",
                        owner.user_directory.as_deref().unwrap_or("?"),
                        owner.user_id.as_deref().unwrap_or("?")
                    )
                });
                this.error(kind, object, Some("owner"), format!("the owner `{shown}` is not a user of the site"))
                    .hint = Some(format!("list the user in {}", (this.file)(Kind::Users)));
            }
            found
        };

        for (idx, directory) in qrs.userdirectories.iter().enumerate() {
            let kind = Kind::UserDirectories;
            let (id, has_id) = self.id(kind, &directory.id, idx);
            if has_id {
                claim(&mut self, kind, &id);
            }
            let mut attributes = BTreeMap::new();
            if let Some(name) = &directory.user_directory_name {
                attributes.insert("userDirectoryName".to_owned(), vec![name.clone()]);
            }
            if let Some(directory_type) = &directory.directory_type {
                attributes.insert("type".to_owned(), vec![directory_type.clone()]);
            }
            site.resources.push(Resource {
                id,
                resource_type: kind.object_type().to_owned(),
                name: directory.name.clone(),
                attributes,
                ..Resource::default()
            });
        }
        let mut stream_ids = HashSet::new();
        for (idx, stream) in qrs.streams.iter().enumerate() {
            let kind = Kind::Streams;
            let (id, has_id) = self.id(kind, &stream.id, idx);
            if has_id {
                claim(&mut self, kind, &id);
                stream_ids.insert(id.clone());
            }
            let name = self.required(kind, &id, "name", &stream.name);
            let owner = owner(&mut self, kind, &id, &stream.owner);
            let custom_properties = properties(&mut self, kind, &id, &stream.custom_properties);
            site.resources.push(Resource {
                id,
                resource_type: kind.object_type().to_owned(),
                name: Some(name),
                owner,
                custom_properties,
                ..Resource::default()
            });
        }
        for (idx, app) in qrs.apps.iter().enumerate() {
            let kind = Kind::Apps;
            let (id, has_id) = self.id(kind, &app.id, idx);
            if has_id {
                claim(&mut self, kind, &id);
            }
            let name = self.required(kind, &id, "name", &app.name);
            let owner = owner(&mut self, kind, &id, &app.owner);
            let stream = match app.stream.as_ref().and_then(|s| s.id.clone()) {
                Some(stream) if !stream_ids.contains(&stream) => {
                    self.error(
                        kind,
                        &id,
                        Some("stream"),
                        format!("the stream `{stream}` is not in {}", (self.file)(Kind::Streams)),
                    );
                    None
                }
                Some(stream) => {
                    if !app.published {
                        self.warning(kind, &id, Some("published"), "the app has a stream but is not published");
                    }
                    Some(stream)
                }
                None => {
                    if app.published {
                        self.error(kind, &id, Some("stream"), "the app is published but names no stream");
                    }
                    None
                }
            };
            let mut attributes = BTreeMap::from([("published".to_owned(), vec![app.published.to_string()])]);
            if let Some(description) = &app.description {
                attributes.insert("description".to_owned(), vec![description.clone()]);
            }
            let custom_properties = properties(&mut self, kind, &id, &app.custom_properties);
            site.resources.push(Resource {
                id,
                resource_type: kind.object_type().to_owned(),
                name: Some(name),
                owner,
                stream,
                custom_properties,
                attributes,
                ..Resource::default()
            });
        }
        for (idx, connection) in qrs.dataconnections.iter().enumerate() {
            let kind = Kind::DataConnections;
            let (id, has_id) = self.id(kind, &connection.id, idx);
            if has_id {
                claim(&mut self, kind, &id);
            }
            let name = self.required(kind, &id, "name", &connection.name);
            let owner = owner(&mut self, kind, &id, &connection.owner);
            let mut attributes = BTreeMap::new();
            if let Some(text) = &connection.connectionstring {
                attributes.insert("connectionstring".to_owned(), vec![text.clone()]);
            }
            if let Some(connection_type) = &connection.connection_type {
                attributes.insert("type".to_owned(), vec![connection_type.clone()]);
            }
            let custom_properties = properties(&mut self, kind, &id, &connection.custom_properties);
            site.resources.push(Resource {
                id,
                resource_type: kind.object_type().to_owned(),
                name: Some(name),
                owner,
                custom_properties,
                attributes,
                ..Resource::default()
            });
        }

        // Rules: fields through the SystemRule import, then filters and conditions by compiling.
        let mut rule_ids = HashSet::new();
        let mut rule_labels = Vec::with_capacity(qrs.systemrules.len());
        for (idx, system_rule) in qrs.systemrules.iter().enumerate() {
            let kind = Kind::SystemRules;
            let label = object_label(system_rule.id.as_deref(), idx);
            if system_rule.id.as_deref().is_some_and(|id| !id.is_empty()) && !rule_ids.insert(label.clone()) {
                self.error(kind, &label, Some("id"), format!("the id `{label}` is used twice"));
            }
            let imported = qrs::from_system_rule(system_rule.clone());
            for problem in imported.problems {
                let field = ["actions", "ruleContext", "category"]
                    .into_iter()
                    .find(|f| problem.contains(f))
                    .unwrap_or("actions");
                self.error(kind, &label, Some(field), format!("rule `{}`: {problem}", system_rule.name));
            }
            rule_labels.push(label);
            site.rules.push(imported.rule);
        }
        if let Err(errors) = CompiledSite::compile(&site) {
            for error in errors {
                let label = rule_labels.get(error.rule_idx).cloned().unwrap_or_default();
                let field = match error.field {
                    RuleField::Filter => "resourceFilter",
                    RuleField::Condition => "rule",
                };
                let problem = self.error(
                    Kind::SystemRules,
                    &label,
                    Some(field),
                    format!("rule `{}`: {}", error.rule_name, error.message),
                );
                problem.hint = error.hint;
            }
        }
        site
    }
}

/// The QRS site of a [`Site`]: users, and the resources of the six other kinds (resources
/// of other types are left out: [`unexported`] counts them). Order is the site's; ids are the
/// site's, a user's from [`USER_ID_ATTRIBUTE`] (else made from its key). Custom properties
/// whose definition is not in the site get one made up (`Text`, the values used, the object
/// types using it), so any site exports to files that import.
pub fn export(site: &Site) -> QrsSite {
    let of_type = |kind: Kind| {
        site.resources
            .iter()
            .filter(move |r| r.resource_type.eq_ignore_ascii_case(kind.object_type()))
    };
    let first = |map: &BTreeMap<String, Vec<String>>, key: &str| map.get(key).and_then(|v| v.first()).cloned();
    let user_id = |user: &User| first(&user.attributes, USER_ID_ATTRIBUTE).unwrap_or_else(|| qrs::guid_from(&format!("user:{}", user.key())));
    let users_by_key: HashMap<String, &User> = site.users.iter().map(|u| (u.key().to_lowercase(), u)).collect();

    let mut out = QrsSite::default();
    for definition in of_type(Kind::CustomPropertyDefinitions) {
        out.custompropertydefinitions.push(QrsCustomPropertyDefinition {
            id: Some(definition.id.clone()),
            name: definition.name.clone(),
            value_type: first(&definition.attributes, "valueType"),
            choice_values: definition.attributes.get("choiceValues").cloned().unwrap_or_default(),
            object_types: definition.attributes.get("objectTypes").cloned().unwrap_or_default(),
            description: first(&definition.attributes, "description"),
        });
    }
    // Definitions made up for properties the site uses without defining them.
    let mut made_up: BTreeMap<String, (Vec<String>, Vec<String>)> = BTreeMap::new();
    let defined: HashSet<String> = out
        .custompropertydefinitions
        .iter()
        .filter_map(|d| d.name.as_deref())
        .map(str::to_lowercase)
        .collect();
    let mut note = |object_type: &str, properties: &BTreeMap<String, Vec<String>>| {
        for (name, values) in properties {
            if defined.contains(&name.to_lowercase()) {
                continue;
            }
            let (choices, types) = made_up.entry(name.clone()).or_default();
            for value in values {
                if !choices.contains(value) {
                    choices.push(value.clone());
                }
            }
            if !types.iter().any(|t| t == object_type) {
                types.push(object_type.to_owned());
            }
        }
    };
    for user in &site.users {
        note("User", &user.custom_properties);
    }
    for kind in [Kind::Streams, Kind::Apps, Kind::DataConnections] {
        for resource in of_type(kind) {
            note(kind.object_type(), &resource.custom_properties);
        }
    }
    for (name, (mut choice_values, object_types)) in made_up {
        choice_values.sort();
        out.custompropertydefinitions.push(QrsCustomPropertyDefinition {
            id: Some(qrs::guid_from(&format!("customproperty:{name}"))),
            name: Some(name),
            value_type: Some("Text".to_owned()),
            choice_values,
            object_types,
            description: None,
        });
    }
    let definition_ids: HashMap<String, String> = out
        .custompropertydefinitions
        .iter()
        .filter_map(|d| Some((d.name.clone()?.to_lowercase(), d.id.clone()?)))
        .collect();
    let properties = |properties: &BTreeMap<String, Vec<String>>| -> Vec<QrsCustomPropertyValue> {
        properties
            .iter()
            .flat_map(|(name, values)| {
                let definition = QrsRef {
                    id: definition_ids.get(&name.to_lowercase()).cloned(),
                    name: Some(name.clone()),
                };
                values.iter().map(move |value| QrsCustomPropertyValue {
                    value: value.clone(),
                    definition: definition.clone(),
                })
            })
            .collect()
    };
    let owner = |key: &Option<String>| -> Option<QrsOwner> {
        let key = key.as_ref()?;
        Some(match users_by_key.get(&key.to_lowercase()) {
            Some(user) => QrsOwner {
                id: Some(user_id(user)),
                user_id: Some(user.user_id.clone()),
                user_directory: Some(user.user_directory.clone()),
                name: Some(user.name.clone().unwrap_or_else(|| user.user_id.clone())),
            },
            None => {
                let (directory, user_id) = key.split_once('\\').unwrap_or(("", key));
                QrsOwner {
                    id: None,
                    user_id: Some(user_id.to_owned()),
                    user_directory: Some(directory.to_owned()),
                    name: None,
                }
            }
        })
    };

    for user in &site.users {
        let mut attributes = Vec::new();
        if let Some(email) = &user.email {
            attributes.push(QrsUserAttribute {
                attribute_type: "email".to_owned(),
                attribute_value: email.clone(),
            });
        }
        for group in &user.groups {
            attributes.push(QrsUserAttribute {
                attribute_type: "group".to_owned(),
                attribute_value: group.clone(),
            });
        }
        for (name, values) in user.attributes.iter().filter(|(name, _)| *name != USER_ID_ATTRIBUTE) {
            for value in values {
                attributes.push(QrsUserAttribute {
                    attribute_type: name.clone(),
                    attribute_value: value.clone(),
                });
            }
        }
        out.users.push(QrsUser {
            id: Some(user_id(user)),
            user_id: Some(user.user_id.clone()),
            user_directory: Some(user.user_directory.clone()),
            name: user.name.clone(),
            roles: user.roles.clone(),
            attributes,
            custom_properties: properties(&user.custom_properties),
        });
    }
    for directory in of_type(Kind::UserDirectories) {
        out.userdirectories.push(QrsUserDirectory {
            id: Some(directory.id.clone()),
            name: directory.name.clone(),
            user_directory_name: first(&directory.attributes, "userDirectoryName"),
            directory_type: first(&directory.attributes, "type"),
        });
    }
    let names: HashMap<&str, &str> = site.resources.iter().filter_map(|r| Some((r.id.as_str(), r.name.as_deref()?))).collect();
    for stream in of_type(Kind::Streams) {
        out.streams.push(QrsStream {
            id: Some(stream.id.clone()),
            name: stream.name.clone(),
            owner: owner(&stream.owner),
            custom_properties: properties(&stream.custom_properties),
        });
    }
    for app in of_type(Kind::Apps) {
        out.apps.push(QrsApp {
            id: Some(app.id.clone()),
            name: app.name.clone(),
            owner: owner(&app.owner),
            stream: app.stream.as_ref().map(|id| QrsRef {
                id: Some(id.clone()),
                name: names.get(id.as_str()).map(|n| (*n).to_owned()),
            }),
            published: first(&app.attributes, "published").is_some_and(|p| p.eq_ignore_ascii_case("true")),
            description: first(&app.attributes, "description"),
            custom_properties: properties(&app.custom_properties),
        });
    }
    for connection in of_type(Kind::DataConnections) {
        out.dataconnections.push(QrsDataConnection {
            id: Some(connection.id.clone()),
            name: connection.name.clone(),
            connectionstring: first(&connection.attributes, "connectionstring"),
            connection_type: first(&connection.attributes, "type"),
            owner: owner(&connection.owner),
            custom_properties: properties(&connection.custom_properties),
        });
    }
    // Rules keep their QRS ids; one without (from a site file) gets an id made from its name,
    // and a name used again its own id, so the export imports.
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for rule in &site.rules {
        let mut system_rule = qrs::to_system_rule(rule);
        if rule.id.is_none() {
            let n = seen.entry(rule.name.as_str()).or_default();
            if *n > 0 {
                system_rule.id = Some(qrs::guid_from(&format!("{}#{n}", rule.name)));
            }
            *n += 1;
        }
        out.systemrules.push(system_rule);
    }
    out
}

/// How many resources of a site [`export`] leaves out (types other than the six it writes).
pub fn unexported(site: &Site) -> usize {
    let written = [
        Kind::UserDirectories,
        Kind::Streams,
        Kind::Apps,
        Kind::CustomPropertyDefinitions,
        Kind::DataConnections,
    ];
    site.resources
        .iter()
        .filter(|r| !written.iter().any(|k| r.resource_type.eq_ignore_ascii_case(k.object_type())))
        .count()
}
