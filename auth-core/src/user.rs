//! Users: what authentication returns ([`MinimalUser`], a string, a JSON object or a type of your
//! own through [`IntoAuthUser`]) and what handlers see ([`AuthUser`], inside [`AuthContext`]).

use std::borrow::Cow;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
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
    /// A string that may be static, as everywhere in this crate (`Filter` keys, `HttpException`
    /// details and headers): a literal or a `&'static str` is lent, never copied; a `String` is
    /// moved in; a `Cow<'static, str>` is kept as it is. A `&str` borrowed for less is copied
    /// where you can see it: `name.to_owned()`.
    ///
    /// An authenticate handler runs on every request, so a handler that maps tokens to known
    /// users builds each user without copying a byte:
    ///
    /// ```
    /// use auth::{AuthUser, MinimalUser};
    ///
    /// static USERS: [(&str, &str); 1] = [("user1", "Alice")];
    ///
    /// let (identity, name) = USERS[0];
    /// let user = AuthUser::from(MinimalUser::new(identity).with_display_name(name));
    /// assert!(std::ptr::eq(user.identity(), identity)); // the table's own string
    /// assert_eq!(user.display_name(), "Alice");
    ///
    /// let header = String::from("user2");
    /// let borrowed: &str = &header;
    /// let copied = AuthUser::new(borrowed.to_owned()); // not static: copied, visibly
    /// assert_eq!(copied.identity(), "user2");
    /// ```
    #[inline]
    pub fn new(identity: impl Into<Cow<'static, str>>) -> Self {
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
    #[must_use = "`with_*` returns the changed value"]
    #[inline]
    pub fn with_display_name(mut self, display_name: impl Into<Cow<'static, str>>) -> Self {
        self.display_name = Some(display_name.into());
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

/// Whether a user came from your authenticate handler or stands for LangGraph Studio.
///
/// LangGraph's Studio sends its own scheme; a handler that recognises it may return an
/// [`AuthUser`] of kind [`UserKind::Studio`], so that authorization handlers can tell it apart.
/// **No header is ever trusted for this**: a Studio user exists only when your handler makes one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
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

#[derive(Debug)]
struct UserData {
    identity: Cow<'static, str>,
    display_name: Option<Cow<'static, str>>,
    is_authenticated: bool,
    permissions: Vec<String>,
    /// Never `Some` of an empty map, as in [`MinimalUser`].
    extra: Option<Map<String, Value>>,
    kind: UserKind,
}

/// Users are equal when handlers see them the same: a display name that was not set is the
/// identity.
impl PartialEq for UserData {
    fn eq(&self, other: &Self) -> bool {
        fn name(u: &UserData) -> &str {
            u.display_name.as_deref().unwrap_or(&u.identity)
        }
        self.identity == other.identity
            && name(self) == name(other)
            && self.is_authenticated == other.is_authenticated
            && self.permissions == other.permissions
            && self.extra == other.extra
            && self.kind == other.kind
    }
}

impl AuthUser {
    /// An authenticated user with this identity and no permissions.
    pub fn new(identity: impl Into<Cow<'static, str>>) -> Self {
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
    pub fn studio(identity: impl Into<Cow<'static, str>>) -> Self {
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
            map.insert("kind".into(), "studio".into());
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
    /// The identity is copied: a returned `&str` may borrow from the request.
    fn into_auth_user(self) -> Result<AuthUser, HttpException> {
        Ok(AuthUser::new(self.to_owned()))
    }
}

impl IntoAuthUser for Map<String, Value> {
    /// `identity` is required and must be a string; `display_name` a string, `is_authenticated`
    /// a boolean and `permissions` a list of strings where present. Anything else is a 500.
    fn into_auth_user(self) -> Result<AuthUser, HttpException> {
        minimal_from_map(self).map(AuthUser::from).map_err(|what| {
            HttpException::internal(format!(
                "the authenticate handler returned a user whose {what}"
            ))
        })
    }
}

/// A user from its JSON object; the error says what is wrong with it.
fn minimal_from_map(mut map: Map<String, Value>) -> Result<MinimalUser, &'static str> {
    let identity = match map.remove("identity") {
        Some(Value::String(s)) => s,
        Some(_) => return Err("identity is not a string"),
        None => return Err("\"identity\" is missing"),
    };
    let mut user = MinimalUser::new(identity);
    match map.remove("display_name") {
        Some(Value::String(s)) => user = user.with_display_name(s),
        None | Some(Value::Null) => {}
        Some(_) => return Err("display_name is not a string"),
    }
    match map.remove("is_authenticated") {
        Some(Value::Bool(b)) => user = user.with_is_authenticated(b),
        None | Some(Value::Null) => {}
        Some(_) => return Err("is_authenticated is not a boolean"),
    }
    match map.remove("permissions") {
        Some(Value::Array(items)) => {
            let mut perms = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::String(s) => perms.push(s),
                    _ => return Err("permissions are not all strings"),
                }
            }
            user = user.with_permissions(perms);
        }
        None | Some(Value::Null) => {}
        Some(_) => return Err("permissions are not a list"),
    }
    user.extra = (!map.is_empty()).then_some(map);
    Ok(user)
}

/// The JSON object of [`AuthUser::to_json`]: `identity`, `display_name`, `is_authenticated`,
/// `permissions`, `kind` (only for a Studio user, `"studio"`, as [`UserKind`] serializes) and
/// the extra fields.
///
/// ```
/// use auth::{AuthUser, MinimalUser, UserKind};
/// use serde_json::json;
///
/// let user = AuthUser::from(MinimalUser::new("u1").with_field("org", "acme"));
/// let json = serde_json::to_value(&user)?;
/// assert_eq!(json, user.to_json());
/// assert_eq!(serde_json::from_value::<AuthUser>(json)?, user);
///
/// let studio: AuthUser = serde_json::from_value(json!({"identity": "s", "kind": "studio"}))?;
/// assert_eq!(studio.kind(), UserKind::Studio);
/// # Ok::<(), serde_json::Error>(())
/// ```
impl Serialize for AuthUser {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for AuthUser {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut map = Map::deserialize(deserializer)?;
        let kind = match map.remove("kind") {
            None | Some(Value::Null) => UserKind::Standard,
            Some(kind) => UserKind::deserialize(kind).map_err(serde::de::Error::custom)?,
        };
        let user = minimal_from_map(map)
            .map_err(|what| serde::de::Error::custom(format_args!("a user whose {what}")))?;
        let mut user = AuthUser::from(user);
        if let (UserKind::Studio, Some(data)) = (kind, Arc::get_mut(&mut user.0)) {
            data.kind = UserKind::Studio;
        }
        Ok(user)
    }
}

/// LangGraph's `MinimalUserDict`: `identity`, and `display_name`, `is_authenticated` and
/// `permissions` where set, with the extra fields beside them.
///
/// ```
/// use auth::MinimalUser;
/// use serde_json::json;
///
/// let user = MinimalUser::new("u1").with_display_name("Ada").with_field("org", "acme");
/// let json = serde_json::to_value(&user)?;
/// assert_eq!(json, json!({"identity": "u1", "display_name": "Ada", "org": "acme"}));
/// assert_eq!(serde_json::from_value::<MinimalUser>(json)?, user);
/// assert!(serde_json::from_value::<MinimalUser>(json!({"name": "u1"})).is_err());
/// # Ok::<(), serde_json::Error>(())
/// ```
impl Serialize for MinimalUser {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("identity", &self.identity)?;
        if let Some(name) = &self.display_name {
            map.serialize_entry("display_name", name)?;
        }
        if let Some(is) = self.is_authenticated {
            map.serialize_entry("is_authenticated", &is)?;
        }
        if !self.permissions.is_empty() {
            map.serialize_entry("permissions", &self.permissions)?;
        }
        for (k, v) in self.extra.iter().flatten() {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for MinimalUser {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = Map::deserialize(deserializer)?;
        minimal_from_map(map)
            .map_err(|what| serde::de::Error::custom(format_args!("a user whose {what}")))
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
#[non_exhaustive]
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
    fn user_text_is_moved_or_lent_never_copied_implicitly() {
        let owned = String::from("u1");
        let at = owned.as_ptr();
        assert_eq!(
            AuthUser::new(owned).identity().as_ptr(),
            at,
            "a String is moved in"
        );
        static NAME: &str = "Ada";
        let lent = AuthUser::from(MinimalUser::new(NAME).with_display_name(NAME));
        assert!(std::ptr::eq(lent.identity(), NAME) && std::ptr::eq(lent.display_name(), NAME));
        let kept = AuthUser::new(Cow::Borrowed(NAME));
        assert!(
            std::ptr::eq(kept.identity(), NAME),
            "a Cow is kept as it is"
        );
        let borrowed = String::from("u2");
        let copied = "u2".to_owned();
        assert_eq!(AuthUser::new(copied).identity(), borrowed);
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
        assert_eq!(u.to_json()["kind"], json!("studio"));
        assert_eq!(
            serde_json::to_value(UserKind::Studio).unwrap(),
            json!("studio")
        );
    }
}
