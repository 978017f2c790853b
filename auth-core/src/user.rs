//! Users: what authentication returns ([`MinimalUser`], a string, a JSON object or a type of your
//! own through [`IntoAuthUser`]) and what handlers see ([`AuthUser`], inside [`AuthContext`]).

use std::borrow::Cow;
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
    identity: Cow<'static, str>,
    display_name: Option<Cow<'static, str>>,
    is_authenticated: Option<bool>,
    permissions: Vec<String>,
    /// `None` rather than an empty map: most users have no extra field, and dropping `None` is
    /// one comparison where dropping a map runs its iterator.
    extra: Option<Map<String, Value>>,
}

impl MinimalUser {
    /// A user with this identity and every other field at its default.
    ///
    /// A `String` is moved in and a `&str` copied; a [`Cow<'static, str>`](Cow) is kept as it is,
    /// so that a handler whose users come from a static table lends their strings instead of
    /// copying them on every request (see [`IntoUserText`]).
    #[inline]
    pub fn new(identity: impl IntoUserText) -> Self {
        MinimalUser {
            identity: identity.into_user_text(),
            ..MinimalUser::default()
        }
    }

    /// The identity.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// Sets the display name (default: the identity).
    #[must_use = "`with_*` returns the changed value"]
    #[inline]
    pub fn with_display_name(mut self, display_name: impl IntoUserText) -> Self {
        self.display_name = Some(display_name.into_user_text());
        self
    }

    /// Sets whether the user is authenticated (default: `true`).
    #[must_use = "`with_*` returns the changed value"]
    #[inline]
    pub fn with_is_authenticated(mut self, is_authenticated: bool) -> Self {
        self.is_authenticated = Some(is_authenticated);
        self
    }

    /// Sets the permissions (default: none).
    #[must_use = "`with_*` returns the changed value"]
    pub fn with_permissions<I, S>(mut self, permissions: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.permissions = permissions.into_iter().map(Into::into).collect();
        self
    }

    /// Adds an extra field, available to handlers through [`AuthUser::get`] and to graph runs.
    #[must_use = "`with_*` returns the changed value"]
    pub fn with_field(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.extra
            .get_or_insert_default()
            .insert(name.into(), value.into());
        self
    }
}

/// A string a user is built from: an identity or a display name.
///
/// A `String` is moved in, a `&str` or `&String` is copied, and a [`Cow<'static, str>`](Cow) is
/// kept as it is: `Cow::Borrowed` of a literal, or of a string in a `static` table, is never
/// copied. An authenticate handler runs on every request, so a handler that maps tokens to known
/// users can build each user without copying a byte:
///
/// ```
/// use std::borrow::Cow;
/// use auth::{AuthUser, MinimalUser};
///
/// static USERS: [(&str, &str); 1] = [("user1", "Alice")];
///
/// let (identity, name) = USERS[0];
/// let user = AuthUser::from(
///     MinimalUser::new(Cow::Borrowed(identity)).with_display_name(Cow::Borrowed(name)),
/// );
/// assert!(std::ptr::eq(user.identity(), identity)); // the table's own string
/// assert_eq!(user.display_name(), "Alice");
///
/// let copied = AuthUser::new(identity); // a `&str`: copied
/// assert!(!std::ptr::eq(copied.identity(), identity));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a string a user can be built from",
    label = "expected a string",
    note = "pass a `String` (moved), a `&str` (copied) or a `Cow<'static, str>` (kept as it is)"
)]
pub trait IntoUserText {
    /// The string, owned or borrowed for the life of the program.
    fn into_user_text(self) -> Cow<'static, str>;
}

impl IntoUserText for String {
    #[inline]
    fn into_user_text(self) -> Cow<'static, str> {
        Cow::Owned(self)
    }
}

impl IntoUserText for &str {
    #[inline]
    fn into_user_text(self) -> Cow<'static, str> {
        Cow::Owned(self.to_owned())
    }
}

impl IntoUserText for &String {
    #[inline]
    fn into_user_text(self) -> Cow<'static, str> {
        Cow::Owned(self.clone())
    }
}

impl IntoUserText for Box<str> {
    #[inline]
    fn into_user_text(self) -> Cow<'static, str> {
        Cow::Owned(self.into_string())
    }
}

impl IntoUserText for Cow<'static, str> {
    #[inline]
    fn into_user_text(self) -> Cow<'static, str> {
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
    identity: Cow<'static, str>,
    display_name: Option<Cow<'static, str>>,
    is_authenticated: bool,
    permissions: Vec<String>,
    /// Never `Some` of an empty map, as in [`MinimalUser`].
    extra: Option<Map<String, Value>>,
    kind: UserKind,
}

impl AuthUser {
    /// An authenticated user with this identity and no permissions.
    pub fn new(identity: impl IntoUserText) -> Self {
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
    pub fn studio(identity: impl IntoUserText) -> Self {
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
            "identity" => Some(Value::from(self.identity())),
            "display_name" => Some(Value::from(self.display_name())),
            "is_authenticated" => Some(Value::from(self.0.is_authenticated)),
            "permissions" => Some(Value::from(self.0.permissions.to_vec())),
            _ => self.extra().get(name).cloned(),
        }
    }

    /// The extra fields, beyond the standard ones.
    pub fn extra(&self) -> &Map<String, Value> {
        static NONE: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);
        self.0.extra.as_ref().unwrap_or(&NONE)
    }

    /// The user as the JSON object graph runs receive in
    /// `config.configurable.langgraph_auth_user`.
    pub fn to_json(&self) -> Value {
        let mut map = self.extra().clone();
        map.insert("identity".into(), self.identity().into());
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
    #[inline]
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
    #[inline]
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
        user.extra = (!self.is_empty()).then_some(self);
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
    #[inline]
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
    fn user_text_is_moved_or_kept_and_copied_only_when_borrowed() {
        let owned = String::from("u1");
        let at = owned.as_ptr();
        assert_eq!(
            AuthUser::new(owned).identity().as_ptr(),
            at,
            "a String is moved in"
        );
        static NAME: &str = "Ada";
        let lent = MinimalUser::new(Cow::Borrowed(NAME)).with_display_name(Cow::Borrowed(NAME));
        let lent = AuthUser::from(lent);
        assert!(std::ptr::eq(lent.identity(), NAME) && std::ptr::eq(lent.display_name(), NAME));
        let borrowed = String::from("u2");
        let copied = AuthUser::new(borrowed.as_str());
        assert_eq!(copied.identity(), "u2");
        assert_ne!(
            copied.identity().as_ptr(),
            borrowed.as_ptr(),
            "a &str is copied"
        );
        assert_eq!(AuthUser::new(&borrowed).identity(), "u2");
        assert_eq!(AuthUser::new(Box::<str>::from("u3")).identity(), "u3");
    }

    #[test]
    fn extra_fields_are_kept_and_absent_ones_are_empty() {
        let plain = AuthUser::new("u1");
        assert!(plain.extra().is_empty());
        assert_eq!(plain.get("org"), None);
        assert_eq!(
            plain.to_json(),
            json!({"identity": "u1", "display_name": "u1", "is_authenticated": true, "permissions": []})
        );
        let rich = AuthUser::from(
            MinimalUser::new("u1")
                .with_field("org", "acme")
                .with_field("n", 2),
        );
        assert_eq!(rich.extra().len(), 2);
        assert_eq!(rich.get("org"), Some(json!("acme")));
        assert_eq!(rich.to_json()["n"], json!(2));
        // A JSON user without extra fields is the same user as one built without them.
        assert_eq!(json!({"identity": "u1"}).into_auth_user().unwrap(), plain);
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
