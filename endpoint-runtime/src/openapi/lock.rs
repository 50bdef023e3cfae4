//! The API contract lock: the OpenAPI document committed beside the code
//! (`app openapi --write openapi.lock.json`), and the comparison that `app check --api
//! openapi.lock.json` makes between it and the live registry's document, each change
//! classified as breaking or compatible for a client written against the lock.
//!
//! Written here over the documents' JSON: the Rust OpenAPI diff crates found (schemadoc-diff
//! 0.1.20, last released 2023-07, OpenAPI 3.0; anicca 0.1.0, one release) are not maintained,
//! and the rules a client depends on fit one table.
//!
//! # Rules
//!
//! A request is what the client sends (it must stay acceptable); a response is what it reads
//! (it must stay readable). "Schema" rules apply at every depth of a body (through `$ref`,
//! `properties`, `items`), to parameters' schemas, and to each response's JSON body.
//!
//! | # | change | breaking? |
//! |---|---|---|
//! | 1 | an operation removed | yes |
//! | 2 | an operation added | no |
//! | 3 | a required parameter added, or a parameter made required | yes |
//! | 4 | an optional parameter added, or a parameter removed | no |
//! | 5 | a request body made required | yes |
//! | 6 | a request field made required (added as required, or made required) | yes |
//! | 7 | a request field added as optional, or removed | no |
//! | 8 | a response field removed, or no longer required | yes |
//! | 9 | a response field added | no |
//! | 10 | a type narrowed in a request, or widened in a response (`type`, `enum`, `const`, `format`) | yes |
//! | 11 | a type widened in a request, or narrowed in a response | no |
//! | 12 | a bound tightened in a request, or loosened in a response (`minLength`, `maxLength`, `minimum`, `maximum`, `minItems`, `maxItems`, `pattern`) | yes |
//! | 13 | a bound loosened in a request, or tightened in a response | no |
//! | 14 | a composition changed (`oneOf`, `anyOf`, `allOf`) | yes |
//! | 15 | a success status (2xx, 3xx) no longer answered | yes |
//! | 16 | a success status added, or an error status added or removed | no |
//! | 17 | security now required, or the access level narrowed (`x-access`) | yes |
//! | 18 | security no longer required, or the access level widened to `public` | no |
//! | 19 | anything else (descriptions, summaries, examples) | no, listed as documentation |
//! | 20 | an operation deprecated, or no longer | no |
//! | 21 | an API version no longer served / added (a versioned API locks one document per version) | yes / no |

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::{Map, Value};

/// One difference between the locked document and the live one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Whether a client written against the lock may break (see the module's rule table).
    pub breaking: bool,
    /// The operation, `POST /articles`, or `document` for what is outside every operation.
    pub operation: String,
    /// What changed, with the path inside the operation: `request body field `title`: made
    /// required`.
    pub what: String,
}

impl fmt::Display for Change {
    /// `breaking: POST /articles: request body `.title`: added as required`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.breaking {
            "breaking"
        } else {
            "compatible"
        };
        write!(f, "{kind}: {}: {}", self.operation, self.what)
    }
}

/// The document as it is locked: without what varies between runs of the same code (the
/// `servers` URL follows `ENDPOINT_SERVER_URL` and the port, `x-source` the lines of the file).
pub fn locked(document: &Value) -> Value {
    let mut document = document.clone();
    if let Some(map) = document.as_object_mut() {
        map.remove("servers");
    }
    if let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut().filter_map(Value::as_object_mut) {
            for operation in item.values_mut().filter_map(Value::as_object_mut) {
                operation.remove("x-source");
            }
        }
    }
    document
}

/// The changes from the locked document `old` to the live `new` (both as [`locked`] gives
/// them, or whole documents: the varying parts are dropped first), breaking ones first. Empty
/// when the two are the same contract and the same text.
pub fn compare(old: &Value, new: &Value) -> Vec<Change> {
    let (old, new) = (locked(old), locked(new));
    let mut changes = Vec::new();
    let old_operations = operations(&old);
    let new_operations = operations(&new);
    for (key, old_operation) in &old_operations {
        let name = format!("{} {}", key.1.to_ascii_uppercase(), key.0);
        let Some(new_operation) = new_operations.get(key) else {
            changes.push(change(true, &name, "operation removed"));
            continue;
        };
        let mut compare = Compare {
            old_doc: &old,
            new_doc: &new,
            operation: &name,
            changes: &mut changes,
            seen: BTreeSet::new(),
        };
        compare.operation(old_operation, new_operation);
    }
    for key in new_operations.keys() {
        if !old_operations.contains_key(key) {
            let name = format!("{} {}", key.1.to_ascii_uppercase(), key.0);
            changes.push(change(false, &name, "operation added"));
        }
    }
    if changes.is_empty() && old != new {
        changes.push(change(
            false,
            "document",
            "documentation changed (descriptions, summaries or other text)",
        ));
    }
    changes.sort_by_key(|c| !c.breaking);
    changes
}

/// The lock of a versioned API: one document per version, by its version.
/// `{"versions": {"0.0": {...}, "2.0": {...}}}` (see [`compare_locks`]).
pub fn versioned_lock(documents: impl IntoIterator<Item = (String, Value)>) -> Value {
    let versions: serde_json::Map<String, Value> = documents
        .into_iter()
        .map(|(version, document)| (version, locked(&document)))
        .collect();
    serde_json::json!({ "versions": versions })
}

/// The documents of a lock by version: those of a [`versioned_lock`], or the one document of
/// an unversioned API under `""`.
fn by_version(lock: &Value) -> BTreeMap<String, &Value> {
    match lock.get("versions").and_then(Value::as_object) {
        Some(versions) => versions.iter().map(|(v, d)| (v.clone(), d)).collect(),
        None => BTreeMap::from([(String::new(), lock)]),
    }
}

/// [`compare`] of two locks, version by version (an unversioned API's lock is its one
/// document). A version the lock has and the live API does not is breaking; one the live API
/// adds is compatible. Each change of a versioned API names its version: `[1.0] GET /catalog`.
pub fn compare_locks(old: &Value, new: &Value) -> Vec<Change> {
    let (old, new) = (by_version(old), by_version(new));
    let mut changes = Vec::new();
    let label = |version: &str, operation: &str| match version {
        "" => operation.to_string(),
        version => format!("[{version}] {operation}"),
    };
    for (version, old_document) in &old {
        match new.get(version) {
            None => changes.push(change(
                true,
                &label(version, "API"),
                "version no longer served",
            )),
            Some(new_document) => {
                changes.extend(
                    compare(old_document, new_document)
                        .into_iter()
                        .map(|mut c| {
                            c.operation = label(version, &c.operation);
                            c
                        }),
                );
            }
        }
    }
    for version in new.keys().filter(|v| !old.contains_key(*v)) {
        changes.push(change(false, &label(version, "API"), "version added"));
    }
    changes.sort_by_key(|c| !c.breaking);
    changes
}

fn change(breaking: bool, operation: &str, what: impl Into<String>) -> Change {
    Change {
        breaking,
        operation: operation.to_string(),
        what: what.into(),
    }
}

/// Every operation of a document, by path and method.
fn operations(document: &Value) -> BTreeMap<(String, String), &Value> {
    let mut all = BTreeMap::new();
    if let Some(paths) = document.get("paths").and_then(Value::as_object) {
        for (path, item) in paths {
            for (method, operation) in item.as_object().into_iter().flatten() {
                all.insert((path.clone(), method.clone()), operation);
            }
        }
    }
    all
}

/// Which side of the exchange a schema describes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    /// What the client sends: narrowing breaks it.
    Request,
    /// What the client reads: widening breaks it.
    Response,
}

struct Compare<'a> {
    old_doc: &'a Value,
    new_doc: &'a Value,
    operation: &'a str,
    changes: &'a mut Vec<Change>,
    /// `$ref` pairs already compared at this operation (recursive types end here).
    seen: BTreeSet<(String, String)>,
}

impl Compare<'_> {
    fn push(&mut self, breaking: bool, what: String) {
        self.changes.push(change(breaking, self.operation, what));
    }

    fn operation(&mut self, old: &Value, new: &Value) {
        match (is_true(&old["deprecated"]), is_true(&new["deprecated"])) {
            (false, true) => self.push(false, "deprecated".into()),
            (true, false) => self.push(false, "no longer deprecated".into()),
            _ => {}
        }
        self.parameters(old, new);
        self.request_body(old, new);
        self.responses(old, new);
        self.access(old, new);
    }

    fn parameters(&mut self, old: &Value, new: &Value) {
        let index = |operation: &Value| -> BTreeMap<(String, String), Value> {
            operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| {
                    let location = p["in"].as_str().unwrap_or_default().to_string();
                    let name = p["name"].as_str().unwrap_or_default();
                    // Header names are case-insensitive (RFC 9110 §5.1).
                    let name = if location == "header" {
                        name.to_ascii_lowercase()
                    } else {
                        name.to_string()
                    };
                    ((location, name), p.clone())
                })
                .collect()
        };
        let (old, new) = (index(old), index(new));
        for ((location, name), old_param) in &old {
            let label = format!("{location} parameter `{name}`");
            match new.get(&(location.clone(), name.clone())) {
                None => self.push(false, format!("{label}: removed")),
                Some(new_param) => {
                    if is_true(&new_param["required"]) && !is_true(&old_param["required"]) {
                        self.push(true, format!("{label}: made required"));
                    }
                    self.schema(
                        &old_param["schema"],
                        &new_param["schema"],
                        Side::Request,
                        &label,
                    );
                }
            }
        }
        for ((location, name), new_param) in &new {
            if !old.contains_key(&(location.clone(), name.clone())) {
                let required = is_true(&new_param["required"]);
                let label = format!("{location} parameter `{name}`");
                let what = if required {
                    "added as required"
                } else {
                    "added as optional"
                };
                self.push(required, format!("{label}: {what}"));
            }
        }
    }

    fn request_body(&mut self, old: &Value, new: &Value) {
        let (old, new) = (&old["requestBody"], &new["requestBody"]);
        if is_true(&new["required"]) && !is_true(&old["required"]) {
            self.push(true, "request body: made required".into());
        }
        for (content_type, new_media) in new["content"].as_object().into_iter().flatten() {
            if let Some(old_media) = old["content"].get(content_type) {
                self.schema(
                    &old_media["schema"],
                    &new_media["schema"],
                    Side::Request,
                    "request body",
                );
            } else if !old["content"].is_null() {
                self.push(false, format!("request body: `{content_type}` accepted"));
            }
        }
        for content_type in old["content"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|c| c.0)
        {
            if new["content"].get(content_type).is_none() && !new["content"].is_null() {
                self.push(
                    true,
                    format!("request body: `{content_type}` no longer accepted"),
                );
            }
        }
    }

    fn responses(&mut self, old: &Value, new: &Value) {
        let (old, new) = (&old["responses"], &new["responses"]);
        let success = |status: &str| status.starts_with('2') || status.starts_with('3');
        for (status, old_response) in old.as_object().into_iter().flatten() {
            match new.get(status) {
                None if success(status) => {
                    self.push(true, format!("response {status}: no longer answered"));
                }
                None => self.push(false, format!("response {status}: no longer listed")),
                Some(new_response) => {
                    for (content_type, old_media) in
                        old_response["content"].as_object().into_iter().flatten()
                    {
                        let label = format!("response {status} `{content_type}`");
                        match new_response["content"].get(content_type) {
                            None => self.push(true, format!("{label}: no longer sent")),
                            Some(new_media) => self.schema(
                                &old_media["schema"],
                                &new_media["schema"],
                                Side::Response,
                                &label,
                            ),
                        }
                    }
                }
            }
        }
        for status in new.as_object().into_iter().flatten().map(|r| r.0) {
            if old.get(status).is_none() {
                self.push(false, format!("response {status}: added"));
            }
        }
    }

    fn access(&mut self, old: &Value, new: &Value) {
        let secured = |operation: &Value| {
            operation["security"]
                .as_array()
                .is_some_and(|s| !s.is_empty())
        };
        match (secured(old), secured(new)) {
            (false, true) => self.push(true, "security: now required".into()),
            (true, false) => self.push(false, "security: no longer required".into()),
            _ => {}
        }
        let (old_access, new_access) = (&old["x-access"], &new["x-access"]);
        if old_access != new_access && !old_access.is_null() {
            let widened = new_access == "public";
            self.push(
                !widened,
                format!(
                    "access: `{}` became `{}`",
                    old_access.as_str().unwrap_or_default(),
                    new_access.as_str().unwrap_or_default()
                ),
            );
        }
    }

    /// Resolves a local `$ref` (`#/components/schemas/Name`) in `document`.
    fn resolve<'v>(document: &'v Value, schema: &'v Value) -> &'v Value {
        let mut schema = schema;
        // Bounded: a `$ref` to a `$ref` chain of a hand-written document cannot loop.
        for _ in 0..16 {
            let Some(reference) = schema.get("$ref").and_then(Value::as_str) else {
                break;
            };
            let Some(pointer) = reference.strip_prefix('#') else {
                break;
            };
            match document.pointer(pointer) {
                Some(target) => schema = target,
                None => break,
            }
        }
        schema
    }

    fn schema(&mut self, old: &Value, new: &Value, side: Side, at: &str) {
        let refs = (
            old.get("$ref").and_then(Value::as_str),
            new.get("$ref").and_then(Value::as_str),
        );
        if let (Some(a), Some(b)) = refs
            && !self.seen.insert((a.to_string(), b.to_string()))
        {
            return;
        }
        let old = Self::resolve(self.old_doc, old);
        let new = Self::resolve(self.new_doc, new);
        let (Some(old), Some(new)) = (old.as_object(), new.as_object()) else {
            return;
        };
        // A change that breaks the client on this side.
        let narrows = |breaking_when_request: bool| match side {
            Side::Request => breaking_when_request,
            Side::Response => !breaking_when_request,
        };

        // 10, 11: the set of accepted types and values.
        for (key, label) in [("type", "type"), ("enum", "values")] {
            let (a, b) = (set(old.get(key)), set(new.get(key)));
            if let (Some(a), Some(b)) = (&a, &b)
                && a != b
            {
                let lost = !a.is_subset(b);
                let gained = !b.is_subset(a);
                // A request that lost a value, or a response that gained one.
                let breaking = match side {
                    Side::Request => lost,
                    Side::Response => gained,
                };
                self.push(
                    breaking,
                    format!("{at}: {label} {} became {}", show(a), show(b)),
                );
            } else if a.is_some() != b.is_some() {
                // A constraint appeared (narrowed) or disappeared (widened).
                let breaking = narrows(b.is_some());
                let what = if b.is_some() {
                    "now limited"
                } else {
                    "no longer limited"
                };
                self.push(breaking, format!("{at}: {label} {what}"));
            }
        }
        for key in ["const", "format"] {
            if old.get(key) != new.get(key) {
                let breaking = narrows(new.get(key).is_some());
                self.push(
                    breaking || (old.get(key).is_some() && new.get(key).is_some()),
                    format!(
                        "{at}: `{key}` {} became {}",
                        old.get(key).map_or("none".into(), Value::to_string),
                        new.get(key).map_or("none".into(), Value::to_string)
                    ),
                );
            }
        }

        // 12, 13: bounds. `true` when a larger value is tighter.
        for (key, larger_is_tighter) in [
            ("minLength", true),
            ("minimum", true),
            ("exclusiveMinimum", true),
            ("minItems", true),
            ("maxLength", false),
            ("maximum", false),
            ("exclusiveMaximum", false),
            ("maxItems", false),
        ] {
            let (a, b) = (old.get(key), new.get(key));
            if a == b {
                continue;
            }
            let tighter = match (a.and_then(Value::as_f64), b.and_then(Value::as_f64)) {
                (None, Some(_)) => true,
                (Some(_), None) => false,
                (Some(a), Some(b)) => (b > a) == larger_is_tighter,
                (None, None) => continue,
            };
            self.push(
                narrows(tighter),
                format!(
                    "{at}: `{key}` {} became {}",
                    a.map_or("none".into(), Value::to_string),
                    b.map_or("none".into(), Value::to_string)
                ),
            );
        }
        if old.get("pattern") != new.get("pattern") {
            let breaking = match (old.get("pattern"), new.get("pattern")) {
                (Some(_), None) => side == Side::Response,
                (None, Some(_)) => side == Side::Request,
                _ => true,
            };
            self.push(
                breaking,
                format!(
                    "{at}: `pattern` {} became {}",
                    old.get("pattern").map_or("none".into(), Value::to_string),
                    new.get("pattern").map_or("none".into(), Value::to_string)
                ),
            );
        }

        // 14: compositions are compared as a whole.
        for key in ["oneOf", "anyOf", "allOf"] {
            let (a, b) = (old.get(key), new.get(key));
            if a == b {
                if let (Some(Value::Array(a)), Some(Value::Array(b))) = (a, b) {
                    for (index, (a, b)) in a.iter().zip(b).enumerate() {
                        self.schema(a, b, side, &format!("{at} ({key} {index})"));
                    }
                }
                continue;
            }
            match (a, b) {
                (Some(Value::Array(a)), Some(Value::Array(b))) if a.len() == b.len() => {
                    for (index, (a, b)) in a.iter().zip(b).enumerate() {
                        self.schema(a, b, side, &format!("{at} ({key} {index})"));
                    }
                }
                _ => self.push(true, format!("{at}: `{key}` changed")),
            }
        }

        // 6, 7, 8, 9: fields.
        let required = |schema: &Map<String, Value>| -> BTreeSet<String> {
            schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        };
        let (old_required, new_required) = (required(old), required(new));
        let empty = Map::new();
        let old_fields = old
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let new_fields = new
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        for (name, old_field) in old_fields {
            let label = format!("{at} field `{name}`");
            match (new_fields.get(name), side) {
                (None, Side::Request) => self.push(false, format!("{label}: removed")),
                (None, Side::Response) => self.push(true, format!("{label}: removed")),
                (Some(new_field), _) => {
                    match side {
                        Side::Request
                            if new_required.contains(name) && !old_required.contains(name) =>
                        {
                            self.push(true, format!("{label}: made required"));
                        }
                        Side::Response
                            if old_required.contains(name) && !new_required.contains(name) =>
                        {
                            self.push(true, format!("{label}: no longer always sent"));
                        }
                        _ => {}
                    }
                    self.schema(old_field, new_field, side, &label);
                }
            }
        }
        for name in new_fields.keys().filter(|n| !old_fields.contains_key(*n)) {
            let label = format!("{at} field `{name}`");
            let required = new_required.contains(name);
            match side {
                Side::Request if required => self.push(true, format!("{label}: added as required")),
                Side::Request => self.push(false, format!("{label}: added as optional")),
                Side::Response => self.push(false, format!("{label}: added")),
            }
        }
        if let (Some(a), Some(b)) = (old.get("items"), new.get("items")) {
            self.schema(a, b, side, &format!("{at}[]"));
        }
    }
}

fn is_true(value: &Value) -> bool {
    value.as_bool().unwrap_or(false)
}

/// `type` or `enum` as a set of JSON texts (`"string"` and `["string", "null"]` alike).
fn set(value: Option<&Value>) -> Option<BTreeSet<String>> {
    match value? {
        Value::Array(items) => Some(items.iter().map(Value::to_string).collect()),
        other => Some(BTreeSet::from([other.to_string()])),
    }
}

fn show(set: &BTreeSet<String>) -> String {
    set.iter().cloned().collect::<Vec<_>>().join(" | ")
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::compare;

    /// A document with one operation, `POST /things`, and the components `schemas`.
    fn document(operation: Value, schemas: Value) -> Value {
        json!({
            "openapi": "3.1.0",
            "servers": [{ "url": "http://127.0.0.1:3210" }],
            "paths": { "/things": { "post": operation } },
            "components": { "schemas": schemas },
        })
    }

    fn body(schema: Value) -> Value {
        json!({ "required": true, "content": { "application/json": { "schema": schema } } })
    }

    fn ok(schema: Value) -> Value {
        json!({ "201": { "description": "Created", "content": { "application/json": { "schema": schema } } } })
    }

    /// The changes from `old` to `new` as `(breaking, what)`.
    fn diff(old: Value, new: Value) -> Vec<(bool, String)> {
        compare(&old, &new)
            .into_iter()
            .map(|c| {
                assert_eq!(
                    c.operation,
                    if c.what.contains("documentation") {
                        "document"
                    } else {
                        "POST /things"
                    }
                );
                (c.breaking, c.what)
            })
            .collect()
    }

    fn thing(properties: Value, required: Value) -> Value {
        json!({ "Thing": { "type": "object", "properties": properties, "required": required } })
    }

    fn with_body(schemas: Value) -> Value {
        document(
            json!({ "requestBody": body(json!({ "$ref": "#/components/schemas/Thing" })), "responses": ok(json!({})) }),
            schemas,
        )
    }

    fn with_response(schemas: Value) -> Value {
        document(
            json!({ "responses": ok(json!({ "$ref": "#/components/schemas/Thing" })) }),
            schemas,
        )
    }

    fn with_params(parameters: Value) -> Value {
        document(
            json!({ "parameters": parameters, "responses": ok(json!({})) }),
            json!({}),
        )
    }

    #[test]
    fn the_same_contract_is_no_change_and_servers_and_sources_do_not_count() {
        let old = with_body(thing(json!({ "a": { "type": "string" } }), json!(["a"])));
        let mut new = old.clone();
        new["servers"] = json!([{ "url": "http://example.com" }]);
        new["paths"]["/things"]["post"]["x-source"] = json!("src/main.rs:12");
        assert_eq!(diff(old, new), []);
    }

    #[test]
    fn rule_1_2_operations_removed_and_added() {
        let old = with_params(json!([]));
        let mut new = old.clone();
        new["paths"] = json!({ "/others": { "get": { "responses": {} } } });
        let changes = compare(&old, &new);
        assert_eq!(changes.len(), 2);
        assert!(changes[0].breaking && changes[0].what == "operation removed");
        assert_eq!(changes[0].operation, "POST /things");
        assert!(!changes[1].breaking && changes[1].what == "operation added");
        assert_eq!(changes[1].operation, "GET /others");
    }

    #[test]
    fn rule_3_4_parameters() {
        let query = |name: &str, required: bool| json!({ "name": name, "in": "query", "required": required, "schema": { "type": "string" } });
        assert_eq!(
            diff(
                with_params(json!([])),
                with_params(json!([query("q", true)]))
            ),
            [(true, "query parameter `q`: added as required".into())]
        );
        assert_eq!(
            diff(
                with_params(json!([query("q", false)])),
                with_params(json!([query("q", true)]))
            ),
            [(true, "query parameter `q`: made required".into())]
        );
        assert_eq!(
            diff(
                with_params(json!([])),
                with_params(json!([query("q", false)]))
            ),
            [(false, "query parameter `q`: added as optional".into())]
        );
        assert_eq!(
            diff(
                with_params(json!([query("q", true)])),
                with_params(json!([]))
            ),
            [(false, "query parameter `q`: removed".into())]
        );
        // Header names compare without case.
        let header = |name: &str| json!([{ "name": name, "in": "header", "required": false, "schema": { "type": "string" } }]);
        assert_eq!(
            diff(
                with_params(header("Idempotency-Key")),
                with_params(header("idempotency-key"))
            ),
            [(
                false,
                "documentation changed (descriptions, summaries or other text)".into()
            )]
        );
    }

    #[test]
    fn rule_5_a_request_body_made_required() {
        let old = document(
            json!({ "requestBody": { "content": { "application/json": { "schema": {} } } }, "responses": ok(json!({})) }),
            json!({}),
        );
        let new = document(
            json!({ "requestBody": body(json!({})), "responses": ok(json!({})) }),
            json!({}),
        );
        assert_eq!(
            diff(old, new),
            [(true, "request body: made required".into())]
        );
    }

    #[test]
    fn rule_6_7_request_fields() {
        let one = thing(json!({ "a": { "type": "string" } }), json!([]));
        let two_required = thing(
            json!({ "a": { "type": "string" }, "b": { "type": "string" } }),
            json!(["b"]),
        );
        let two_optional = thing(
            json!({ "a": { "type": "string" }, "b": { "type": "string" } }),
            json!([]),
        );
        assert_eq!(
            diff(with_body(one.clone()), with_body(two_required.clone())),
            [(true, "request body field `b`: added as required".into())]
        );
        assert_eq!(
            diff(with_body(two_optional.clone()), with_body(two_required)),
            [(true, "request body field `b`: made required".into())]
        );
        assert_eq!(
            diff(with_body(one.clone()), with_body(two_optional.clone())),
            [(false, "request body field `b`: added as optional".into())]
        );
        assert_eq!(
            diff(with_body(two_optional), with_body(one)),
            [(false, "request body field `b`: removed".into())]
        );
    }

    #[test]
    fn rule_8_9_response_fields() {
        let one = thing(json!({ "a": { "type": "string" } }), json!(["a"]));
        let two = thing(
            json!({ "a": { "type": "string" }, "b": { "type": "integer" } }),
            json!(["a", "b"]),
        );
        let optional = thing(json!({ "a": { "type": "string" } }), json!([]));
        assert_eq!(
            diff(with_response(two.clone()), with_response(one.clone())),
            [(
                true,
                "response 201 `application/json` field `b`: removed".into()
            )]
        );
        assert_eq!(
            diff(with_response(one.clone()), with_response(optional)),
            [(
                true,
                "response 201 `application/json` field `a`: no longer always sent".into()
            )]
        );
        assert_eq!(
            diff(with_response(one), with_response(two)),
            [(
                false,
                "response 201 `application/json` field `b`: added".into()
            )]
        );
    }

    #[test]
    fn rule_10_11_types_and_enums_by_side() {
        let field = |schema: Value| thing(json!({ "a": schema }), json!(["a"]));
        let string = json!({ "type": "string" });
        let nullable = json!({ "type": ["string", "null"] });
        let integer = json!({ "type": "integer" });
        // Retyped: breaking on both sides.
        assert!(
            diff(
                with_body(field(string.clone())),
                with_body(field(integer.clone()))
            )[0]
            .0
        );
        assert!(
            diff(
                with_response(field(string.clone())),
                with_response(field(integer))
            )[0]
            .0
        );
        // Widened: fine for a request, breaking for a response; narrowed the other way round.
        assert!(
            !diff(
                with_body(field(string.clone())),
                with_body(field(nullable.clone()))
            )[0]
            .0
        );
        assert!(
            diff(
                with_response(field(string.clone())),
                with_response(field(nullable.clone()))
            )[0]
            .0
        );
        assert!(
            diff(
                with_body(field(nullable.clone())),
                with_body(field(string.clone()))
            )[0]
            .0
        );
        assert!(!diff(with_response(field(nullable)), with_response(field(string)))[0].0);
        // Enums: a request that lost a value, a response that gained one.
        let colours = |values: Value| json!({ "type": "string", "enum": values });
        let (three, two) = (
            colours(json!(["red", "green", "blue"])),
            colours(json!(["red", "green"])),
        );
        assert_eq!(
            diff(with_body(field(three.clone())), with_body(field(two.clone()))),
            [(true, "request body field `a`: values \"blue\" | \"green\" | \"red\" became \"green\" | \"red\"".into())]
        );
        assert!(
            !diff(
                with_body(field(two.clone())),
                with_body(field(three.clone()))
            )[0]
            .0
        );
        assert!(
            diff(
                with_response(field(two.clone())),
                with_response(field(three.clone()))
            )[0]
            .0
        );
        assert!(!diff(with_response(field(three)), with_response(field(two)))[0].0);
    }

    #[test]
    fn rule_12_13_bounds_by_side() {
        let field = |schema: Value| thing(json!({ "a": schema }), json!(["a"]));
        let short = json!({ "type": "string", "maxLength": 10 });
        let long = json!({ "type": "string", "maxLength": 200 });
        assert_eq!(
            diff(
                with_body(field(long.clone())),
                with_body(field(short.clone()))
            ),
            [(
                true,
                "request body field `a`: `maxLength` 200 became 10".into()
            )]
        );
        assert!(
            !diff(
                with_body(field(short.clone())),
                with_body(field(long.clone()))
            )[0]
            .0
        );
        assert!(
            diff(
                with_response(field(short.clone())),
                with_response(field(long.clone()))
            )[0]
            .0
        );
        assert!(!diff(with_response(field(long)), with_response(field(short)))[0].0);
        let minimum = |n: i64| json!({ "type": "integer", "minimum": n });
        assert!(diff(with_body(field(minimum(1))), with_body(field(minimum(5))))[0].0);
        assert!(!diff(with_body(field(minimum(5))), with_body(field(minimum(1))))[0].0);
        let plain = json!({ "type": "string" });
        let patterned = json!({ "type": "string", "pattern": "^[a-z]+$" });
        assert!(
            diff(
                with_body(field(plain.clone())),
                with_body(field(patterned.clone()))
            )[0]
            .0
        );
        assert!(!diff(with_body(field(patterned)), with_body(field(plain)))[0].0);
    }

    #[test]
    fn rule_14_compositions() {
        let field = |schema: Value| thing(json!({ "a": schema }), json!(["a"]));
        let one = json!({ "oneOf": [{ "type": "string" }] });
        let two = json!({ "oneOf": [{ "type": "string" }, { "type": "integer" }] });
        assert_eq!(
            diff(with_body(field(one)), with_body(field(two))),
            [(true, "request body field `a`: `oneOf` changed".into())]
        );
    }

    #[test]
    fn rule_15_16_statuses() {
        let answers = |status: &str| {
            document(
                json!({ "responses": { status: { "description": "ok" }, "404": { "description": "no" } } }),
                json!({}),
            )
        };
        let mut changes = diff(answers("200"), answers("201"));
        changes.sort();
        assert_eq!(
            changes,
            [
                (false, "response 201: added".to_string()),
                (true, "response 200: no longer answered".to_string()),
            ]
        );
        let mut fewer = answers("200");
        fewer["paths"]["/things"]["post"]["responses"]
            .as_object_mut()
            .unwrap()
            .remove("404");
        assert_eq!(
            diff(answers("200"), fewer),
            [(false, "response 404: no longer listed".into())]
        );
    }

    #[test]
    fn rule_17_18_security_and_access() {
        let access = |level: &str, secured: bool| {
            let mut operation = json!({ "responses": ok(json!({})), "x-access": level });
            if secured {
                operation["security"] = json!([{ "bearerAuth": [] }]);
            }
            document(operation, json!({}))
        };
        let mut changes = diff(access("public", false), access("authenticated", true));
        changes.sort();
        assert_eq!(
            changes,
            [
                (true, "access: `public` became `authenticated`".to_string()),
                (true, "security: now required".to_string()),
            ]
        );
        assert_eq!(
            diff(access("authenticated", true), access("admin", true)),
            [(true, "access: `authenticated` became `admin`".into())]
        );
        let mut changes = diff(access("admin", true), access("public", false));
        changes.sort();
        assert_eq!(
            changes,
            [
                (false, "access: `admin` became `public`".to_string()),
                (false, "security: no longer required".to_string()),
            ]
        );
    }

    #[test]
    fn rule_19_text_only_is_documentation() {
        let old = with_params(json!([]));
        let mut new = old.clone();
        new["paths"]["/things"]["post"]["summary"] = json!("Adds a thing");
        assert_eq!(
            diff(old, new),
            [(
                false,
                "documentation changed (descriptions, summaries or other text)".into()
            )]
        );
    }

    #[test]
    fn rule_20_deprecation_is_listed() {
        let old = with_params(json!([]));
        let mut new = old.clone();
        new["paths"]["/things"]["post"]["deprecated"] = json!(true);
        assert_eq!(diff(old, new), [(false, "deprecated".into())]);
    }

    #[test]
    fn rule_21_versions_of_a_versioned_lock() {
        use super::{compare_locks, versioned_lock};
        let plain = with_params(json!([]));
        let mut changed = plain.clone();
        changed["paths"]["/things"]["post"]["parameters"] =
            json!([{ "name": "q", "in": "query", "required": true, "schema": {} }]);
        let old = versioned_lock([
            ("1.0".to_string(), plain.clone()),
            ("2.0".to_string(), plain.clone()),
        ]);
        let new = versioned_lock([("2.0".to_string(), changed), ("3.0".to_string(), plain)]);
        let changes: Vec<String> = compare_locks(&old, &new)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            changes,
            [
                "breaking: [1.0] API: version no longer served",
                "breaking: [2.0] POST /things: query parameter `q`: added as required",
                "compatible: [3.0] API: version added",
            ]
        );
    }

    #[test]
    fn recursive_types_end() {
        let tree = json!({ "Thing": { "type": "object", "properties": { "children": { "type": "array", "items": { "$ref": "#/components/schemas/Thing" } } } } });
        let mut changed = tree.clone();
        changed["Thing"]["properties"]["name"] = json!({ "type": "string" });
        assert_eq!(
            diff(with_response(tree), with_response(changed)),
            [(
                false,
                "response 201 `application/json` field `name`: added".into()
            )]
        );
    }
}
