//! What handlers return: [`HandlerOutput`], and [`ensure!`](crate::ensure), Python's `assert`.

use crate::HttpException;
use crate::filter::Filter;

/// What an authorization handler may return.
///
/// | return type | meaning |
/// |---|---|
/// | `()` or `true` | allowed, no filter |
/// | `false` | refused: 403 `Forbidden` |
/// | [`Filter`] | allowed, restricted to what matches the filter |
/// | `Option<Filter>` | `None` is allowed with no filter |
/// | `Result<any of these, HttpException>` | the error is answered as it is |
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a result an authorization handler can return",
    label = "an `#[auth::on]` handler must return a decision",
    note = "return `()`, `bool`, `Filter`, `Option<Filter>`, or `Result<_, HttpException>` of one of these"
)]
pub trait HandlerOutput {
    /// The decision: allowed with an optional filter, or the error to answer with.
    fn into_decision(self) -> Result<Option<Filter>, HttpException>;
}

impl HandlerOutput for () {
    #[inline]
    fn into_decision(self) -> Result<Option<Filter>, HttpException> {
        Ok(None)
    }
}

impl HandlerOutput for bool {
    #[inline]
    fn into_decision(self) -> Result<Option<Filter>, HttpException> {
        if self {
            Ok(None)
        } else {
            Err(HttpException::new(403))
        }
    }
}

impl HandlerOutput for Filter {
    #[inline]
    fn into_decision(self) -> Result<Option<Filter>, HttpException> {
        Ok(Some(self))
    }
}

impl HandlerOutput for Option<Filter> {
    #[inline]
    fn into_decision(self) -> Result<Option<Filter>, HttpException> {
        Ok(self)
    }
}

impl<T: HandlerOutput> HandlerOutput for Result<T, HttpException> {
    #[inline]
    fn into_decision(self) -> Result<Option<Filter>, HttpException> {
        self?.into_decision()
    }
}

/// Refuses the request unless a condition holds: Python's `assert` in a LangGraph handler.
///
/// In an authorization handler (`#[auth::on]`) a failed `ensure!` answers 403 with the detail; in
/// `#[auth::authenticate]` it answers 401. The detail is a string, or a format string with
/// arguments; without one it names the condition.
///
/// In a handler that returns `Result<_, HttpException>`, `ensure!` returns the error. In a
/// handler with another return type (`Filter`, `bool`, `()`, a user), it unwinds to the
/// dispatcher, as Python's `assert` raises; that needs the default `panic = "unwind"`.
///
/// ```
/// use auth::{AuthContext, HttpException};
/// use auth::types::StoreValue;
///
/// #[auth::on(store)]
/// async fn own_namespace(ctx: &AuthContext, value: &mut StoreValue) -> Result<(), HttpException> {
///     let namespace = value.namespace().unwrap_or_default();
///     auth::ensure!(namespace.first().map(String::as_str) == Some(ctx.user.identity()), "Not authorized");
///     Ok(())
/// }
/// ```
#[macro_export]
macro_rules! ensure {
    ($cond:expr $(,)?) => {
        $crate::ensure!($cond, ::core::concat!("Assertion failed: ", ::core::stringify!($cond)))
    };
    ($cond:expr, $detail:literal $(,)?) => {
        if !$cond {
            return $crate::__private::ensure_failed($crate::__private::format!($detail));
        }
    };
    ($cond:expr, $fmt:literal, $($arg:tt)+) => {
        if !$cond {
            return $crate::__private::ensure_failed($crate::__private::format!($fmt, $($arg)+));
        }
    };
    ($cond:expr, $detail:expr $(,)?) => {
        if !$cond {
            return $crate::__private::ensure_failed($detail);
        }
    };
}
