//! Handlers written without the macros: [`HandlerFn`] and [`AuthenticateFn`], the signatures the
//! dispatcher calls, and their futures [`HandlerFuture`] and [`UserFuture`].
//!
//! `#[auth::on]` and `#[auth::authenticate]` write these for you. Write them by hand where
//! link-time registration does not run (Miri, wasm, some static libraries), or to build an
//! [`Auth`](crate::Auth) from functions chosen at run time, and pass them to
//! [`AuthBuilder::on`](crate::AuthBuilder::on) and
//! [`AuthBuilder::authenticate`](crate::AuthBuilder::authenticate).

use std::fmt;
use std::future::Future;

use stackfuture::StackFuture;

use crate::{AuthContext, AuthUser, AuthValue, Filter, HttpException, Request};

/// How many bytes of a handler's future are held without a heap allocation.
///
/// A handler that awaits nothing has a future of a few dozen bytes (the tutorial's are 40 and
/// 48): it is held in place, so that calling it allocates nothing. A larger future, one that holds
/// a lock or a client's request across an await, is boxed: such a handler waits for microseconds,
/// next to which the box costs nothing. The room is kept small because it is part of every future
/// that awaits the dispatcher, and those are moved.
const INLINE_FUTURE: usize = 64;

/// An authorization handler as the dispatcher calls it: the context, the event's value, and a
/// future of the decision (`Ok(None)`: allowed; `Ok(Some(filter))`: allowed, restricted;
/// `Err`: refused).
///
/// ```
/// use auth::{Auth, AuthContext, AuthValue, Filter, HandlerFuture, Target};
///
/// fn owner_only<'a>(ctx: &'a AuthContext, _: &'a mut AuthValue) -> HandlerFuture<'a> {
///     HandlerFuture::new(async move { Ok(Some(Filter::eq("owner", ctx.user.identity()))) })
/// }
///
/// let auth = Auth::builder().on(&[Target::Global], "owner_only", owner_only).build()?;
/// assert_eq!(auth.handlers().next().unwrap().name(), "owner_only");
/// # Ok::<(), auth::RegistryError>(())
/// ```
pub type HandlerFn = for<'a> fn(&'a AuthContext, &'a mut AuthValue) -> HandlerFuture<'a>;

/// An authenticate handler as the dispatcher calls it: the request, and a future of the user.
///
/// ```
/// use auth::{Auth, AuthUser, HttpException, Request, UserFuture};
///
/// fn by_header<'a>(request: &'a Request<'a>) -> UserFuture<'a> {
///     UserFuture::new(async move {
///         match request.headers().get("x-user") {
///             Some(name) => Ok(AuthUser::new(name.to_owned())),
///             None => Err(HttpException::new(401)),
///         }
///     })
/// }
///
/// let auth = Auth::builder().authenticate("by_header", by_header).build()?;
/// assert!(auth.authenticate_handler().is_some());
/// # Ok::<(), auth::RegistryError>(())
/// ```
pub type AuthenticateFn = for<'a> fn(&'a Request<'a>) -> UserFuture<'a>;

/// The future an authorization handler returns ([`HandlerFn`]).
///
/// Held in place up to 64 bytes (a handler that awaits nothing, so that calling it allocates
/// nothing), boxed when larger. It is only handed to the dispatcher, which polls it.
#[must_use = "a handler's future decides nothing until the dispatcher polls it"]
pub struct HandlerFuture<'a>(
    pub(crate) StackFuture<'a, Result<Option<Filter>, HttpException>, INLINE_FUTURE>,
);

impl<'a> HandlerFuture<'a> {
    /// Wraps the handler's `async` block.
    #[inline]
    pub fn new<F>(future: F) -> Self
    where
        F: Future<Output = Result<Option<Filter>, HttpException>> + Send + 'a,
    {
        HandlerFuture(StackFuture::from_or_box(future))
    }
}

impl fmt::Debug for HandlerFuture<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandlerFuture").finish_non_exhaustive()
    }
}

/// The future an authenticate handler returns ([`AuthenticateFn`]).
///
/// Held in place up to 64 bytes, boxed when larger, like [`HandlerFuture`].
#[must_use = "a handler's future authenticates nobody until the dispatcher polls it"]
pub struct UserFuture<'a>(
    pub(crate) StackFuture<'a, Result<AuthUser, HttpException>, INLINE_FUTURE>,
);

impl<'a> UserFuture<'a> {
    /// Wraps the handler's `async` block.
    #[inline]
    pub fn new<F>(future: F) -> Self
    where
        F: Future<Output = Result<AuthUser, HttpException>> + Send + 'a,
    {
        UserFuture(StackFuture::from_or_box(future))
    }
}

impl fmt::Debug for UserFuture<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserFuture").finish_non_exhaustive()
    }
}
