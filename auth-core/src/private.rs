//! Not public API: the paths that `#[auth::…]`, `filter!` and `ensure!` expansions name. May
//! change in any release. The module's name carries the crate's version, so that code expanded
//! by one version of the macros and compiled against another fails loudly.

use std::borrow::Cow;
use std::future::Future;

pub use ::auth_macros::__filter as filter;
pub use ::inventory;
pub use ::serde_json::json;
pub use ::std::format;

use crate::registry::Kind;
use crate::types::AuthValue;
use crate::user::IntoAuthUser;
use crate::{AuthUser, Filter, HttpException, IntoDecision, Request};

pub use crate::{AuthenticateFn, HandlerFn, HandlerFuture, UserFuture};

/// An authorization handler's future as the dispatcher takes it.
#[inline]
pub fn handler_future<'a, F>(future: F) -> HandlerFuture<'a>
where
    F: Future<Output = Result<Option<Filter>, HttpException>> + Send + 'a,
{
    HandlerFuture::new(future)
}

/// An authenticate handler's future as the dispatcher takes it.
#[inline]
pub fn user_future<'a, F>(future: F) -> UserFuture<'a>
where
    F: Future<Output = Result<AuthUser, HttpException>> + Send + 'a,
{
    UserFuture::new(future)
}

/// The registration of an `#[auth::on]` handler.
pub const fn authorize(
    targets: &'static [crate::Target],
    handler: HandlerFn,
    name: &'static str,
    module_path: &'static str,
    file: &'static str,
    line: u32,
) -> crate::Registration {
    crate::Registration {
        kind: Kind::Authorize { targets, handler },
        name,
        module_path,
        file,
        line,
    }
}

/// The registration of an `#[auth::authenticate]` handler.
pub const fn authenticate(
    handler: AuthenticateFn,
    reads_body: bool,
    name: &'static str,
    module_path: &'static str,
    file: &'static str,
    line: u32,
) -> crate::Registration {
    crate::Registration {
        kind: Kind::Authenticate {
            handler,
            reads_body,
        },
        name,
        module_path,
        file,
        line,
    }
}

/// A type a handler may take its value as: an event's struct, a resource's enum or
/// `AuthValue`. The shims `#[auth::on]` generates project the dispatched `AuthValue` onto
/// the handler's type with it.
///
/// Implemented for every event struct (`Some` only for its own event), every resource enum
/// (`Some` for its resource's events) and `AuthValue` (always `Some`).
///
/// ```
/// use auth::__private_0_1_0::HandlerValue;
/// use auth::types::{AuthValue, StoreGet, StorePut, StoreValue};
///
/// let get = StoreGet::new().with_namespace(vec!["u1".into()]).with_key("k");
/// let mut value = AuthValue::from(get);
/// assert!(StorePut::project_ref(&value).is_none());
/// assert_eq!(StoreGet::project_ref(&value).unwrap().key, "k");
/// StoreValue::project_mut(&mut value).unwrap().namespace_mut().unwrap().push("x".into());
/// assert_eq!(value.namespace().unwrap(), &["u1", "x"]);
/// ```
pub trait HandlerValue: Sized + Send + 'static {
    /// The value as this type, if it is one.
    fn project_ref(v: &AuthValue) -> Option<&Self>;
    /// The value as this type, mutably, if it is one.
    fn project_mut(v: &mut AuthValue) -> Option<&mut Self>;
}

/// Whether a handler's value type fits a target whose narrowest value type is `E`.
///
/// A handler of `threads.create` may take `ThreadsCreate`, `ThreadsValue` or `AuthValue`: each
/// implements `Fits<ThreadsCreate>`. A handler of every threads action may take `ThreadsValue`
/// or `AuthValue` (`Fits<ThreadsValue>`); a global handler only `AuthValue` (`Fits<AuthValue>`).
///
/// ```
/// use auth::__private_0_1_0::Fits;
/// use auth::types::{AuthValue, ThreadsCreate, ThreadsValue};
/// fn fits<V: Fits<E>, E>() {}
/// fits::<ThreadsCreate, ThreadsCreate>();
/// fits::<ThreadsValue, ThreadsCreate>();
/// fits::<ThreadsValue, ThreadsValue>();
/// fits::<AuthValue, AuthValue>();
/// ```
///
/// ```compile_fail
/// use auth::__private_0_1_0::Fits;
/// use auth::types::{ThreadsCreate, ThreadsValue};
/// fn fits<V: Fits<E>, E>() {}
/// fits::<ThreadsCreate, ThreadsValue>();
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not fit this handler's target",
    label = "this value type does not fit the target",
    note = "take the action's struct (e.g. `&mut ThreadsCreate` for `threads.create`), the resource's enum (e.g. `&mut ThreadsValue`) for a resource or several of its actions, or `&mut AuthValue` for global or mixed targets"
)]
pub trait Fits<E>: HandlerValue {}

#[cold]
#[inline(never)]
fn misrouted<T>() -> HttpException {
    HttpException::internal(format!(
        "an authorization handler taking `{}` was given another event",
        std::any::type_name::<T>()
    ))
}

/// The value as the handler's declared type `T`, which must fit a target whose narrowest value
/// type is `E` (the compile-time check of the handler's signature).
#[inline]
pub fn project_mut<T: Fits<E>, E>(value: &mut AuthValue) -> Result<&mut T, HttpException> {
    T::project_mut(value).ok_or_else(misrouted::<T>)
}

/// The value as the handler's declared type, read-only; see [`project_mut`].
#[inline]
pub fn project_ref<T: Fits<E>, E>(value: &AuthValue) -> Result<&T, HttpException> {
    T::project_ref(value).ok_or_else(misrouted::<T>)
}

/// The decision of an authorization handler's result.
#[inline]
pub fn into_decision<T: IntoDecision>(out: T) -> Result<Option<Filter>, HttpException> {
    out.into_decision()
}

/// The user of an authenticate handler's result.
#[inline]
pub fn into_user<T: IntoAuthUser>(out: T) -> Result<AuthUser, HttpException> {
    out.into_auth_user()
}

/// What a failed `ensure!` returns from a handler of this return type: the refusal as a value.
///
/// Only `Result<_, HttpException>` carries it. `ensure!` never unwinds, so a refused request is
/// answered the same under `panic = "unwind"` and `panic = "abort"`.
#[diagnostic::on_unimplemented(
    message = "`auth::ensure!` needs a handler that returns `Result<_, HttpException>`, not `{Self}`",
    label = "`ensure!` returns its refusal from here as `Err(HttpException)`",
    note = "write the return type as `Result<{Self}, HttpException>` and return `Ok(..)`; or refuse without `ensure!` (`false`, `Err(HttpException::new(403))`)",
    note = "`ensure!` never unwinds: a refusal is a value, so it works under `panic = \"abort\"` too"
)]
pub trait EnsureFailure {
    /// The early return value that carries the refusal.
    fn ensure_failed(detail: Cow<'static, str>) -> Self;
}

impl<T> EnsureFailure for Result<T, HttpException> {
    fn ensure_failed(detail: Cow<'static, str>) -> Self {
        Err(HttpException::from_ensure(detail))
    }
}

/// Called by `ensure!` when its condition fails.
#[inline(never)]
#[cold]
pub fn ensure_failed<T: EnsureFailure>(detail: impl Into<Cow<'static, str>>) -> T {
    T::ensure_failed(detail.into())
}

/// Markers naming the authenticate parameters.
pub mod param {
    /// `request: &Request`
    #[derive(Debug)]
    pub struct Request;
    /// `body: Option<&serde_json::Value>`
    #[derive(Debug)]
    pub struct Body;
    /// `path: &str`
    #[derive(Debug)]
    pub struct Path;
    /// `method: &str`
    #[derive(Debug)]
    pub struct Method;
    /// `path_params: &Params`
    #[derive(Debug)]
    pub struct PathParams;
    /// `query_params: &Params`
    #[derive(Debug)]
    pub struct QueryParams;
    /// `headers: &Headers`
    #[derive(Debug)]
    pub struct Headers;
    /// `authorization: Option<&str>` or `&str`
    #[derive(Debug)]
    pub struct Authorization;
}

/// A type an authenticate parameter `P` can be given as.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a type this authenticate parameter can take",
    label = "this parameter's type does not fit its name",
    note = "the types are: request: &Request, body: Option<&serde_json::Value>, path: &str, method: &str, path_params: &Params, query_params: &Params, headers: &Headers, authorization: Option<&str> or &str"
)]
pub trait FromRequestParam<'a, P>: Sized {
    /// Takes the parameter from the request; an error is answered before the handler runs.
    fn extract(request: &'a Request<'a>) -> Result<Self, HttpException>;
}

/// Takes the authenticate parameter `P` from the request as `T`.
#[inline]
pub fn extract<'a, P, T: FromRequestParam<'a, P>>(
    request: &'a Request<'a>,
) -> Result<T, HttpException> {
    T::extract(request)
}

impl<'a> FromRequestParam<'a, param::Request> for &'a Request<'a> {
    fn extract(request: &'a Request<'a>) -> Result<Self, HttpException> {
        Ok(request)
    }
}

impl<'a> FromRequestParam<'a, param::Body> for Option<&'a serde_json::Value> {
    fn extract(request: &'a Request<'a>) -> Result<Self, HttpException> {
        Ok(request.body())
    }
}

impl<'a> FromRequestParam<'a, param::Path> for &'a str {
    fn extract(request: &'a Request<'a>) -> Result<Self, HttpException> {
        Ok(request.path())
    }
}

impl<'a> FromRequestParam<'a, param::Method> for &'a str {
    fn extract(request: &'a Request<'a>) -> Result<Self, HttpException> {
        Ok(request.method())
    }
}

impl<'a> FromRequestParam<'a, param::PathParams> for &'a crate::Params {
    fn extract(request: &'a Request<'a>) -> Result<Self, HttpException> {
        Ok(request.path_params())
    }
}

impl<'a> FromRequestParam<'a, param::QueryParams> for &'a crate::Params {
    fn extract(request: &'a Request<'a>) -> Result<Self, HttpException> {
        Ok(request.query_params())
    }
}

impl<'a> FromRequestParam<'a, param::Headers> for &'a crate::Headers<'a> {
    fn extract(request: &'a Request<'a>) -> Result<Self, HttpException> {
        Ok(request.headers())
    }
}

fn unauthorized(detail: &'static str) -> HttpException {
    HttpException::new(401)
        .with_detail(detail)
        .with_header("WWW-Authenticate", "Bearer")
}

impl<'a> FromRequestParam<'a, param::Authorization> for Option<&'a str> {
    /// A header that is not valid UTF-8 is a 401, never "no header".
    fn extract(request: &'a Request<'a>) -> Result<Self, HttpException> {
        match request.authorization() {
            None => Ok(None),
            Some(bytes) => std::str::from_utf8(bytes)
                .map(Some)
                .map_err(|_| unauthorized("Invalid authorization header")),
        }
    }
}

impl<'a> FromRequestParam<'a, param::Authorization> for &'a str {
    /// A missing header is a 401 before the handler runs.
    fn extract(request: &'a Request<'a>) -> Result<Self, HttpException> {
        <Option<&'a str>>::extract(request)?
            .ok_or_else(|| unauthorized("Missing authorization header"))
    }
}

/// A filter from its JSON form, poisoned when malformed (for fuzzing and tests of poisoned
/// filters).
pub fn filter_from_json_lossy(value: serde_json::Value) -> Filter {
    Filter::from_json_lossy(value)
}
