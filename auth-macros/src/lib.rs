//! Attribute macros of `auth`; use them through `auth-core` (`auth::on`, `auth::authenticate`).
