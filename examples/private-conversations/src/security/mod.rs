//! The server's security policy.

pub mod auth;
pub mod oidc;
