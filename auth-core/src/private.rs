//! Not public API: the paths that `#[auth::…]` expansions name. May change in any release.

use std::borrow::Cow;
use std::future::Future;

pub use ::inventory;
pub use ::std::format;
use stackfuture::StackFuture;

use crate::types::{AuthValue, Fits};
use crate::user::IntoAuthUser;
use crate::{AuthContext, AuthUser, Filter, HandlerOutput, HttpException, Request};

/// How many bytes of a handler's future are held without a heap allocation.
///
/// A handler that awaits nothing has a future of a few dozen bytes (the tutorial's are 40 and
/// 48): it is held in place, so that calling it allocates nothing. A larger future, one that holds
/// a lock or a client's request across an await, is boxed: such a handler waits for microseconds,
/// next to which the box costs nothing. The room is kept small because it is part of every future
/// that awaits the dispatcher, and those are moved.
pub const INLINE_FUTURE: usize = 64;

/// The future of an authorization handler: held inline up to [`INLINE_FUTURE`] bytes, else boxed.
pub type HandlerFuture<'a> = StackFuture<'a, Result<Option<Filter>, HttpException>, INLINE_FUTURE>;
/// The future of an authenticate handler: held inline up to [`INLINE_FUTURE`] bytes, else boxed.
pub type UserFuture<'a> = StackFuture<'a, Result<AuthUser, HttpException>, INLINE_FUTURE>;
/// An authorization handler as the dispatcher calls it.
pub type HandlerFn = for<'a> fn(&'a AuthContext, &'a mut AuthValue) -> HandlerFuture<'a>;
/// An authenticate handler as the dispatcher calls it.
pub type AuthenticateFn = for<'a> fn(&'a Request<'a>) -> UserFuture<'a>;

/// An authorization handler's future as the dispatcher takes it (see [`HandlerFuture`]).
///
/// ```
/// use auth::__private::{HandlerFuture, handler_future};
///
/// fn allow<'a>(_: &'a auth::AuthContext, _: &'a mut auth::AuthValue) -> HandlerFuture<'a> {
///     handler_future(async { Ok(None) })
/// }
/// # let _ = allow;
/// ```
#[inline]
pub fn handler_future<'a, F>(future: F) -> HandlerFuture<'a>
where
    F: Future<Output = Result<Option<Filter>, HttpException>> + Send + 'a,
{
    StackFuture::from_or_box(future)
}

/// An authenticate handler's future as the dispatcher takes it (see [`UserFuture`]).
#[inline]
pub fn user_future<'a, F>(future: F) -> UserFuture<'a>
where
    F: Future<Output = Result<AuthUser, HttpException>> + Send + 'a,
{
    StackFuture::from_or_box(future)
}

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
pub fn into_decision<T: HandlerOutput>(out: T) -> Result<Option<Filter>, HttpException> {
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
    pub struct Request;
    /// `body: Option<&serde_json::Value>`
    pub struct Body;
    /// `path: &str`
    pub struct Path;
    /// `method: &str`
    pub struct Method;
    /// `path_params: &Params`
    pub struct PathParams;
    /// `query_params: &Params`
    pub struct QueryParams;
    /// `headers: &Headers`
    pub struct Headers;
    /// `authorization: Option<&str>` or `&str`
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
