//! The tutorial's `src/security/auth.py`, in Rust: authentication, the global owner handler
//! (variant A) and the scoped handlers that variant B adds.

use std::borrow::Cow;

use auth::types::{AssistantsValue, AuthValue, StoreValue, ThreadsCreate, ThreadsRead};
use auth::{AuthContext, Filter, HttpException, MinimalUser};

/// Authentication: the tutorial's bearer tokens.
pub mod authn {
    use super::*;

    /// Users by token; a real server asks its identity provider.
    const VALID_TOKENS: &[(&str, &str, &str)] = &[
        ("user1-token", "user1", "Alice"),
        ("user2-token", "user2", "Bob"),
    ];

    fn unauthorized(detail: &'static str) -> HttpException {
        HttpException::new(401)
            .with_detail(detail)
            .with_header("WWW-Authenticate", "Bearer")
    }

    /// `Authorization: Bearer <token>` → the token's user; anything else → 401.
    #[auth::authenticate]
    pub async fn get_current_user(
        authorization: Option<&str>,
    ) -> Result<MinimalUser, HttpException> {
        let header = authorization.ok_or_else(|| unauthorized("Missing authorization header"))?;
        let (scheme, token) = header
            .trim()
            .split_once(' ')
            .ok_or_else(|| unauthorized("Invalid authorization header format"))?;
        auth::ensure!(
            scheme.eq_ignore_ascii_case("bearer"),
            "Invalid authorization scheme"
        );
        let (_, identity, name) = VALID_TOKENS
            .iter()
            .find(|(t, _, _)| *t == token.trim())
            .ok_or_else(|| unauthorized("Invalid token"))?;
        // The table is static: the user borrows its strings instead of copying them.
        Ok(MinimalUser::new(Cow::Borrowed(*identity)).with_display_name(Cow::Borrowed(*name)))
    }
}

/// Variant A: one handler for every event.
pub mod global {
    use super::*;

    /// Makes every resource private to its creator: stamps the owner on what has metadata, and
    /// lets the user see only what they own.
    #[auth::on]
    pub async fn add_owner(ctx: &AuthContext, value: &mut AuthValue) -> Filter {
        let filters = auth::filter!({ "owner": ctx.user.identity() });
        if let Some(metadata) = value.metadata_mut() {
            metadata.insert("owner".into(), ctx.user.identity().into());
        }
        filters
    }
}

/// Variant B: scoped handlers, more specific than the global one.
pub mod scoped {
    use super::*;

    /// Stamps the creator as owner of a new thread.
    #[auth::on(threads.create)]
    pub async fn on_thread_create(ctx: &AuthContext, value: &mut ThreadsCreate) -> Filter {
        let metadata = value.metadata.get_or_insert_default();
        metadata.insert("owner".into(), ctx.user.identity().into());
        Filter::eq("owner", ctx.user.identity())
    }

    /// Only the owner reads a thread.
    #[auth::on(threads.read)]
    pub async fn on_thread_read(ctx: &AuthContext, _value: &ThreadsRead) -> Filter {
        Filter::eq("owner", ctx.user.identity())
    }

    /// Nobody may touch assistants.
    #[auth::on(assistants)]
    pub async fn on_assistants(
        _ctx: &AuthContext,
        _value: &mut AssistantsValue,
    ) -> Result<(), HttpException> {
        Err(HttpException::new(403).with_detail("User lacks the required permissions."))
    }

    /// A user's store items live under a namespace that starts with their identity.
    #[auth::on(store)]
    pub async fn authorize_store(
        ctx: &AuthContext,
        value: &mut StoreValue,
    ) -> Result<(), HttpException> {
        let namespace = value.namespace().unwrap_or_default();
        auth::ensure!(
            namespace.first().map(String::as_str) == Some(ctx.user.identity()),
            "Not authorized"
        );
        Ok(())
    }
}
