#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

#[cfg(feature = "axum")]
pub mod axum;
mod dispatch;
mod error;
mod filter;
#[cfg(feature = "jwt")]
pub mod jwt;
mod output;
mod registry;
mod request;
pub mod types;
mod user;
mod vocab;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use auth_macros::{authenticate, on};
pub use dispatch::{Auth, AuthBuilder};
pub use error::{HttpException, reason_phrase};
pub use filter::{Filter, FilterError};
pub use output::HandlerOutput;
pub use registry::{HandlerInfo, Place, Registration, RegistryError, registry};
pub use request::{HeaderSource, Headers, Params, Request};
pub use types::AuthValue;
pub use user::{
    AuthContext, AuthUser, IntoAuthUser, IntoUserText, MinimalUser, Permissions, UserKind,
};
pub use vocab::{Action, EVENT_COUNT, Resource, Target, UnknownName, event_index, events};

/// Re-exports for [`filter!`]; not part of the API.
#[doc(hidden)]
pub mod __filter_private {
    pub use serde_json::json;
}
