//! [`Accountability`]: who is calling. Computed once per request, before the access check, by the
//! authenticator chain (see [`auth`](crate::auth)); read by handlers, layers and access checks.

use std::net::IpAddr;

use serde::Serialize;
use serde_json::{Map, Value};

/// The caller of a request: the seeds' `req.accountability`.
///
/// An extractor: add `who: Accountability` to an endpoint's arguments. Anonymous callers have
/// no `user`, no `role`, and are never `admin`. A request whose credential was present but
/// invalid never reaches a handler (401), so an anonymous `Accountability` always means "no
/// credential was sent".
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Accountability {
    /// The user id (`sub` of a JWT, `user` of a static token); `None` when anonymous.
    pub user: Option<String>,
    /// The user's primary role, if any: the first of [`roles`](Self::roles).
    pub role: Option<String>,
    /// Every role of the caller, the primary one first, as Directus 11's `accountability.roles`:
    /// from a JWT's role claim that is a string or an array of strings
    /// (`ENDPOINT_JWT_ROLE_CLAIM`, default `role`), a static token's `role` and `roles`, or an
    /// [`Identity`](crate::auth::Identity)'s. Empty when anonymous. `roles = [...]` on an
    /// endpoint and [`has_role`](Self::has_role) match any of them.
    pub roles: Vec<String>,
    /// Whether the caller is an admin (passes every access level). Never true when anonymous.
    pub admin: bool,
    /// Whether the caller is an app rather than a person (Directus `accountability.app`).
    pub app: bool,
    /// The client's IP: the socket peer, or the forwarded client when the peer is a trusted
    /// proxy (`ENDPOINT_TRUSTED_PROXIES`), read from the one header `ENDPOINT_FORWARDED_HEADER`
    /// names. The test client's requests come from `127.0.0.1` unless its request builder's
    /// `peer` says otherwise. `None` only
    /// when the router is served without connection info (embedded without
    /// `into_make_service_with_connect_info`, or called by the `build` command).
    pub ip: Option<IpAddr>,
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
    /// The `Origin` header.
    pub origin: Option<String>,
    /// The name of the authenticator that identified the caller (`"jwt"`, `"static-token"`,
    /// or a custom one); `None` when anonymous.
    pub authenticator: Option<&'static str>,
    /// The raw claims of the credential (every JWT claim); empty when anonymous.
    pub claims: Claims,
}

/// The raw claims of a credential: a JSON object, shared rather than copied (a remembered
/// JWT's claims are handed to every request that presents it). Reads as a
/// `serde_json::Map<String, Value>` through `Deref`; made from one with `From`.
///
/// ```
/// use endpoint_runtime::Claims;
/// let mut map = serde_json::Map::new();
/// map.insert("team".into(), "blue".into());
/// let claims = Claims::from(map);
/// assert_eq!(claims["team"], "blue");
/// assert!(Claims::default().is_empty());
/// assert_eq!(Claims::default(), Claims::from(serde_json::Map::new()));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Claims(Option<std::sync::Arc<Map<String, Value>>>);

impl Serialize for Claims {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (**self).serialize(serializer)
    }
}

impl std::ops::Deref for Claims {
    type Target = Map<String, Value>;

    fn deref(&self) -> &Map<String, Value> {
        // An anonymous caller's claims allocate nothing: they all read one empty map.
        static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);
        self.0.as_deref().unwrap_or(&EMPTY)
    }
}

impl PartialEq for Claims {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl From<Map<String, Value>> for Claims {
    fn from(map: Map<String, Value>) -> Self {
        Claims(Some(std::sync::Arc::new(map)))
    }
}

impl Accountability {
    /// An anonymous caller.
    pub fn anonymous() -> Self {
        Accountability::default()
    }

    /// An authenticated user with an optional role; for tests and custom authenticators.
    pub fn user(user: impl Into<String>, role: Option<&str>) -> Self {
        Accountability {
            user: Some(user.into()),
            role: role.map(str::to_string),
            roles: role.map(str::to_string).into_iter().collect(),
            ..Accountability::default()
        }
    }

    /// The same caller with these roles, the first primary (replacing any it had); for tests and
    /// custom authenticators.
    ///
    /// ```
    /// use endpoint_runtime::Accountability;
    /// let who = Accountability::user("ann", None).with_roles(["author", "editor"]);
    /// assert_eq!(who.role.as_deref(), Some("author"));
    /// assert!(who.has_role("editor"));
    /// ```
    pub fn with_roles<R: Into<String>>(mut self, roles: impl IntoIterator<Item = R>) -> Self {
        self.roles = Vec::new();
        for role in roles {
            let role = role.into();
            if !self.roles.contains(&role) {
                self.roles.push(role);
            }
        }
        self.role = self.roles.first().cloned();
        self
    }

    /// An authenticated admin.
    pub fn admin(user: impl Into<String>) -> Self {
        Accountability {
            admin: true,
            ..Self::user(user, None)
        }
    }

    /// The caller of a scheduled job (`#[schedule]`): user and role `system`, an app, **not an
    /// admin** (a job gets from the data services what the permissions grant the role
    /// `system`, nothing more by default), authenticator `schedule`, no IP. Its
    /// [`claims`](Self::claims) say which run it is: `job` (the job's name) and
    /// `scheduled_at` (the tick, RFC 3339 in UTC; `null` for a run by hand with `run-job`).
    ///
    /// ```
    /// use endpoint_runtime::Accountability;
    /// let who = Accountability::system("purge", Some("2026-12-02T20:15:00Z"));
    /// assert_eq!(who.user.as_deref(), Some("system"));
    /// assert!(who.has_role("system") && who.app && !who.admin);
    /// assert_eq!(who.claims["scheduled_at"], "2026-12-02T20:15:00Z");
    /// ```
    pub fn system(job: &str, scheduled_at: Option<&str>) -> Self {
        let mut claims = Map::new();
        claims.insert("job".into(), job.into());
        claims.insert("scheduled_at".into(), scheduled_at.into());
        Accountability {
            app: true,
            authenticator: Some("schedule"),
            claims: claims.into(),
            ..Self::user("system", Some("system"))
        }
    }

    /// `true` when no credential identified the caller.
    pub fn is_anonymous(&self) -> bool {
        self.user.is_none()
    }

    /// `true` when `role` is one of the caller's [`roles`](Self::roles).
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role) || self.role.as_deref() == Some(role)
    }
}
