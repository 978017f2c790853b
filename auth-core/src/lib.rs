#![doc = include_str!("lib.md")]
#![warn(missing_docs, missing_debug_implementations)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;
mod dispatch;
mod error;
mod filter;
mod handler;
#[cfg(feature = "jwt")]
pub mod jwt;
mod output;
mod registry;
mod request;
#[cfg(feature = "sql")]
pub mod sql;
pub mod types;
mod user;
mod vocab;

/// Not public API: what the macros' expansions name. Its name carries the crate's version.
#[doc(hidden)]
#[path = "private.rs"]
pub mod __private_0_1_0;
use __private_0_1_0 as __private;

pub use auth_macros::{authenticate, on};
pub use dispatch::{Auth, AuthBuilder, Authorized};
pub use error::HttpException;
pub use filter::{Filter, FilterError};
pub use handler::{AuthenticateFn, HandlerFn, HandlerFuture, UserFuture};
pub use output::IntoDecision;
pub use registry::{HandlerInfo, Registration, RegistryError, SourceLocation, registry};
pub use request::{HeaderSource, Headers, Params, Request};
pub use types::{AuthValue, Event};
pub use user::{AuthContext, AuthUser, IntoAuthUser, MinimalUser, Permissions, UserKind};
pub use vocab::{Action, Resource, Target, UnknownName, events};

#[cfg(test)]
mod tests {
    #[test]
    fn the_private_module_is_named_after_the_version() {
        let version = env!("CARGO_PKG_VERSION").replace('.', "_");
        assert_eq!(
            format!("__private_{version}"),
            "__private_0_1_0",
            "rename `__private_0_1_0` (and `PRIVATE` in auth-macros/src/paths.rs) after the version"
        );
    }
}
