//! OpenAPI 3.1, generated from the same registry the router is built from, so the document
//! cannot drift from the code: one operation per endpoint and method, parameters, bodies and
//! responses from the Rust types (JSON Schema 2020-12 through `schemars`), the error responses
//! each endpoint can give, and security from its access level.

mod lock;

pub use lock::{Change, compare, compare_locks, locked, versioned_lock};

use std::collections::{BTreeMap, HashMap};

use schemars::JsonSchema;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value, json};

use crate::auth::effective;
use crate::config::Config;
use crate::error::ErrorFormat;
use crate::extract::Probe;
use crate::registry::{Access, Endpoint, Methods};

/// One operation being documented: what an endpoint's argument and return types say about it.
///
/// Generated code fills it from the endpoint's types. An application's own extractor or
/// response type describes itself by implementing [`DocumentedExtractor`] or
/// [`DocumentedResponse`] with these methods.
pub struct OperationDoc<'g> {
    generator: &'g mut SchemaGenerator,
    path_params: Vec<(String, Value)>,
    query: Vec<Value>,
    body: Option<Value>,
    response: Option<(String, Value)>,
    notes: Vec<String>,
    /// An input is validated (the operation may answer 422 `FAILED_VALIDATION`).
    validated: bool,
    /// A WebSocket upgrade: the operation answers 101.
    upgrade: bool,
}

/// Rewrites the boolean schema `true` ("anything", as for `serde_json::Value`) to the
/// equivalent `{}` wherever a schema stands, since some OpenAPI tools reject boolean schemas.
fn normalize(schema: &mut Value) {
    if *schema == Value::Bool(true) {
        *schema = json!({});
        return;
    }
    let Value::Object(map) = schema else { return };
    for key in [
        "items",
        "additionalProperties",
        "not",
        "contains",
        "propertyNames",
        "unevaluatedProperties",
        "unevaluatedItems",
    ] {
        if let Some(child) = map.get_mut(key) {
            normalize(child);
        }
    }
    for key in ["properties", "patternProperties", "$defs", "definitions"] {
        if let Some(Value::Object(children)) = map.get_mut(key) {
            children.values_mut().for_each(normalize);
        }
    }
    for key in ["oneOf", "anyOf", "allOf", "prefixItems"] {
        if let Some(Value::Array(children)) = map.get_mut(key) {
            children.iter_mut().for_each(normalize);
        }
    }
}

/// An endpoint's generated documentation function, submitted by `#[endpoint]` beside the
/// endpoint's registry record and found by its site. Not public API.
#[doc(hidden)]
pub struct Documented {
    /// The endpoint's function.
    pub site: crate::registry::Site,
    /// Describes its parameters, body and response.
    pub document: fn(&mut OperationDoc<'_>),
}

inventory::collect!(Documented);

/// A generated documentation function.
type DocumentFn = fn(&mut OperationDoc<'_>);

/// The documentation function of `endpoint`, from a map built on first use.
fn documentation(endpoint: &Endpoint) -> Option<DocumentFn> {
    type Key = (&'static str, u32, &'static str);
    static BY_SITE: std::sync::OnceLock<HashMap<Key, DocumentFn>> = std::sync::OnceLock::new();
    let by_site = BY_SITE.get_or_init(|| {
        inventory::iter::<Documented>
            .into_iter()
            .map(|d| ((d.site.file, d.site.line, d.site.handler), d.document))
            .collect()
    });
    by_site
        .get(&(endpoint.file(), endpoint.line(), endpoint.handler()))
        .copied()
}

impl<'g> OperationDoc<'g> {
    /// Runs `endpoint`'s generated documentation function.
    fn describe(generator: &'g mut SchemaGenerator, endpoint: &Endpoint) -> Self {
        let mut doc = OperationDoc {
            generator,
            path_params: Vec::new(),
            query: Vec::new(),
            body: None,
            response: None,
            notes: Vec::new(),
            validated: false,
            upgrade: false,
        };
        if let Some(document) = documentation(endpoint) {
            document(&mut doc);
        }
        doc
    }

    /// The JSON Schema of `T` (a `$ref` into `components/schemas` for named types).
    pub fn schema<T: ?Sized + JsonSchema>(&mut self) -> Value {
        let mut schema = self.generator.subschema_for::<T>().to_value();
        normalize(&mut schema);
        schema
    }

    /// A confined endpoint: a JSON body in, a JSON body out, both untyped (the route table
    /// marks it confined).
    pub fn confined(&mut self) {
        self.response = Some((
            "200".into(),
            json!({
                "description": "Success (JSON from the confined handler)",
                "content": { "application/json": { "schema": {} } }
            }),
        ));
    }

    /// An opaque return type: documented as any 200 response, with a note.
    pub fn untyped_response(&mut self, ty: &str) {
        self.notes.push(format!("untyped response `{ty}`"));
        self.response = Some(("200".into(), json!({ "description": "Success (untyped)" })));
    }

    /// A server-sent-events response ([`Sse`](crate::sse::Sse)): `200` with
    /// `text/event-stream`, whose `schema` describes each event (as OpenAPI before 3.2 has it
    /// for sequential media types, and as schemathesis checks it): an object of `id`,
    /// `event`, `retry` and `data`; with `data_schema`, `data` is that JSON document
    /// (`contentMediaType` and `contentSchema`).
    pub fn event_stream_response(&mut self, data_schema: Option<Value>) {
        let data = match data_schema {
            Some(schema) => json!({
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": schema,
            }),
            None => json!({ "type": "string" }),
        };
        self.response = Some((
            "200".into(),
            json!({
                "description": "Success (server-sent events)",
                "content": { "text/event-stream": { "schema": {
                    "type": "object",
                    "properties": {
                        "id": { "type": "string" },
                        "event": { "type": "string" },
                        "retry": { "type": "integer", "minimum": 0 },
                        "data": data,
                    },
                } } },
            }),
        ));
    }

    /// Documents a required request body of `content_type` with `schema`.
    pub fn body(&mut self, content_type: &str, schema: Value) {
        let mut content = Map::new();
        content.insert(content_type.to_string(), json!({ "schema": schema }));
        self.body = Some(json!({ "required": true, "content": content }));
    }

    /// Documents a JSON request body of type `T`.
    pub fn json_body<T: JsonSchema>(&mut self) {
        let schema = self.schema::<T>();
        self.body("application/json", schema);
    }

    /// Documents one query parameter per field of the struct `T`.
    pub fn query_params<T: JsonSchema>(&mut self) {
        let mut schema = T::json_schema(self.generator).to_value();
        normalize(&mut schema);
        let required: Vec<String> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| {
                r.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        match schema.get("properties").and_then(Value::as_object) {
            Some(properties) => {
                for (name, property) in properties {
                    self.query.push(json!({ "name": name, "in": "query", "required": required.contains(name), "schema": property }));
                }
            }
            None => self.notes.push(format!(
                "query `{}` is not a struct: its parameters are undocumented",
                std::any::type_name::<T>()
            )),
        }
    }

    /// Sets the success response's status (`201`; `0` for any success, `2XX`), keeping its
    /// body: what `status = 201` in the attribute and the status-stating response types do.
    pub fn success_status(&mut self, status: u16) {
        let status = match status {
            0 => "2XX".to_string(),
            code => code.to_string(),
        };
        match &mut self.response {
            Some((current, _)) => *current = status,
            None => self.response = Some((status, json!({ "description": "Success" }))),
        }
    }

    /// Marks an input the runtime validates (garde's `Validate`): the operation lists 422
    /// `FAILED_VALIDATION`. Generated code calls it; an extractor of one's own that validates
    /// may too.
    pub fn validated(&mut self) {
        self.validated = true;
    }

    /// A WebSocket endpoint: documented as answering `101 Switching Protocols` (and 400 to a
    /// request that is not an upgrade), with a note.
    pub fn websocket(&mut self) {
        self.upgrade = true;
        self.notes.push("WebSocket".into());
    }

    /// Adds a note shown in the route table and as `x-notes` on the operation.
    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// Documents the success response: `status` (such as `"200"` or `"2XX"`) with a JSON body
    /// of `schema`.
    pub fn json_response(&mut self, status: &str, schema: Value) {
        self.response = Some((
            status.into(),
            json!({
                "description": "Success",
                "content": { "application/json": { "schema": schema } },
            }),
        ));
    }
}

/// A response type that can describe itself in the OpenAPI document. Implemented for the
/// runtime's and axum's common responses (`Json<T>`, `JSend<T>`, `String`, `&str`, `()`,
/// `Redirect`, `Result<T, E>`, `(StatusCode, T)`); a return type without it is documented as
/// untyped, with a note.
pub trait DocumentedResponse {
    /// Describes the success response; `ty` is the type as written in the source.
    fn document(doc: &mut OperationDoc<'_>, ty: &str);
}

/// An extractor that can describe the input it reads (a body, query parameters). Implemented
/// for [`Json<T>`](crate::extract::Json) and [`Query<T>`](crate::extract::Query) when
/// `T: JsonSchema`; implement it for an application's own extractor.
///
/// ```
/// use endpoint_runtime::openapi::{DocumentedExtractor, OperationDoc};
///
/// #[derive(endpoint_runtime::schemars::JsonSchema)]
/// #[schemars(crate = "endpoint_runtime::schemars")]
/// struct Named { name: String }
///
/// /// An extractor of `{"name": ...}` bodies (its `FromRequest` impl is not shown).
/// struct NameBody(String);
///
/// impl DocumentedExtractor for NameBody {
///     fn document(doc: &mut OperationDoc<'_>) {
///         doc.json_body::<Named>();
///     }
/// }
/// ```
pub trait DocumentedExtractor {
    /// Describes what the extractor reads.
    fn document(doc: &mut OperationDoc<'_>);
}

impl<T: JsonSchema> DocumentedExtractor for crate::extract::Json<T> {
    fn document(doc: &mut OperationDoc<'_>) {
        doc.json_body::<T>();
    }
}

#[cfg(feature = "multipart")]
impl DocumentedExtractor for crate::multipart::Multipart {
    fn document(doc: &mut OperationDoc<'_>) {
        doc.body(
            "multipart/form-data",
            json!({ "type": "object", "additionalProperties": true }),
        );
    }
}

#[cfg(feature = "websocket")]
impl DocumentedExtractor for crate::ws::WebSocketUpgrade {
    fn document(doc: &mut OperationDoc<'_>) {
        doc.websocket();
    }
}

impl DocumentedExtractor for crate::body::BodyStream {
    fn document(doc: &mut OperationDoc<'_>) {
        doc.body = Some(json!({ "content": { "*/*": { "schema": {} } } }));
    }
}

impl<T: JsonSchema> DocumentedExtractor for crate::extract::Query<T> {
    fn document(doc: &mut OperationDoc<'_>) {
        doc.query_params::<T>();
    }
}

impl<T: JsonSchema> DocumentedResponse for crate::extract::Json<T> {
    fn document(doc: &mut OperationDoc<'_>, _: &str) {
        let schema = doc.schema::<T>();
        doc.json_response("200", schema);
    }
}

impl<T: JsonSchema> DocumentedResponse for crate::JSend<T> {
    fn document(doc: &mut OperationDoc<'_>, _: &str) {
        let data = doc.schema::<T>();
        doc.json_response(
            "200",
            json!({
                "type": "object",
                "required": ["status", "data"],
                "properties": { "status": { "const": "success" }, "data": data },
            }),
        );
    }
}

impl DocumentedResponse for String {
    fn document(doc: &mut OperationDoc<'_>, _: &str) {
        doc.response = Some((
            "200".into(),
            json!({
                "description": "Success",
                "content": { "text/plain": { "schema": { "type": "string" } } },
            }),
        ));
    }
}

impl DocumentedResponse for &'static str {
    fn document(doc: &mut OperationDoc<'_>, ty: &str) {
        String::document(doc, ty);
    }
}

impl DocumentedResponse for () {
    fn document(doc: &mut OperationDoc<'_>, _: &str) {
        doc.response = Some(("200".into(), json!({ "description": "Success, no body" })));
    }
}

impl DocumentedResponse for axum::response::Redirect {
    fn document(doc: &mut OperationDoc<'_>, _: &str) {
        doc.response = Some((
            "3XX".into(),
            json!({
                "description": "Redirect",
                "headers": { "Location": { "schema": { "type": "string" }, "description": "The target URL" } },
            }),
        ));
    }
}

impl<T: DocumentedResponse, E> DocumentedResponse for Result<T, E> {
    fn document(doc: &mut OperationDoc<'_>, ty: &str) {
        T::document(doc, ty);
    }
}

impl<T: DocumentedResponse> DocumentedResponse for (axum::http::StatusCode, T) {
    /// The status is chosen at run time: documented as any success, unless the attribute
    /// states it (`status = 201`).
    fn document(doc: &mut OperationDoc<'_>, ty: &str) {
        T::document(doc, ty);
        doc.success_status(0);
    }
}

impl DocumentedResponse for axum::http::StatusCode {
    /// A status alone, chosen at run time: any success without a body.
    fn document(doc: &mut OperationDoc<'_>, _: &str) {
        doc.response = Some(("2XX".into(), json!({ "description": "Success, no body" })));
    }
}

impl<T: DocumentedResponse> DocumentedResponse for crate::Created<T> {
    fn document(doc: &mut OperationDoc<'_>, ty: &str) {
        T::document(doc, ty);
        doc.success_status(201);
    }
}

impl<T: DocumentedResponse> DocumentedResponse for crate::Accepted<T> {
    fn document(doc: &mut OperationDoc<'_>, ty: &str) {
        T::document(doc, ty);
        doc.success_status(202);
    }
}

impl DocumentedResponse for crate::NoContent {
    fn document(doc: &mut OperationDoc<'_>, _: &str) {
        doc.response = Some((
            "204".into(),
            json!({ "description": "Success, no content" }),
        ));
    }
}

/// The autoref-specialization traits generated code calls. Not public API.
#[doc(hidden)]
pub mod traits {
    use super::*;

    pub trait ParamTyped {
        fn __endpoint_param_doc(&self, doc: &mut OperationDoc<'_>, name: &str, ty: &str);
    }
    impl<T: JsonSchema> ParamTyped for &&Probe<T> {
        fn __endpoint_param_doc(&self, doc: &mut OperationDoc<'_>, name: &str, _: &str) {
            let mut schema = doc.schema::<T>();
            super::integer_bounds(&mut schema);
            doc.path_params.push((name.into(), schema));
        }
    }
    pub trait ParamUntyped {
        fn __endpoint_param_doc(&self, doc: &mut OperationDoc<'_>, name: &str, ty: &str);
    }
    impl<T> ParamUntyped for &Probe<T> {
        fn __endpoint_param_doc(&self, doc: &mut OperationDoc<'_>, name: &str, ty: &str) {
            doc.notes
                .push(format!("untyped path parameter `{name}: {ty}`"));
            doc.path_params
                .push((name.into(), json!({ "type": "string" })));
        }
    }

    pub trait ExtractorTyped {
        fn __endpoint_extractor_doc(&self, doc: &mut OperationDoc<'_>, ty: &str);
    }
    impl<T: DocumentedExtractor> ExtractorTyped for &&&Probe<T> {
        fn __endpoint_extractor_doc(&self, doc: &mut OperationDoc<'_>, _: &str) {
            T::document(doc);
        }
    }
    pub trait ExtractorBody {
        fn __endpoint_extractor_doc(&self, doc: &mut OperationDoc<'_>, ty: &str);
    }
    impl<T> ExtractorBody for &&Probe<crate::extract::Json<T>> {
        fn __endpoint_extractor_doc(&self, doc: &mut OperationDoc<'_>, ty: &str) {
            doc.notes.push(format!("untyped body `{ty}`"));
            doc.body = Some(
                json!({ "required": true, "content": { "application/json": { "schema": {} } } }),
            );
        }
    }
    impl ExtractorBody for &&Probe<axum::body::Bytes> {
        fn __endpoint_extractor_doc(&self, doc: &mut OperationDoc<'_>, _: &str) {
            doc.body = Some(json!({ "content": { "*/*": { "schema": {} } } }));
        }
    }
    impl ExtractorBody for &&Probe<String> {
        fn __endpoint_extractor_doc(&self, doc: &mut OperationDoc<'_>, _: &str) {
            doc.body =
                Some(json!({ "content": { "text/plain": { "schema": { "type": "string" } } } }));
        }
    }
    pub trait ExtractorOther {
        fn __endpoint_extractor_doc(&self, doc: &mut OperationDoc<'_>, ty: &str);
    }
    impl<T> ExtractorOther for &Probe<T> {
        fn __endpoint_extractor_doc(&self, _: &mut OperationDoc<'_>, _: &str) {}
    }

    pub trait ResponseTyped {
        fn __endpoint_response_doc(&self, doc: &mut OperationDoc<'_>, ty: &str);
    }
    impl<T: DocumentedResponse> ResponseTyped for &&Probe<T> {
        fn __endpoint_response_doc(&self, doc: &mut OperationDoc<'_>, ty: &str) {
            T::document(doc, ty);
        }
    }
    /// The events of an `Sse` return type: `Json<T>` and `JsonEvent<T>` items with
    /// `T: JsonSchema` are documented with `T`'s schema.
    pub trait EventsTyped {
        fn __endpoint_events_doc(&self, doc: &mut OperationDoc<'_>);
    }
    impl<T: JsonSchema> EventsTyped for &&Probe<crate::extract::Json<T>> {
        fn __endpoint_events_doc(&self, doc: &mut OperationDoc<'_>) {
            let data = doc.schema::<T>();
            doc.event_stream_response(Some(data));
        }
    }
    impl<T: JsonSchema> EventsTyped for &&Probe<crate::sse::JsonEvent<T>> {
        fn __endpoint_events_doc(&self, doc: &mut OperationDoc<'_>) {
            let data = doc.schema::<T>();
            doc.event_stream_response(Some(data));
        }
    }
    pub trait EventsUntyped {
        fn __endpoint_events_doc(&self, doc: &mut OperationDoc<'_>);
    }
    impl<T> EventsUntyped for &Probe<T> {
        fn __endpoint_events_doc(&self, doc: &mut OperationDoc<'_>) {
            doc.event_stream_response(None);
        }
    }
    pub trait ResponseUntyped {
        fn __endpoint_response_doc(&self, doc: &mut OperationDoc<'_>, ty: &str);
    }
    impl<T> ResponseUntyped for &Probe<T> {
        fn __endpoint_response_doc(&self, doc: &mut OperationDoc<'_>, ty: &str) {
            doc.untyped_response(ty);
        }
    }
}

fn schema_generator() -> SchemaGenerator {
    let mut settings = SchemaSettings::draft2020_12();
    settings.definitions_path = "#/components/schemas/".into();
    settings.meta_schema = None;
    settings.into_generator()
}

fn error_schemas(format: ErrorFormat) -> (&'static str, Value) {
    match format {
        ErrorFormat::JSend => (
            "application/json",
            json!({
                "oneOf": [
                    {
                        "type": "object",
                        "description": "JSend fail (4xx)",
                        "required": ["status", "data"],
                        "properties": {
                            "status": { "const": "fail" },
                            "data": {
                                "type": "object",
                                "required": ["code", "message"],
                                "properties": {
                                    "code": { "type": "string" }, "message": { "type": "string" }, "details": {},
                                    "errors": { "type": "array", "items": { "$ref": "#/components/schemas/FieldError" } }
                                }
                            }
                        }
                    },
                    {
                        "type": "object",
                        "description": "JSend error (5xx)",
                        "required": ["status", "code", "message"],
                        "properties": {
                            "status": { "const": "error" },
                            "code": { "type": "string" },
                            "message": { "type": "string" },
                            "data": { "type": "object", "properties": { "request_id": { "type": "string" } } }
                        }
                    }
                ]
            }),
        ),
        ErrorFormat::Problem => (
            "application/problem+json",
            json!({
                "type": "object",
                "description": "RFC 9457 problem details",
                "required": ["type", "title", "status", "detail", "code"],
                "properties": {
                    "type": { "type": "string" }, "title": { "type": "string" }, "status": { "type": "integer" },
                    "detail": { "type": "string" }, "code": { "type": "string" }, "details": {}, "request_id": { "type": "string" },
                    "errors": { "type": "array", "items": { "$ref": "#/components/schemas/FieldError" } }
                }
            }),
        ),
    }
}

/// The schema of [`FieldError`](crate::FieldError): one entry of an error's `errors`.
fn field_error_schema() -> Value {
    json!({
        "type": "object",
        "description": "A field an error is about: where it was read, its path, the rule that failed (`length`, `range`, `pattern`, `email`, ..., `custom`) and a message",
        "required": ["in", "path", "code", "message"],
        "properties": {
            "in": { "type": "string", "enum": ["body", "query", "path", "header"] },
            "path": { "type": "string" },
            "code": { "type": "string" },
            "message": { "type": "string" }
        }
    })
}

fn error_response(content_type: &str, description: &str) -> Value {
    json!({
        "description": description,
        "content": { content_type: { "schema": { "$ref": "#/components/schemas/ErrorEnvelope" } } },
    })
}

/// The OpenAPI path of a route: `{*rest}` becomes `{rest}`.
fn openapi_path(path: &str) -> String {
    path.replace("{*", "{")
}

fn title_from_crate() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "API".into())
}

/// Per endpoint, the notes on what could not be typed, without building the document.
pub(crate) fn notes(
    endpoints: &[&'static Endpoint],
) -> HashMap<(String, &'static str), Vec<String>> {
    let mut generator = schema_generator();
    let mut notes = HashMap::new();
    for endpoint in endpoints {
        let doc = OperationDoc::describe(&mut generator, endpoint);
        if !doc.notes.is_empty() {
            notes.insert((endpoint.path(), endpoint.handler()), doc.notes);
        }
    }
    notes
}

/// Builds the document.
pub(crate) fn document(endpoints: &[&'static Endpoint], config: &Config) -> Value {
    document_at(endpoints, config, None)
}

/// The API lock of `endpoints` (`app openapi --write`): the [`locked`] document of an
/// unversioned API, or, of a versioned one, a [`versioned_lock`] of the document of each
/// version where the endpoints served change (each `since` and `until`), and of `0.0` for the
/// versions before the first.
pub(crate) fn lock_of(endpoints: &[&'static Endpoint], config: &Config) -> Value {
    if crate::ApiVersion::newest(endpoints).is_none() {
        return locked(&document(endpoints, config));
    }
    let versions =
        std::iter::once(crate::ApiVersion::FIRST).chain(crate::version::boundaries(endpoints));
    versioned_lock(versions.map(|version| {
        (
            version.to_string(),
            document_at(endpoints, config, Some(version)),
        )
    }))
}

/// Builds the document of one API version (`None`: the newest): only the endpoints that
/// version serves, and `info.version` naming it. An API whose endpoints name no version has
/// one document, `info.version` `1.0.0`.
pub(crate) fn document_at(
    endpoints: &[&'static Endpoint],
    config: &Config,
    version: Option<crate::ApiVersion>,
) -> Value {
    let version = version.or_else(|| crate::ApiVersion::newest(endpoints));
    let served: Vec<&'static Endpoint> = endpoints
        .iter()
        .copied()
        .filter(|e| version.is_none_or(|v| v.serves(e.lifecycle())))
        .collect();
    let endpoints = served.as_slice();
    let mut generator = schema_generator();
    let mut paths: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    let mut used_ids: HashMap<String, usize> = HashMap::new();
    let mut tags: Vec<String> = Vec::new();
    let (error_type, error_schema) = error_schemas(config.error_format);

    for endpoint in endpoints {
        let doc = OperationDoc::describe(&mut generator, endpoint);
        let OperationDoc {
            path_params,
            query,
            body,
            response,
            notes: endpoint_notes,
            validated,
            upgrade,
            ..
        } = doc;
        let tag = if endpoint.id().is_empty() {
            "root".to_string()
        } else {
            endpoint.id().to_string()
        };
        if !tags.contains(&tag) {
            tags.push(tag.clone());
        }
        let access = effective(endpoint, config.default_access);
        let methods: Vec<&str> = match endpoint.methods() {
            Methods::List(list) => list.iter().map(|m| m.as_str()).collect(),
            // `all`: every standard method that no other endpoint on the path routes.
            Methods::All => vec!["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]
                .into_iter()
                .filter(|m| !endpoints.iter().any(|other| other.path() == endpoint.path() && matches!(other.methods(), Methods::List(l) if l.iter().any(|x| x.as_str() == *m))))
                .collect(),
        };
        let item = paths.entry(openapi_path(&endpoint.path())).or_default();
        for method in &methods {
            let base = endpoint.handler().to_string();
            let base = if methods.len() > 1 {
                format!("{base}_{}", method.to_ascii_lowercase())
            } else {
                base
            };
            let count = used_ids.entry(base.clone()).or_insert(0);
            *count += 1;
            let operation_id = if *count == 1 {
                base
            } else {
                format!("{base}_{count}")
            };

            let mut parameters: Vec<Value> = endpoint
                .params()
                .iter()
                .map(|param| {
                    let schema = path_params.iter().find(|(n, _)| n == param.name).map(|(_, s)| s.clone()).unwrap_or(json!({ "type": "string" }));
                    let mut p = json!({ "name": param.name, "in": "path", "required": true, "schema": schema });
                    if param.catch_all {
                        p["description"] = json!("The rest of the path; may contain `/`.");
                    }
                    p
                })
                .collect();
            parameters.extend(query.iter().cloned());
            let idempotent = endpoint.policy().idempotent;
            if idempotent {
                parameters.push(json!({
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": false,
                    // 1 to 255 visible ASCII characters but `"` and `\`, bare or quoted (a
                    // structured-field string).
                    "schema": {
                        "type": "string",
                        "pattern": "^(?:\"[!#-\\[\\]-~]{1,255}\"|[!#-\\[\\]-~]{1,255})$",
                    },
                    "description": "draft-ietf-httpapi-idempotency-key-header: a retry with the same key (and the same request) is answered with the first response, marked `Idempotent-Replayed: true`",
                }));
            }

            let mut responses = Map::new();
            let (status, success) = if upgrade {
                (
                    "101".into(),
                    json!({ "description": "Switching Protocols: the WebSocket is open" }),
                )
            } else {
                response
                    .clone()
                    .unwrap_or(("200".into(), json!({ "description": "Success" })))
            };
            let success_status = status.clone();
            responses.insert(status, success);
            if upgrade {
                responses.insert(
                    "400".into(),
                    error_response(
                        error_type,
                        "Not a WebSocket upgrade request (`UPGRADE_REQUIRED`)",
                    ),
                );
            }
            if !parameters.is_empty() || body.is_some() {
                let what = if idempotent {
                    "Invalid path parameter, query, body or Idempotency-Key"
                } else {
                    "Invalid path parameter, query or body"
                };
                responses.insert("400".into(), error_response(error_type, what));
            }
            if body.is_some() {
                responses.insert(
                    "413".into(),
                    error_response(error_type, "Body over the limit"),
                );
                responses.insert(
                    "415".into(),
                    error_response(error_type, "Wrong content type"),
                );
            }
            let rules =
                "Input that breaks its type's rules (`FAILED_VALIDATION`, each field in `errors`)";
            let unprocessable = match (validated, body.is_some()) {
                (true, true) => Some(format!("{rules}, or well-formed JSON of the wrong shape")),
                (true, false) => Some(rules.to_string()),
                (false, true) => Some("Well-formed JSON of the wrong shape".to_string()),
                (false, false) => None,
            };
            if let Some(what) = unprocessable {
                responses.insert("422".into(), error_response(error_type, &what));
            }
            if version.is_some() {
                // A versioned API refuses an `api-version` that is no version, or a future one.
                let what = "`api-version` that is no version (`INVALID_API_VERSION`) or after the newest (`UNSUPPORTED_API_VERSION`)";
                let described = match responses.get("400").and_then(|r| r["description"].as_str()) {
                    Some(other) => format!("{other}, or an {what}"),
                    None => format!("An {what}"),
                };
                responses.insert("400".into(), error_response(error_type, &described));
                if let Some(success) = responses.get_mut(&success_status)
                    && let Some(success) = success.as_object_mut()
                {
                    let headers = success.entry("headers").or_insert_with(|| json!({}));
                    headers["api-version"] = json!({
                        "description": "The API version the answer was served at (the request's `api-version`, else the newest)",
                        "schema": { "type": "string" }
                    });
                }
            }
            if access != Access::Public {
                responses.insert(
                    "401".into(),
                    error_response(error_type, "Missing or invalid credentials"),
                );
            }
            if matches!(access, Access::Admin | Access::Roles(_)) {
                responses.insert(
                    "403".into(),
                    error_response(
                        error_type,
                        "Authenticated without the required level or role",
                    ),
                );
            }
            if idempotent {
                responses.insert(
                    "409".into(),
                    error_response(
                        error_type,
                        "A request with this Idempotency-Key is still running (`IDEMPOTENCY_KEY_IN_USE`, `Retry-After: 1`), or its response was not kept (`IDEMPOTENCY_RESPONSE_NOT_KEPT`)",
                    ),
                );
                let reused = "The Idempotency-Key was used with a different request";
                let described = match responses.get("422").and_then(|r| r["description"].as_str()) {
                    Some(what) => format!("{what}, or: {reused}"),
                    None => reused.to_string(),
                };
                responses.insert("422".into(), error_response(error_type, &described));
                if let Some(success) = responses.get_mut(&success_status)
                    && let Some(success) = success.as_object_mut()
                {
                    let headers = success.entry("headers").or_insert_with(|| json!({}));
                    headers["Idempotent-Replayed"] = json!({
                        "description": "`true` when this is the stored response to an earlier request with the same Idempotency-Key",
                        "schema": { "type": "string", "enum": ["true"] }
                    });
                }
            }
            let policy = endpoint.policy();
            if let Some(rate) = policy.rate_limit.or(config.rate_limit) {
                responses.insert(
                    "429".into(),
                    error_response(
                        error_type,
                        &format!("Over the rate of {rate}; `Retry-After` says when to retry"),
                    ),
                );
            }
            if let Some(n) = policy.concurrency {
                responses.insert(
                    "503".into(),
                    error_response(
                        error_type,
                        &format!("More than {n} requests at once (`Retry-After: 1`), or the request timeout"),
                    ),
                );
            }
            responses.insert(
                "500".into(),
                error_response(
                    error_type,
                    "Internal error; the body carries the request id",
                ),
            );
            responses.insert(
                "default".into(),
                error_response(error_type, "Any other error, in the same envelope"),
            );

            let summary = endpoint.summary();
            let mut operation = json!({
                "operationId": operation_id,
                "tags": [tag],
                "parameters": parameters,
                "responses": responses,
                "x-access": access.to_string(),
                "x-handler": format!("{}::{}", endpoint.module_path(), endpoint.handler()),
                "x-source": endpoint.location(),
            });
            if !summary.is_empty() {
                operation["summary"] = json!(summary);
            }
            let description = endpoint
                .docs()
                .split_once("\n\n")
                .map(|(_, rest)| rest.trim())
                .unwrap_or("");
            if !description.is_empty() {
                operation["description"] = json!(description);
            }
            if let Some(body) = &body
                && *method != "GET"
                && *method != "HEAD"
            {
                operation["requestBody"] = body.clone();
            }
            if access != Access::Public {
                operation["security"] = json!([{ "bearerAuth": [] }, { "staticToken": [] }]);
            }
            let lifecycle = endpoint.lifecycle();
            if lifecycle.deprecated.is_some() {
                operation["deprecated"] = json!(true);
                operation["x-deprecated-since"] = json!(lifecycle.deprecated);
                if let Some(sunset) = lifecycle.sunset {
                    operation["x-sunset"] = json!(sunset);
                }
            }
            if !endpoint_notes.is_empty() {
                operation["x-notes"] = json!(endpoint_notes);
            }
            item.insert(method.to_ascii_lowercase(), operation);
        }
    }

    let mut schemas = generator.take_definitions(true);
    schemas.values_mut().for_each(normalize);
    schemas.insert("ErrorEnvelope".into(), error_schema);
    schemas.insert("FieldError".into(), field_error_schema());
    let document = json!({
        "openapi": "3.1.0",
        "info": {
            "title": title_from_crate(),
            "version": version.map_or_else(|| "1.0.0".to_string(), |v| v.to_string()),
            "description": "Generated by endpoint-runtime from the registered endpoints.",
        },
        "servers": [{ "url": config.server_url() }],
        "tags": tags.iter().map(|t| json!({ "name": t })).collect::<Vec<_>>(),
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearerAuth": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": "A JWT verified with the configured key (ENDPOINT_JWT_*)." },
                "staticToken": { "type": "http", "scheme": "bearer", "description": "A static API token (ENDPOINT_STATIC_TOKENS)." },
            },
        },
    });
    document
}

/// The self-contained docs page, pointed at the document's URL.
pub(crate) fn docs_page(spec_url: &str) -> String {
    include_str!("../../assets/docs.html").replace("__SPEC_URL__", spec_url)
}

/// Writes the range of a fixed-size integer parameter as `minimum` / `maximum`: `schemars`
/// gives only `format` (`uint32`, `int64`, `uint` for `usize`...), and a client that reads the
/// schema alone would send values the parameter's `FromStr` rejects with 400.
fn integer_bounds(schema: &mut Value) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    let range: Option<(i128, i128)> = match object.get("format").and_then(Value::as_str) {
        Some("int8") => Some((i8::MIN.into(), i8::MAX.into())),
        Some("int16") => Some((i16::MIN.into(), i16::MAX.into())),
        Some("int32") => Some((i32::MIN.into(), i32::MAX.into())),
        Some("int64" | "int") => Some((i64::MIN.into(), i64::MAX.into())),
        Some("uint8") => Some((0, u8::MAX.into())),
        Some("uint16") => Some((0, u16::MAX.into())),
        Some("uint32") => Some((0, u32::MAX.into())),
        Some("uint64" | "uint") => Some((0, u64::MAX.into())),
        _ => None,
    };
    let number = |n: i128| match (i64::try_from(n), u64::try_from(n)) {
        (Ok(signed), _) => json!(signed),
        (_, Ok(unsigned)) => json!(unsigned),
        _ => Value::Null,
    };
    if let Some((min, max)) = range {
        object.entry("minimum").or_insert_with(|| number(min));
        object.entry("maximum").or_insert_with(|| number(max));
    }
}

/// Adds the `/items` REST face ([`App::items_api`](crate::App::items_api)) of every
/// collection of `schema` to `document`: one operation set per collection, with its fields.
#[cfg(feature = "services")]
pub(crate) fn items_paths(document: &mut Value, schema: &crate::schema::Schema, config: &Config) {
    use crate::schema::FieldKind;
    let (error_type, _) = error_schemas(config.error_format);
    let errors = |codes: &[(&str, &str)]| -> Map<String, Value> {
        codes
            .iter()
            .map(|(code, description)| (code.to_string(), error_response(error_type, description)))
            .collect()
    };
    let query_parameters = json!([
        { "name": "fields", "in": "query", "schema": { "type": "string" }, "description": "Comma-separated fields; `relation.field` through a many-to-one field; `count(relation)` of a one-to-many relation, returned as `relation_func.count`" },
        { "name": "filter", "in": "query", "schema": { "type": "string" }, "description": "A filter rule in JSON, or `filter[field][_op]=value`" },
        { "name": "sort", "in": "query", "schema": { "type": "string" }, "description": "Comma-separated fields, `-` for descending" },
        { "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": -1 } },
        { "name": "offset", "in": "query", "schema": { "type": "integer", "minimum": 0 } },
        { "name": "page", "in": "query", "schema": { "type": "integer", "minimum": 1 } },
        { "name": "search", "in": "query", "schema": { "type": "string" } },
        { "name": "deep", "in": "query", "style": "deepObject", "explode": true, "schema": { "type": "object" }, "description": "`deep[relation][_filter][field][_op]=value`: narrows what `count(relation)` counts" }
    ]);
    let mut paths = Map::new();
    for (name, collection) in &schema.collections {
        let mut properties = Map::new();
        for field in &collection.fields {
            let mut types: Vec<&str> = match field.kind {
                FieldKind::Integer => vec!["integer"],
                FieldKind::Float => vec!["number"],
                FieldKind::Boolean => vec!["boolean"],
                FieldKind::Json => vec!["object", "array", "string", "number", "boolean"],
                FieldKind::Binary => vec!["array"],
                _ => vec!["string"],
            };
            if schema.relation(name, &field.name).is_some() {
                // `fields=author.name` reads the related item in its place.
                types.push("object");
            }
            if field.nullable || field.kind == FieldKind::Json {
                types.push("null");
            }
            properties.insert(field.name.clone(), json!({ "type": types }));
        }
        // `fields=count(articles)`: the count of each one-to-many relation.
        for relation in schema
            .relations
            .iter()
            .filter(|r| r.related_collection == *name)
        {
            if schema.one_to_many(name, &relation.collection).is_some() {
                properties.insert(
                    format!("{}_func", relation.collection),
                    json!({ "type": "object", "properties": { "count": { "type": "integer" } } }),
                );
            }
        }
        let item = json!({ "type": "object", "properties": properties });
        let jsend = |data: Value| {
            json!({ "application/json": { "schema": {
                "type": "object", "required": ["status", "data"],
                "properties": { "status": { "const": "success" }, "data": data }
            } } })
        };
        let tag = json!(["items"]);
        let mut read_errors = errors(&[
            (
                "400",
                "A query that does not parse (`INVALID_QUERY`, naming its path)",
            ),
            ("401", "Invalid credentials"),
            ("403", "A collection, item or field the caller may not read"),
            ("404", "No such route (an empty `{id}`)"),
            ("503", "The database is unavailable"),
        ]);
        let mut write_errors = errors(&[
            (
                "400",
                "An invalid payload or query (`INVALID_PAYLOAD`, `FAILED_VALIDATION`, `INVALID_QUERY`)",
            ),
            ("401", "Invalid credentials"),
            (
                "403",
                "A collection, item or field the caller may not write",
            ),
            ("404", "No such route (an empty `{id}`)"),
            ("413", "Body over the limit"),
            ("415", "Wrong content type"),
            ("422", "Well-formed JSON of the wrong shape"),
            ("503", "The database is unavailable"),
        ]);
        read_errors.insert("200".into(), json!({ "description": "The items", "content": jsend(json!({ "type": "array", "items": item })) }));
        let list = json!({
            "operationId": format!("items_{name}_list"), "tags": tag, "summary": format!("Read `{name}` items"),
            "parameters": query_parameters, "responses": read_errors,
        });
        let mut created = write_errors.clone();
        created.insert("200".into(), json!({ "description": "The created item(s), as the caller may read them", "content": jsend(json!({ "oneOf": [item, { "type": "array", "items": item }] })) }));
        created.insert(
            "204".into(),
            json!({ "description": "Created; the caller may read none of it" }),
        );
        let create = json!({
            "operationId": format!("items_{name}_create"), "tags": tag, "summary": format!("Create `{name}` items"),
            "requestBody": { "required": true, "content": { "application/json": { "schema": { "oneOf": [item, { "type": "array", "items": item }] } } } },
            "responses": created,
        });
        paths.insert(
            format!("/items/{name}"),
            json!({ "get": list, "post": create }),
        );

        let key_type = match collection
            .primary_key
            .as_deref()
            .and_then(|key| collection.field(key))
            .map(|field| field.kind)
        {
            Some(FieldKind::Integer) => "integer",
            _ => "string",
        };
        let id = json!([{ "name": "id", "in": "path", "required": true, "schema": { "type": key_type } }]);
        let mut one = read_errors.clone();
        one.insert(
            "200".into(),
            json!({ "description": "The item", "content": jsend(item.clone()) }),
        );
        let mut with_query: Vec<Value> = id.as_array().cloned().unwrap_or_default();
        with_query.extend(query_parameters.as_array().cloned().unwrap_or_default());
        let mut updated = write_errors.clone();
        updated.insert("200".into(), json!({ "description": "The updated item, as the caller may read it", "content": jsend(item.clone()) }));
        updated.insert(
            "204".into(),
            json!({ "description": "Updated; the caller may not read it" }),
        );
        write_errors.remove("413");
        write_errors.remove("415");
        write_errors.remove("422");
        write_errors.insert("204".into(), json!({ "description": "Deleted" }));
        paths.insert(format!("/items/{name}/{{id}}"), json!({
            "get": { "operationId": format!("items_{name}_read"), "tags": tag, "summary": format!("Read one `{name}` item"), "parameters": with_query, "responses": one },
            "patch": { "operationId": format!("items_{name}_update"), "tags": tag, "summary": format!("Update one `{name}` item"), "parameters": id,
                       "requestBody": { "required": true, "content": { "application/json": { "schema": item } } }, "responses": updated },
            "delete": { "operationId": format!("items_{name}_delete"), "tags": tag, "summary": format!("Delete one `{name}` item"), "parameters": id, "responses": write_errors },
        }));
    }
    if let Some(existing) = document.get_mut("paths").and_then(Value::as_object_mut) {
        existing.extend(paths);
    }
    if let Some(tags) = document.get_mut("tags").and_then(Value::as_array_mut) {
        tags.push(json!({ "name": "items", "description": "Directus's `/items` REST face (ItemsService)" }));
    }
}
