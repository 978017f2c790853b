//! LangGraph-style authentication and authorization for Rust agent servers.

mod error;
mod filter;
mod user;
mod vocab;

pub use error::{HttpException, reason_phrase};
pub use filter::{Filter, FilterError};
pub use user::{AuthContext, AuthUser, IntoAuthUser, MinimalUser, UserKind};
pub use vocab::{Action, EVENT_COUNT, Resource, Target, UnknownName, event_index, events};

/// Re-exports for [`filter!`]; not part of the API.
#[doc(hidden)]
pub mod __filter_private {
    pub use serde_json::json;
}
