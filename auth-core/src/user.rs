//! Users: what authentication returns ([`MinimalUser`], a string, a JSON object or a type of your
//! own through [`IntoAuthUser`]) and what handlers see ([`AuthUser`], inside [`AuthContext`]).

use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::HttpException;
use crate::vocab::{Action, Resource};

/// The user an authenticate handler returns, built with [`MinimalUser::new`] and setters.
///
/// It is LangGraph's `MinimalUserDict`: `display_name` defaults to the identity,
/// `is_authenticated` to `true`, `permissions` to none; any extra field is kept and reaches
/// handlers and graph runs.
///
/// ```
/// use auth::MinimalUser;
/// let user = MinimalUser::new("user1")
///     .with_display_name("Alice")
///     .with_permissions(["threads:write"])
///     .with_field("org", "acme");
/// assert_eq!(user.identity(), "user1");
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MinimalUser {
    identity: String,
    display_name: Option<String>,
    is_authenticated: Option<bool>,
    permissions: Vec<String>,
    extra: Map<String, Value>,
}

impl MinimalUser {
    /// A user with this identity and every other field at its default.
    pub fn new(identity: impl Into<String>) -> Self {
        MinimalUser {
            identity: identity.into(),
            ..MinimalUser::default()
        }
    }

    /// The identity.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// Sets the display name (default: the identity).
    pub fn with_display_name(mut self, display_name: impl Into<String>) -> Self {
        self.display_name = Some(display_name.into());
        self
    }

    /// Sets whether the user is authenticated (default: `true`).
    pub fn with_is_authenticated(mut self, is_authenticated: bool) -> Self {
        self.is_authenticated = Some(is_authenticated);
        self
    }

    /// Sets the permissions (default: none).
    pub fn with_permissions<I, S>(mut self, permissions: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.permissions = permissions.into_iter().map(Into::into).collect();
        self
    }

    /// Adds an extra field, available to handlers through [`AuthUser::get`] and to graph runs.
    pub fn with_field(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.extra.insert(name.into(), value.into());
        self
    }
}

/// Whether a user came from your authenticate handler or stands for LangGraph Studio.
///
/// LangGraph's Studio sends its own scheme; a handler that recognises it may return an
/// [`AuthUser`] of kind [`UserKind::Studio`], so that authorization handlers can tell it apart.
/// **No header is ever trusted for this**: a Studio user exists only when your handler makes one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UserKind {
    /// A user returned by the authenticate handler.
    #[default]
    Standard,
    /// LangGraph Studio's user.
    Studio,
}

/// The authenticated user, as handlers see it in [`AuthContext::user`].
///
/// ```
/// use auth::{AuthUser, MinimalUser};
/// let user = AuthUser::from(MinimalUser::new("user1").with_field("org", "acme"));
/// assert_eq!(user.identity(), "user1");
/// assert_eq!(user.display_name(), "user1");
/// assert!(user.is_authenticated());
/// assert_eq!(user.get("org").unwrap(), "acme");
/// assert_eq!(user.get("identity").unwrap(), "user1");
/// ```
///
/// Cloning is cheap (a reference count): the dispatcher hands each handler its own
/// [`AuthContext`] without copying the user.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthUser(Arc<UserData>);

#[derive(Debug, PartialEq)]
struct UserData {
    identity: String,
    display_name: Option<String>,
    is_authenticated: bool,
    permissions: Vec<String>,
    extra: Map<String, Value>,
    kind: UserKind,
}

impl AuthUser {
    /// An authenticated user with this identity and no permissions.
    pub fn new(identity: impl Into<String>) -> Self {
        MinimalUser::new(identity).into()
    }

    /// The user of a server without an authenticate handler: identity `""`, not authenticated.
    ///
    /// Built once per process and shared: each call costs a reference count, not an allocation.
    pub fn anonymous() -> Self {
        static ANONYMOUS: std::sync::LazyLock<AuthUser> =
            std::sync::LazyLock::new(|| MinimalUser::new("").with_is_authenticated(false).into());
        ANONYMOUS.clone()
    }

    /// LangGraph Studio's user with this identity.
    pub fn studio(identity: impl Into<String>) -> Self {
        let mut user = AuthUser::new(identity);
        if let Some(data) = Arc::get_mut(&mut user.0) {
            data.kind = UserKind::Studio;
        }
        user
    }

    /// The identity, the key that policies stamp as owner.
    pub fn identity(&self) -> &str {
        &self.0.identity
    }

    /// The display name (the identity unless the handler set one).
    pub fn display_name(&self) -> &str {
        self.0.display_name.as_deref().unwrap_or(&self.0.identity)
    }

    /// Whether the user is authenticated.
    pub fn is_authenticated(&self) -> bool {
        self.0.is_authenticated
    }

    /// The permissions granted by authentication.
    pub fn permissions(&self) -> &[String] {
        &self.0.permissions
    }

    /// The user's kind.
    pub fn kind(&self) -> UserKind {
        self.0.kind
    }

    /// Whether this is LangGraph Studio's user.
    pub fn is_studio(&self) -> bool {
        self.0.kind == UserKind::Studio
    }

    /// An extra field by name; the standard fields (`identity`, `display_name`,
    /// `is_authenticated`, `permissions`) are answered too, as JSON.
    pub fn get(&self, name: &str) -> Option<Value> {
        match name {
            "identity" => Some(Value::from(self.0.identity.as_str())),
            "display_name" => Some(Value::from(self.display_name())),
            "is_authenticated" => Some(Value::from(self.0.is_authenticated)),
            "permissions" => Some(Value::from(self.0.permissions.to_vec())),
            _ => self.0.extra.get(name).cloned(),
        }
    }

    /// The extra fields, beyond the standard ones.
    pub fn extra(&self) -> &Map<String, Value> {
        &self.0.extra
    }

    /// The user as the JSON object graph runs receive in
    /// `config.configurable.langgraph_auth_user`.
    pub fn to_json(&self) -> Value {
        let mut map = self.0.extra.clone();
        map.insert("identity".into(), self.0.identity.clone().into());
        map.insert("display_name".into(), self.display_name().into());
        map.insert("is_authenticated".into(), self.0.is_authenticated.into());
        map.insert("permissions".into(), self.0.permissions.to_vec().into());
        if self.0.kind == UserKind::Studio {
            map.insert("kind".into(), "StudioUser".into());
        }
        Value::Object(map)
    }
}

impl From<MinimalUser> for AuthUser {
    fn from(u: MinimalUser) -> Self {
        AuthUser(Arc::new(UserData {
            display_name: u.display_name,
            identity: u.identity,
            is_authenticated: u.is_authenticated.unwrap_or(true),
            permissions: u.permissions,
            extra: u.extra,
            kind: UserKind::Standard,
        }))
    }
}

/// What an authenticate handler may return.
///
/// Implemented for a string (the identity), [`MinimalUser`], [`AuthUser`], a JSON object with
/// `"identity"`, and `Result<T, HttpException>` of any of these. Implement it for a user type of
/// your own to return that type from `#[auth::authenticate]`.
///
/// ```
/// use auth::{AuthUser, HttpException, IntoAuthUser};
///
/// struct Employee { login: String, admin: bool }
///
/// impl IntoAuthUser for Employee {
///     fn into_auth_user(self) -> Result<AuthUser, HttpException> {
///         let perms: &[&str] = if self.admin { &["admin"] } else { &[] };
///         Ok(auth::MinimalUser::new(self.login).with_permissions(perms.iter().copied()).into())
///     }
/// }
/// let user = Employee { login: "ada".into(), admin: true }.into_auth_user().unwrap();
/// assert_eq!(user.permissions(), ["admin"]);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a user that authentication can return",
    label = "an authenticate handler must return a user",
    note = "return `MinimalUser`, `AuthUser`, `String`, a JSON object with \"identity\", or `Result<_, HttpException>` of one; or implement `auth::IntoAuthUser` for your type"
)]
pub trait IntoAuthUser {
    /// Converts the handler's result into the user, or the error to answer with.
    fn into_auth_user(self) -> Result<AuthUser, HttpException>;
}

impl IntoAuthUser for AuthUser {
    fn into_auth_user(self) -> Result<AuthUser, HttpException> {
        Ok(self)
    }
}

impl IntoAuthUser for MinimalUser {
    fn into_auth_user(self) -> Result<AuthUser, HttpException> {
        Ok(self.into())
    }
}

impl IntoAuthUser for String {
    fn into_auth_user(self) -> Result<AuthUser, HttpException> {
        Ok(AuthUser::new(self))
    }
}

impl IntoAuthUser for &str {
    fn into_auth_user(self) -> Result<AuthUser, HttpException> {
        Ok(AuthUser::new(self))
    }
}

impl IntoAuthUser for Map<String, Value> {
    /// `identity` is required and must be a string; `display_name` a string, `is_authenticated`
    /// a boolean and `permissions` a list of strings where present. Anything else is a 500.
    fn into_auth_user(mut self) -> Result<AuthUser, HttpException> {
        fn bad(what: &str) -> HttpException {
            HttpException::internal(format!(
                "the authenticate handler returned a user whose {what}"
            ))
        }
        let identity = match self.remove("identity") {
            Some(Value::String(s)) => s,
            Some(_) => return Err(bad("identity is not a string")),
            None => return Err(bad("\"identity\" is missing")),
        };
        let mut user = MinimalUser::new(identity);
        match self.remove("display_name") {
            Some(Value::String(s)) => user = user.with_display_name(s),
            None | Some(Value::Null) => {}
            Some(_) => return Err(bad("display_name is not a string")),
        }
        match self.remove("is_authenticated") {
            Some(Value::Bool(b)) => user = user.with_is_authenticated(b),
            None | Some(Value::Null) => {}
            Some(_) => return Err(bad("is_authenticated is not a boolean")),
        }
        match self.remove("permissions") {
            Some(Value::Array(items)) => {
                let mut perms = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        Value::String(s) => perms.push(s),
                        _ => return Err(bad("permissions are not all strings")),
                    }
                }
                user = user.with_permissions(perms);
            }
            None | Some(Value::Null) => {}
            Some(_) => return Err(bad("permissions are not a list")),
        }
        user.extra = self;
        Ok(user.into())
    }
}

impl IntoAuthUser for Value {
    /// A string is the identity; an object is read as [`Map`]; anything else is a 500.
    fn into_auth_user(self) -> Result<AuthUser, HttpException> {
        match self {
            Value::String(s) => s.into_auth_user(),
            Value::Object(map) => map.into_auth_user(),
            _ => Err(HttpException::internal(
                "the authenticate handler returned neither a string nor an object with \"identity\"",
            )),
        }
    }
}

impl<T: IntoAuthUser> IntoAuthUser for Result<T, HttpException> {
    fn into_auth_user(self) -> Result<AuthUser, HttpException> {
        self?.into_auth_user()
    }
}

/// What an authorization handler receives besides the value: who asks, and for what.
///
/// Handlers take it as `ctx: &AuthContext`. Building one costs two reference-count increments,
/// no allocation.
///
/// ```
/// use auth::{Action, AuthContext, AuthUser, MinimalUser, Resource};
/// let user = AuthUser::from(MinimalUser::new("u1").with_permissions(["threads:write"]));
/// let ctx = AuthContext::new(&user, Resource::Threads, Action::Create);
/// assert!(ctx.permissions.iter().any(|p| p == "threads:write"));
/// assert_eq!(ctx.user.identity(), "u1");
/// ```
#[derive(Debug, Clone)]
pub struct AuthContext {
    /// The authenticated user.
    pub user: AuthUser,
    /// The user's permissions (the same as `user.permissions()`).
    pub permissions: Permissions,
    /// The resource of the event.
    pub resource: Resource,
    /// The action of the event.
    pub action: Action,
}

impl AuthContext {
    /// The context of `user` asking for `(resource, action)`.
    pub fn new(user: &AuthUser, resource: Resource, action: Action) -> Self {
        AuthContext {
            user: user.clone(),
            permissions: Permissions(user.clone()),
            resource,
            action,
        }
    }
}

/// The permissions of an [`AuthContext`]'s user: a slice of strings (`ctx.permissions.iter()`,
/// `ctx.permissions.contains(..)`, `&ctx.permissions[..]`), shared with the user, not copied.
#[derive(Clone, PartialEq)]
pub struct Permissions(AuthUser);

impl std::ops::Deref for Permissions {
    type Target = [String];

    fn deref(&self) -> &[String] {
        self.0.permissions()
    }
}

impl std::fmt::Debug for Permissions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn minimal_user_defaults() {
        let u = AuthUser::from(MinimalUser::new("u1"));
        assert_eq!(u.display_name(), "u1");
        assert!(u.is_authenticated());
        assert!(u.permissions().is_empty());
        assert_eq!(u.kind(), UserKind::Standard);
    }

    #[test]
    fn json_users() {
        let u = json!({"identity": "u1", "permissions": ["a"], "org": "x"})
            .into_auth_user()
            .unwrap();
        assert_eq!(u.identity(), "u1");
        assert_eq!(u.permissions(), ["a"]);
        assert_eq!(u.get("org"), Some(json!("x")));
        assert_eq!(u.to_json()["display_name"], json!("u1"));
        assert_eq!(json!("u2").into_auth_user().unwrap().identity(), "u2");
        for bad in [
            json!({"name": "u1"}),
            json!({"identity": 1}),
            json!({"identity": "u", "permissions": "a"}),
            json!({"identity": "u", "permissions": [1]}),
            json!({"identity": "u", "is_authenticated": "yes"}),
            json!(3),
            json!(null),
        ] {
            assert_eq!(bad.into_auth_user().unwrap_err().status(), 500);
        }
    }

    #[test]
    fn results_keep_errors() {
        let r: Result<MinimalUser, HttpException> = Err(HttpException::new(401));
        assert_eq!(r.into_auth_user().unwrap_err().status(), 401);
    }

    #[test]
    fn studio_kind_is_visible_in_json() {
        let u = AuthUser::studio("s");
        assert!(u.is_studio());
        assert_eq!(u.to_json()["kind"], json!("StudioUser"));
    }
}
