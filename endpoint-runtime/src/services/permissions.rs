//! [`Permissions`]: who may do what to which collection, declared once (Directus's permissions).
//!
//! One rule per role × collection × action (`create`, `read`, `update`, `delete`), in a TOML
//! file or in code. `public` is everyone's role (anonymous callers have only it). Admins bypass every rule;
//! anything not declared is denied.
//!
//! ```toml
//! # permissions.toml
//! [public.articles.read]
//! filter = { status = { _eq = "published" } }
//! fields = ["id", "title", "author"]
//!
//! [author.articles.read]
//! filter = { author_id = { _eq = "$CURRENT_USER" } }   # only their own
//!
//! [author.articles.create]
//! fields = ["title", "body"]
//! validation = { title = { _nnull = true } }
//! presets = { author_id = "$CURRENT_USER", status = "draft" }
//! ```
//!
//! A rule's keys: `filter` (the rows the action may touch; default all), `fields` (the fields it
//! may read or write; default `["*"]`, all), `validation` (a filter the payload of a create or
//! update must satisfy) and `presets` (values a create starts from; the payload's own win).
//! Filters use Directus's rule syntax and its dynamic values `$CURRENT_USER`, `$CURRENT_ROLE`,
//! `$CURRENT_ROLES` and `$NOW`. `permissions.schema.json` (in the runtime's folder) describes
//! the file for editors that read JSON schemas for TOML (Taplo, Even Better TOML).
//!
//! At start-up every rule is checked against the database's schema: an unknown collection,
//! field or operator stops start-up naming the rule's file and line.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::filter;
use crate::error::Error;
use crate::schema::Schema;

/// What a rule allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Create items.
    Create,
    /// Read items.
    Read,
    /// Update items.
    Update,
    /// Delete items.
    Delete,
}

impl Action {
    /// The action's name: `create`, `read`, `update` or `delete`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Read => "read",
            Action::Update => "update",
            Action::Delete => "delete",
        }
    }
}

/// One permission: what a role may do with a collection. Built in code with the methods, or
/// read from a file by [`Permissions::from_toml`].
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// The rows the action may touch (a filter rule); `None`: every row.
    #[serde(default)]
    pub filter: Option<Value>,
    /// The fields the action may read or write; `None` or `*`: all of them.
    #[serde(default)]
    pub fields: Option<Vec<String>>,
    /// A filter the payload of a create or update must satisfy.
    #[serde(default)]
    pub validation: Option<Value>,
    /// Values a created item starts from; the payload's own win.
    #[serde(default)]
    pub presets: Option<Map<String, Value>>,
}

impl Rule {
    /// A rule that allows every row and every field.
    pub fn new() -> Self {
        Rule::default()
    }

    /// Limits the rows to those matching `filter`.
    pub fn filter(mut self, filter: Value) -> Self {
        self.filter = Some(filter);
        self
    }

    /// Limits the fields.
    pub fn fields<S: Into<String>>(mut self, fields: impl IntoIterator<Item = S>) -> Self {
        self.fields = Some(fields.into_iter().map(Into::into).collect());
        self
    }

    /// Requires payloads to satisfy `validation`.
    pub fn validation(mut self, validation: Value) -> Self {
        self.validation = Some(validation);
        self
    }

    /// Sets the presets of created items (an object of field values).
    pub fn presets(mut self, presets: Value) -> Self {
        self.presets = presets.as_object().cloned();
        self
    }

    /// Whether the rule allows `field` (`*` allows all).
    pub(crate) fn allows_field(&self, field: &str) -> bool {
        self.fields
            .as_ref()
            .is_none_or(|fields| fields.iter().any(|f| f == "*" || f == field))
    }
}

/// A declared rule and where it was declared, for messages.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Declared {
    pub(crate) role: String,
    pub(crate) collection: String,
    pub(crate) action: Action,
    pub(crate) rule: Rule,
    /// `permissions.toml:12`, or `App::permissions` for a rule built in code.
    pub(crate) origin: String,
}

/// Every permission of the application. Register it with
/// [`App::permissions`](crate::App::permissions); without it every non-admin call of the
/// data services is refused (403).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Permissions {
    pub(crate) rules: Vec<Declared>,
}

impl Permissions {
    /// No permission at all: only admins pass.
    pub fn new() -> Self {
        Permissions::default()
    }

    /// Allows `role` (`public`: everyone, and all an anonymous caller has) to do `action` on `collection`, as
    /// `rule` says. A second rule for the same three replaces the first.
    pub fn allow(mut self, role: &str, collection: &str, action: Action, rule: Rule) -> Self {
        self.rules
            .retain(|d| !(d.role == role && d.collection == collection && d.action == action));
        self.rules.push(Declared {
            role: role.to_string(),
            collection: collection.to_string(),
            action,
            rule,
            origin: "App::permissions".into(),
        });
        self
    }

    /// Reads the rules of a TOML file (its text, and its name for messages): tables
    /// `[role.collection.action]` with the keys of [`Rule`].
    ///
    /// # Errors
    ///
    /// - [`Error::Permissions`] naming `file:line` for malformed TOML, an unknown action or
    ///   key, or a value of the wrong type.
    pub fn from_toml(text: &str, file: &str) -> Result<Self, Error> {
        type Actions = BTreeMap<String, toml::Spanned<toml::Value>>;
        let tables: BTreeMap<String, BTreeMap<String, Actions>> =
            toml::from_str(text).map_err(|error| {
                let line = error.span().map_or(1, |span| line_of(text, span.start));
                Error::Permissions(format!("{file}:{line}: {}", error.message()))
            })?;
        let mut permissions = Permissions::new();
        for (role, collections) in tables {
            for (collection, actions) in collections {
                for (action, spanned) in actions {
                    let line = line_of(text, spanned.span().start);
                    let origin = format!("{file}:{line}");
                    let action: Action = serde_json::from_value(Value::String(action.clone()))
                        .map_err(|_| {
                            Error::Permissions(format!(
                                "{origin}: `{role}.{collection}.{action}`: the actions are \
                                 `create`, `read`, `update` and `delete`"
                            ))
                        })?;
                    let rule: Rule =
                        spanned
                            .into_inner()
                            .try_into()
                            .map_err(|error: toml::de::Error| {
                                Error::Permissions(format!(
                                    "{origin}: `{role}.{collection}.{}`: {}",
                                    action.as_str(),
                                    error.message()
                                ))
                            })?;
                    permissions.rules.push(Declared {
                        role: role.clone(),
                        collection: collection.clone(),
                        action,
                        rule,
                        origin,
                    });
                }
            }
        }
        Ok(permissions)
    }

    /// The rules of `roles` for `action` on `collection`.
    pub(crate) fn rules(&self, roles: &[String], collection: &str, action: Action) -> Vec<&Rule> {
        self.rules
            .iter()
            .filter(|d| d.action == action && d.collection == collection && roles.contains(&d.role))
            .map(|d| &d.rule)
            .collect()
    }

    /// Checks every rule against `schema`.
    ///
    /// # Errors
    ///
    /// - [`Error::Permissions`] naming the rule's origin and what is wrong: an unknown
    ///   collection or field, a filter that does not parse, a relational validation rule.
    pub(crate) fn check(&self, schema: &Schema) -> Result<(), Error> {
        for declared in &self.rules {
            let Declared {
                role,
                collection,
                action,
                rule,
                origin,
            } = declared;
            let at = |what: String| {
                Error::Permissions(format!(
                    "{origin}: `{role}.{collection}.{}`: {what}",
                    action.as_str()
                ))
            };
            let Some(table) = schema.collection(collection) else {
                let known: Vec<&String> = schema.collections.keys().collect();
                return Err(at(format!(
                    "the database has no collection `{collection}` (it has: {known:?})"
                )));
            };
            for field in rule.fields.iter().flatten() {
                if field != "*" && table.field(field).is_none() {
                    return Err(at(format!("`{collection}` has no field `{field}`")));
                }
            }
            if let Some(value) = &rule.filter {
                filter::parse(value, table, schema, "filter").map_err(|e| at(e.to_string()))?;
            }
            if let Some(value) = &rule.validation {
                let parsed = filter::parse(value, table, schema, "validation")
                    .map_err(|e| at(e.to_string()))?;
                if parsed.is_relational() {
                    return Err(at(
                        "a validation rule reads the payload only: it cannot filter \
                                   through a relation"
                            .into(),
                    ));
                }
            }
            for (field, value) in rule.presets.iter().flatten() {
                let Some(target) = table.field(field) else {
                    return Err(at(format!(
                        "presets: `{collection}` has no field `{field}`"
                    )));
                };
                filter::coerce(value, target, &format!("presets.{field}"))
                    .map_err(|e| at(e.to_string()))?;
            }
        }
        Ok(())
    }
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
[public.articles.read]
filter = { status = { _eq = "published" } }
fields = ["id", "title"]

[author.articles.create]
fields = ["title"]
presets = { status = "draft" }
"#;

    #[test]
    fn a_file_becomes_rules_that_remember_their_line() {
        let permissions = Permissions::from_toml(FILE, "permissions.toml").unwrap();
        assert_eq!(permissions.rules.len(), 2);
        let create = &permissions.rules[0];
        assert_eq!(
            (create.role.as_str(), create.action, create.origin.as_str()),
            ("author", Action::Create, "permissions.toml:6")
        );
        let read = &permissions.rules[1];
        assert_eq!(read.origin, "permissions.toml:2");
        assert!(read.rule.allows_field("title") && !read.rule.allows_field("body"));
    }

    #[test]
    fn mistakes_name_the_file_and_line() {
        let error = Permissions::from_toml("[a.b.reed]\n", "p.toml").unwrap_err();
        assert!(
            error.to_string().contains("p.toml:1: `a.b.reed`"),
            "{error}"
        );
        let error = Permissions::from_toml("\n\n[a.b.read]\nfilters = {}\n", "p.toml").unwrap_err();
        assert!(error.to_string().contains("p.toml:3:"), "{error}");
        assert!(error.to_string().contains("filters"), "{error}");
        let error = Permissions::from_toml("[a.b.read\n", "p.toml").unwrap_err();
        assert!(
            error.to_string().starts_with("permissions: p.toml:1:"),
            "{error}"
        );
    }
}
