//! The OpenAPI 3.1 description of `keyprint serve`, **generated** from this crate's types, so it cannot drift
//! from what the server parses and answers.
//!
//! Shapes: every request and response body schema is derived from the serde types of this crate
//! ([`schemars`], JSON Schema 2020-12, which is OpenAPI 3.1's schema dialect; doc comments become
//! descriptions, serde attributes such as `deny_unknown_fields` and `rename_all` are honoured). What the types
//! cannot say — the route, the method, the roles that may call it, the success status — is one row of
//! [`OPERATIONS`]. [`document`] joins both; the server serves it at `GET /openapi.json`, and
//! `docs/openapi.json` is a committed copy that `cargo test -p keyprint-wire` keeps current (rust-analyzer's
//! way with generated files: the test rewrites the file and fails when it changed).
//!
//! The server's test `every_route_is_documented` (crates/keyprint-server/tests/openapi.rs) probes every route
//! the server's routers declare, with every method, over real HTTP, and checks that the routed set and
//! [`OPERATIONS`] are the same.

use crate::*;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::{JsonSchema, Schema};
use serde_json::{Map, Value, json};

/// Generates the schema of one type into the generator (a `$ref` into `#/components/schemas`).
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

fn s<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: Bearer <token>` whose role is one of these.
    Roles(&'static [Role]),
    /// No credential (health, this document, the registration exchange whose body holds the token).
    Open,
}

/// A body: JSON of a type, JSON of an inline schema, or another media type.
#[derive(Clone, Copy)]
pub enum Content {
    /// No body.
    None,
    /// `application/json` of a wire type.
    Json(SchemaFn),
    /// `application/json` with an inline schema (a JSON text), for the demo-only routes.
    JsonInline(&'static str),
    /// Another media type (`text/plain; version=0.0.4`, `text/html`, `text/javascript`), no schema.
    Other(&'static str),
}

/// A query parameter.
#[derive(Clone, Copy, Debug)]
pub struct QueryParam {
    /// Name.
    pub name: &'static str,
    /// JSON Schema type: `string` or `integer`.
    pub ty: &'static str,
    /// What it does.
    pub description: &'static str,
}

/// One operation (method + path) of the API.
#[derive(Clone, Copy)]
pub struct Operation {
    /// Lower-case HTTP method (`get`, `post`, `put`, `delete`).
    pub method: &'static str,
    /// Path template, axum 0.8 / OpenAPI syntax (`/v1/sessions/{session}`); every `{name}` is a required
    /// string path parameter.
    pub path: &'static str,
    /// Stable operation id.
    pub id: &'static str,
    /// What it does, in one paragraph (roles included in words).
    pub summary: &'static str,
    /// Who may call it.
    pub auth: Auth,
    /// Query parameters.
    pub query: &'static [QueryParam],
    /// Request body.
    pub request: Content,
    /// Success status.
    pub status: u16,
    /// Success body.
    pub response: Content,
}

const READERS: &[Role] = &[Role::Read, Role::Admin];

const LIMIT: QueryParam = QueryParam {
    name: "limit",
    ty: "integer",
    description: "Rows per page, 1 to 1000 (default 100).",
};
const CURSOR: QueryParam = QueryParam {
    name: "cursor",
    ty: "string",
    description: "The next_cursor of the previous page (opaque).",
};
const PAGE: &[QueryParam] = &[LIMIT, CURSOR];
const ADMIN: &[Role] = &[Role::Admin];
const BACKEND: &[Role] = &[Role::Ingest, Role::Admin];

const fn op(
    method: &'static str,
    path: &'static str,
    id: &'static str,
    auth: Auth,
    summary: &'static str,
) -> Operation {
    Operation {
        method,
        path,
        id,
        summary,
        auth,
        query: &[],
        request: Content::None,
        status: 200,
        response: Content::None,
    }
}

/// Every operation the server answers (the `/try` routes only with `keyprint serve --try-page`).
pub const OPERATIONS: &[Operation] = &[
    Operation {
        request: Content::Json(s::<IngestBatch>),
        response: Content::Json(s::<IngestAck>),
        ..op(
            "post",
            "/v1/records",
            "ingest",
            Auth::Roles(&[Role::Device, Role::Browser]),
            "Ingest one batch of content-free records of one session. Every record is checked against the edge \
             specification (docs/EDGE.md); the batch is durable before the answer and applied whole or not at all. \
             Only a device credential (for its own device and its bound users) or a browser credential (its one \
             user and device) may post records; a session belongs to the device that opened it. The only route \
             open to browser pages of the origins given by --cors-origin (CORS: POST with Authorization and \
             Content-Type).",
        )
    },
    Operation {
        request: Content::Json(s::<NetFinding>),
        status: 201,
        response: Content::Json(s::<Alert>),
        ..op(
            "post",
            "/v1/net/findings",
            "net_finding",
            Auth::Roles(BACKEND),
            "Store a keyprint-net finding as an alert for the device (ingest, admin); delivered through the \
             outbox to every sink.",
        )
    },
    Operation {
        query: &[
            QueryParam {
                name: "user",
                ty: "string",
                description: "Only this user's sessions.",
            },
            LIMIT,
            CURSOR,
        ],
        response: Content::Json(s::<Page<SessionInfo>>),
        ..op(
            "get",
            "/v1/sessions",
            "list_sessions",
            Auth::Roles(READERS),
            "Sessions of the tenant, newest first by start time, one page (read, admin).",
        )
    },
    Operation {
        response: Content::Json(s::<SessionDetail>),
        ..op(
            "get",
            "/v1/sessions/{session}",
            "get_session",
            Auth::Roles(READERS),
            "One session with its trust history (read, admin); another tenant's session is not_found.",
        )
    },
    Operation {
        query: &[
            QueryParam {
                name: "after",
                ty: "integer",
                description: "Only alerts with a larger id (0 or absent: from the first).",
            },
            QueryParam {
                name: "user",
                ty: "string",
                description: "Only this user's alerts.",
            },
            LIMIT,
            CURSOR,
        ],
        response: Content::Json(s::<Page<Alert>>),
        ..op(
            "get",
            "/v1/alerts",
            "list_alerts",
            Auth::Roles(READERS),
            "Alerts with id > after (ids count per tenant), oldest first, one page (read, admin).",
        )
    },
    Operation {
        query: PAGE,
        response: Content::Json(s::<Page<UserInfo>>),
        ..op(
            "get",
            "/v1/users",
            "list_users",
            Auth::Roles(READERS),
            "Users with their enrolment state per engine, by id, one page (read, admin).",
        )
    },
    Operation {
        response: Content::Json(s::<Purged>),
        ..op(
            "delete",
            "/v1/users/{user}",
            "purge_user",
            Auth::Roles(ADMIN),
            "Purge a user's sessions, records, trust history, alerts and references (admin).",
        )
    },
    Operation {
        request: Content::Json(s::<EnrolmentDecision>),
        response: Content::Json(s::<EnrolmentDecided>),
        ..op(
            "post",
            "/v1/users/{user}/enrolment",
            "decide_enrolment",
            Auth::Roles(ADMIN),
            "Approve a held enrolment or reset an enrolment, of one engine or all (admin); alerts and history \
             stay.",
        )
    },
    Operation {
        request: Content::Json(s::<CreateKey>),
        status: 201,
        response: Content::Json(s::<NewKey>),
        ..op(
            "post",
            "/v1/keys",
            "create_key",
            Auth::Roles(ADMIN),
            "Create a tenant API key (admin): role ingest, read or admin; the token is shown once and stored as \
             the SHA-256 of its 128-bit secret. Device and browser credentials come from /v1/devices and \
             /v1/browser-credentials.",
        )
    },
    Operation {
        request: Content::Json(s::<RegisterDevice>),
        status: 201,
        response: Content::Json(s::<DeviceRegistration>),
        ..op(
            "post",
            "/v1/devices",
            "register_device",
            Auth::Roles(ADMIN),
            "Register a company-owned device (admin), optionally bound to its users; answers a one-time \
             registration token (valid 24 h).",
        )
    },
    Operation {
        query: PAGE,
        response: Content::Json(s::<Page<DeviceInfo>>),
        ..op(
            "get",
            "/v1/devices",
            "list_devices",
            Auth::Roles(READERS),
            "The tenant's devices and their credentials, by id, one page (read, admin).",
        )
    },
    Operation {
        request: Content::Json(s::<EnrollDevice>),
        response: Content::Json(s::<DeviceCredential>),
        ..op(
            "post",
            "/v1/devices/enroll",
            "enroll_device",
            Auth::Open,
            "Exchange a one-time registration token for the device's credential. No bearer token: the \
             registration token in the body is the credential, and it works once.",
        )
    },
    Operation {
        response: Content::Json(s::<DeviceInfo>),
        ..op(
            "get",
            "/v1/devices/{device}",
            "get_device",
            Auth::Roles(READERS),
            "One device (read, admin).",
        )
    },
    Operation {
        response: Content::Json(s::<DeviceInfo>),
        ..op(
            "delete",
            "/v1/devices/{device}",
            "revoke_device",
            Auth::Roles(ADMIN),
            "Revoke a device (admin): every credential and the registration token stop working at once; the \
             device stays listed as revoked.",
        )
    },
    Operation {
        response: Content::Json(s::<DeviceCredential>),
        ..op(
            "post",
            "/v1/devices/{device}/rotate",
            "rotate_device",
            Auth::Roles(&[Role::Admin, Role::Device]),
            "Rotate a device's credential (admin, or the device itself): a new credential is issued and every \
             earlier one revoked.",
        )
    },
    Operation {
        request: Content::Json(s::<BrowserCredentialRequest>),
        status: 201,
        response: Content::Json(s::<BrowserCredential>),
        ..op(
            "post",
            "/v1/browser-credentials",
            "browser_credential",
            Auth::Roles(BACKEND),
            "A short-lived browser credential for the console's logged-in user (ingest, admin: the console's \
             backend calls this, never page code).",
        )
    },
    Operation {
        request: Content::Json(s::<FixedTextPhrase>),
        status: 204,
        ..op(
            "put",
            "/v1/tenant/fixed-text",
            "set_phrase",
            Auth::Roles(ADMIN),
            "Set the tenant's fixed phrase (its id and length; the phrase itself stays on devices) (admin). A \
             change that would reset enrolments needs confirm_reset, else 409 confirmation_required with the \
             count.",
        )
    },
    Operation {
        request: Content::Json(s::<RetentionSetting>),
        status: 204,
        ..op(
            "put",
            "/v1/tenant/retention",
            "set_retention",
            Auth::Roles(ADMIN),
            "Set how many days the tenant's data is kept (admin).",
        )
    },
    Operation {
        response: Content::Other("application/json"),
        ..op(
            "get",
            "/openapi.json",
            "openapi",
            Auth::Open,
            "This description.",
        )
    },
    Operation {
        response: Content::Other("text/plain"),
        ..op(
            "get",
            "/healthz",
            "healthz",
            Auth::Open,
            "Liveness: the process answers HTTP.",
        )
    },
    Operation {
        response: Content::JsonInline(
            r#"{"type":"object","properties":{"storage":{"const":"ok"},"sinks":{"type":"integer"},"outbox_pending":{"type":"integer"}}}"#,
        ),
        ..op(
            "get",
            "/readyz",
            "readyz",
            Auth::Open,
            "Readiness: storage answers and every configured alert sink has a running delivery task; 503 \
             storage otherwise.",
        )
    },
    Operation {
        response: Content::Other("text/plain; version=0.0.4"),
        ..op(
            "get",
            "/metrics",
            "metrics",
            Auth::Open,
            "Prometheus metrics (text exposition format 0.0.4): ingest, scoring latency, rejected requests by \
             code, per-sink backlog, deliveries and failures.",
        )
    },
    Operation {
        response: Content::Other("text/html"),
        ..op(
            "get",
            "/try",
            "try_page",
            Auth::Open,
            "Demo only (keyprint serve --try-page; absent otherwise): the try-it-yourself page, which runs the \
             browser SDK.",
        )
    },
    Operation {
        response: Content::Other("text/javascript"),
        ..op(
            "get",
            "/try/keyprint.iife.js",
            "try_sdk",
            Auth::Open,
            "Demo only (--try-page): the browser SDK's script-tag build.",
        )
    },
    Operation {
        request: Content::JsonInline(
            r#"{"type":"object","additionalProperties":false,"required":["user"],"properties":{"user":{"type":"string","pattern":"^[A-Za-z0-9._-]{1,64}$"}}}"#,
        ),
        status: 201,
        response: Content::JsonInline(
            r##"{"type":"object","properties":{"credential":{"$ref":"#/components/schemas/BrowserCredential"},"phrase":{"type":"object","properties":{"id":{"type":"string"},"keys":{"type":"integer"}}}}}"##,
        ),
        ..op(
            "post",
            "/try/credential",
            "try_credential",
            Auth::Open,
            "Demo only (--try-page): the server acts as a console's backend for the demo tenant `try` and hands \
             the page a short-lived browser credential for the name given. In production the console's backend \
             calls POST /v1/browser-credentials with its ingest key instead.",
        )
    },
    Operation {
        query: &[QueryParam {
            name: "session",
            ty: "string",
            description: "A session of the credential's user whose trust history to include.",
        }],
        response: Content::JsonInline(r#"{"type":"object"}"#),
        ..op(
            "get",
            "/try/status",
            "try_status",
            Auth::Roles(&[Role::Browser]),
            "Demo only (--try-page): for the bearer of a /try/credential credential, that user's enrolment per \
             engine, the named session's trust history (another user's session is not_found) and the user's \
             alerts.",
        )
    },
];

fn content(c: Content, g: &mut SchemaGenerator) -> Option<Value> {
    match c {
        Content::None => None,
        Content::Json(f) => Some(json!({"application/json": {"schema": f(g)}})),
        Content::JsonInline(t) => {
            let schema: Value = serde_json::from_str(t).expect("inline schemas are valid JSON");
            Some(json!({"application/json": {"schema": schema}}))
        }
        Content::Other(m) => Some(json!({ m: {} })),
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        _ => "Success",
    }
}

/// The whole OpenAPI 3.1 document: [`OPERATIONS`] with schemas of this crate's types under
/// `#/components/schemas`, the bearer security scheme, and every error code with its status (from
/// [`ErrorCode::status`], the one table).
///
/// # Panics
/// Never on this crate's own tables (inline schemas are checked by this module's tests).
pub fn document() -> Value {
    let settings =
        SchemaSettings::draft2020_12().with(|s| s.definitions_path = "/components/schemas".into());
    let mut g = settings.into_generator();
    let error_ref = s::<ErrorBody>(&mut g);
    let mut paths = Map::new();
    for o in OPERATIONS {
        let mut params: Vec<Value> = o
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        params.extend(o.query.iter().map(|q| {
            json!({"name": q.name, "in": "query", "required": false, "description": q.description,
                   "schema": {"type": q.ty}})
        }));
        let mut ok = json!({"description": reason(o.status)});
        if let Some(c) = content(o.response, &mut g) {
            ok["content"] = c;
        }
        let mut responses = Map::new();
        responses.insert(o.status.to_string(), ok);
        let err = json!({"description": "An ErrorBody; the status follows from its code (see ErrorBody).",
                         "content": {"application/json": {"schema": error_ref.clone()}}});
        if o.auth != Auth::Open || !matches!(o.request, Content::None) || !o.query.is_empty() {
            responses.insert("4XX".into(), err.clone());
        }
        if o.path.starts_with("/v1/") {
            responses.insert("5XX".into(), err);
        }
        let mut operation = json!({
            "operationId": o.id,
            "summary": o.summary,
            "responses": responses,
        });
        if !params.is_empty() {
            operation["parameters"] = Value::Array(params);
        }
        if let Some(c) = content(o.request, &mut g) {
            operation["requestBody"] = json!({"required": true, "content": c});
        }
        match o.auth {
            Auth::Open => operation["security"] = json!([]),
            Auth::Roles(roles) => {
                let names: Vec<String> = roles
                    .iter()
                    .map(|r| serde_json::to_value(r).expect("roles serialise"))
                    .map(|v| v.as_str().unwrap_or_default().to_string())
                    .collect();
                operation["x-keyprint-roles"] = json!(names);
            }
        }
        let entry = paths.entry(o.path.to_string()).or_insert_with(|| json!({}));
        entry[o.method] = operation;
    }
    let codes: Vec<String> = ErrorCode::ALL
        .iter()
        .map(|c| {
            let name = serde_json::to_value(c).expect("codes serialise");
            format!("{} {}", name.as_str().unwrap_or_default(), c.status())
        })
        .collect();
    let mut schemas = g.take_definitions(true);
    if let Some(Value::Object(e)) = schemas.get_mut("ErrorBody") {
        e.insert(
            "description".into(),
            Value::String(format!(
                "Body of every 4xx/5xx answer. Status by code: {}.",
                codes.join("; ")
            )),
        );
    }
    json!({
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "keyprint",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Continuous behavioral authentication. Devices (the endpoint agent, the browser SDK) send \
                content-free records of their users' sessions — fixed-phrase timing vectors, free-text window \
                summaries, mouse action features, injection verdicts, device events; never key identities — \
                and the server answers per-session and per-user trust 0-100 with named reasons, and alerts. \
                Event-clock times are integer microseconds (_us); wall-clock times Unix milliseconds (_ms). \
                Generated from the keyprint-wire types (keyprint_wire::openapi).",
        },
        "servers": [{"url": "http://127.0.0.1:7878"}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key kp_<key_id>_<secret> (roles ingest, read, admin), a device credential \
                        or a browser credential; the operation's x-keyprint-roles lists the roles that may call it.",
                }
            },
            "schemas": schemas,
        },
        "paths": paths,
    })
}

/// [`document`] as the pretty-printed text served and committed (`docs/openapi.json`), with a final newline.
pub fn document_text() -> String {
    let mut t = serde_json::to_string_pretty(&document()).expect("a JSON value serialises");
    t.push('\n');
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keeps `docs/openapi.json` equal to the generated document: rewrites it and fails when it changed.
    #[test]
    fn committed_openapi_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
        let now = document_text();
        let before = std::fs::read_to_string(path).unwrap_or_default();
        if before != now {
            std::fs::write(path, &now).expect("write docs/openapi.json");
            panic!("docs/openapi.json was out of date and has been regenerated; commit it");
        }
    }

    #[test]
    fn every_reference_resolves_and_operations_are_unique() {
        let d = document();
        let text = d.to_string();
        let schemas = d["components"]["schemas"].as_object().unwrap();
        for part in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = part.split('"').next().unwrap();
            assert!(schemas.contains_key(name), "dangling $ref {name}");
        }
        let mut seen = std::collections::BTreeSet::new();
        for o in OPERATIONS {
            assert!(
                seen.insert((o.method, o.path)),
                "{} {} twice",
                o.method,
                o.path
            );
            assert!(matches!(o.method, "get" | "post" | "put" | "delete"));
        }
        let ids: std::collections::BTreeSet<_> = OPERATIONS.iter().map(|o| o.id).collect();
        assert_eq!(ids.len(), OPERATIONS.len(), "operation ids are unique");
    }

    #[test]
    fn schemas_follow_serde() {
        let d = document();
        let batch = &d["components"]["schemas"]["IngestBatch"];
        // deny_unknown_fields → additionalProperties false; doc comments → descriptions.
        assert_eq!(batch["additionalProperties"], json!(false));
        assert!(batch["description"].as_str().unwrap().contains("batch_seq"));
        let req: Vec<&str> = batch["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(req.contains(&"user") && req.contains(&"batch_seq") && !req.contains(&"records"));
        // rename_all = snake_case on the error codes.
        assert!(
            d["components"]["schemas"]["ErrorCode"]
                .to_string()
                .contains("confirmation_required")
        );
        // A route with a path parameter declares it.
        let p = &d["paths"]["/v1/devices/{device}"]["get"]["parameters"][0];
        assert_eq!(p["name"], "device");
        assert_eq!(p["in"], "path");
    }
}
