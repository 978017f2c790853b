//! What handlers return: [`IntoDecision`], and [`ensure!`](crate::ensure), Python's `assert`.

use crate::HttpException;
use crate::filter::Filter;

/// What an authorization handler may return: the conversion of its result into the decision.
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
pub trait IntoDecision {
    /// The decision: allowed with an optional filter, or the error to answer with.
    fn into_decision(self) -> Result<Option<Filter>, HttpException>;
}

impl IntoDecision for () {
    #[inline]
    fn into_decision(self) -> Result<Option<Filter>, HttpException> {
        Ok(None)
    }
}

impl IntoDecision for bool {
    #[inline]
    fn into_decision(self) -> Result<Option<Filter>, HttpException> {
        if self {
            Ok(None)
        } else {
            Err(HttpException::new(403))
        }
    }
}

impl IntoDecision for Filter {
    #[inline]
    fn into_decision(self) -> Result<Option<Filter>, HttpException> {
        Ok(Some(self))
    }
}

impl IntoDecision for Option<Filter> {
    #[inline]
    fn into_decision(self) -> Result<Option<Filter>, HttpException> {
        Ok(self)
    }
}

impl<T: IntoDecision> IntoDecision for Result<T, HttpException> {
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
/// `ensure!` returns the refusal as `Err(HttpException)`: it is only available in a handler that
/// returns `Result<_, HttpException>` (write `-> Result<Filter, HttpException>` instead of
/// `-> Filter`, and end with `Ok(..)`). It never unwinds, so a refused request is answered the
/// same under `panic = "unwind"` and `panic = "abort"`; in a handler of another return type it
/// is a compile error that says so.
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
///
/// ```compile_fail
/// # use auth::{AuthContext, Filter};
/// # use auth::types::ThreadsRead;
/// #[auth::on(threads.read)]
/// async fn read(ctx: &AuthContext, _: &ThreadsRead) -> Filter {
///     // error: `auth::ensure!` needs a handler that returns `Result<_, HttpException>`
///     auth::ensure!(ctx.user.is_authenticated(), "sign in first");
///     Filter::eq("owner", ctx.user.identity())
/// }
/// ```
#[macro_export]
macro_rules! ensure {
    ($cond:expr $(,)?) => {
        $crate::ensure!($cond, ::core::concat!("Assertion failed: ", ::core::stringify!($cond)))
    };
    ($cond:expr, $detail:literal $(,)?) => {
        if !$cond {
            return $crate::__private_0_1_0::ensure_failed($crate::__private_0_1_0::format!($detail));
        }
    };
    ($cond:expr, $fmt:literal, $($arg:tt)+) => {
        if !$cond {
            return $crate::__private_0_1_0::ensure_failed($crate::__private_0_1_0::format!($fmt, $($arg)+));
        }
    };
    ($cond:expr, $detail:expr $(,)?) => {
        if !$cond {
            return $crate::__private_0_1_0::ensure_failed($detail);
        }
    };
}
