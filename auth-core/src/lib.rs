//! LangGraph-style authentication and authorization for Rust agent servers.

mod error;
mod request;
mod user;
mod vocab;

pub use error::{HttpException, reason_phrase};
pub use request::{HeaderSource, Headers, Params, Request};
pub use user::{AuthContext, AuthUser, IntoAuthUser, MinimalUser, UserKind};
pub use vocab::{Action, EVENT_COUNT, Resource, Target, UnknownName, event_index, events};
