//! LangGraph-style authentication and authorization for Rust agent servers.

mod error;
pub mod types;
mod user;
mod vocab;

pub use error::{HttpException, reason_phrase};
pub use types::AuthValue;
pub use user::{AuthContext, AuthUser, IntoAuthUser, MinimalUser, UserKind};
pub use vocab::{Action, EVENT_COUNT, Resource, Target, UnknownName, event_index, events};
