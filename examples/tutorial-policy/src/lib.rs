//! The "private conversations" policy of LangGraph's tutorial, written with the `auth` DSL.
//!
//! - [`authn`]: tokens `user1-token` (Alice) and `user2-token` (Bob), as `Authorization:
//!   Bearer <token>` or `X-Api-Key: <token>`.
//! - [`global`]: one handler for every event: stamps the caller as `owner` on whatever carries
//!   metadata and restricts every read and search to what the caller owns.
//! - [`scoped`]: added on top of [`global`] by the scoped policy: thread creation and reads,
//!   assistants denied, store namespaces private to their first label.
//! - [`oidc`]: the tutorial's part 3, bearer JWTs from an OpenID Connect provider instead of the
//!   fixed tokens.
//! - [`namespaced`]: added on top of [`global`] by the namespaced policy: the store pattern
//!   LangGraph.js documents, a filter that shows each user the namespaces containing their id.

use std::borrow::Cow;

use auth::types::{AssistantsValue, AuthValue, StoreValue, ThreadsCreate, ThreadsRead};
use auth::{AuthContext, AuthUser, Filter, Headers, HttpException, MinimalUser};

pub mod oidc;

/// Who is calling: `Authorization: Bearer <token>`, or `X-Api-Key: <token>`.
pub mod authn {
    use super::*;

    /// The known tokens and their users: (token, identity, display name).
    pub const TOKENS: [(&str, &str, &str); 2] = [
        ("user1-token", "user1", "Alice"),
        ("user2-token", "user2", "Bob"),
    ];

    #[cold]
    fn refuse(detail: &'static str) -> HttpException {
        HttpException::new(401)
            .with_detail(detail)
            .with_header("WWW-Authenticate", "Bearer")
    }

    /// Maps a token to its user: `Authorization: Bearer <token>`, or, without an
    /// `Authorization` header, `X-Api-Key: <token>` (the header LangChain's `agent-chat-ui` and
    /// LangGraph Studio send their key in). A missing credential, a header without a token,
    /// another scheme or an unknown token is a 401, never a server error.
    #[auth::authenticate]
    pub async fn get_current_user(
        authorization: Option<&str>,
        headers: &Headers<'_>,
    ) -> Result<AuthUser, HttpException> {
        if authorization.is_none()
            && let Some(key) = headers.get("x-api-key").map(str::trim_ascii)
            && !key.is_empty()
        {
            if let Some(verified) = crate::oidc::authenticate_token(key) {
                return verified.await;
            }
            return user_of(key);
        }
        // Tutorial part 3 ([`crate::oidc`]): with `--oidc-issuer`, bearer JWTs from that
        // provider replace the fixed tokens below.
        if let Some(verified) = crate::oidc::authenticate(authorization) {
            return verified.await;
        }
        let header = authorization
            .ok_or_else(|| refuse("Missing authorization header"))?
            .trim_ascii();
        // `<scheme> <token>`: two words, separated and surrounded by ASCII whitespace. The split
        // is at an ASCII byte, so both sides stay valid UTF-8.
        let split = header.bytes().position(|b| b.is_ascii_whitespace());
        let (scheme, token) = split
            .map(|at| (&header[..at], header[at..].trim_ascii_start()))
            .filter(|(_, token)| !token.bytes().any(|b| b.is_ascii_whitespace()))
            .ok_or_else(|| refuse("Invalid authorization header format"))?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(refuse("Invalid authorization scheme"));
        }
        user_of(token)
    }

    /// The user of a fixed token; 401 for any other.
    fn user_of(token: &str) -> Result<AuthUser, HttpException> {
        let (_, identity, name) = TOKENS
            .iter()
            .find(|(t, _, _)| *t == token)
            .ok_or_else(|| refuse("Invalid token"))?;
        // The table is static: the user borrows its strings instead of copying them.
        Ok(MinimalUser::new(Cow::Borrowed(*identity))
            .with_display_name(Cow::Borrowed(*name))
            .into())
    }
}

/// The global handler, alone in the `global` policy.
pub mod global {
    use super::*;

    /// Every resource belongs to its creator: stamp `owner` on any value with metadata, and
    /// show the caller only what they own.
    #[auth::on]
    pub async fn add_owner(ctx: &AuthContext, value: &mut AuthValue) -> Filter {
        let me = ctx.user.identity();
        if let Some(metadata) = value.metadata_mut() {
            metadata.insert("owner".into(), me.into());
        }
        Filter::eq("owner", me)
    }
}

/// The scoped handlers, more specific than [`global::add_owner`], in the `scoped` policy.
pub mod scoped {
    use super::*;

    /// A new thread belongs to its creator.
    #[auth::on(threads.create)]
    pub async fn on_thread_create(ctx: &AuthContext, value: &mut ThreadsCreate) -> Filter {
        let me = ctx.user.identity();
        value
            .metadata
            .get_or_insert_default()
            .insert("owner".into(), me.into());
        Filter::eq("owner", me)
    }

    /// Only the owner reads a thread.
    #[auth::on(threads.read)]
    pub async fn on_thread_read(ctx: &AuthContext, _value: &ThreadsRead) -> Filter {
        Filter::eq("owner", ctx.user.identity())
    }

    /// Assistants are off limits to users.
    #[auth::on(assistants)]
    pub async fn on_assistants(
        _ctx: &AuthContext,
        _value: &mut AssistantsValue,
    ) -> Result<(), HttpException> {
        Err(HttpException::new(403).with_detail("User lacks the required permissions."))
    }

    /// A user's store items live under a namespace whose first label is their identity.
    #[auth::on(store)]
    pub async fn authorize_store(
        ctx: &AuthContext,
        value: &mut StoreValue,
    ) -> Result<(), HttpException> {
        let first = value.namespace().and_then(|ns| ns.first().cloned());
        auth::ensure!(
            first.as_deref() == Some(ctx.user.identity()),
            "Not authorized"
        );
        Ok(())
    }
}

/// The store as LangGraph.js documents it, in the `namespaced` policy.
pub mod namespaced {
    use super::*;

    /// Every store action is allowed, restricted to items whose namespace contains the caller's
    /// id: the filter sees an item's namespace (see [`StoreValue`]), so a user reads, lists,
    /// changes and creates items only under namespaces naming them.
    #[auth::on(store)]
    pub async fn namespaces_with_my_id(ctx: &AuthContext, _value: &mut StoreValue) -> Filter {
        Filter::contains("namespace", ctx.user.identity())
    }
}

/// Which policy the server enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Policy {
    /// Authentication and the global handler only (the tutorial's first part).
    Global,
    /// The global handler plus the scoped handlers (the tutorial's second part).
    #[default]
    Scoped,
    /// The global handler plus a store handler filtering on the namespace, as LangGraph.js
    /// documents (`--policy namespaced`).
    Namespaced,
}

impl std::str::FromStr for Policy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "global" => Ok(Policy::Global),
            "scoped" => Ok(Policy::Scoped),
            "namespaced" => Ok(Policy::Namespaced),
            other => Err(format!(
                "unknown policy {other:?}: expected scoped, global or namespaced"
            )),
        }
    }
}

impl Policy {
    /// The dispatcher for this policy, built from the handlers of this file.
    pub fn build(self) -> Result<auth::Auth, auth::RegistryError> {
        let base = module_path!();
        let builder = auth::Auth::builder()
            .module(&format!("{base}::authn"))
            .module(&format!("{base}::global"));
        match self {
            Policy::Global => builder,
            Policy::Scoped => builder.module(&format!("{base}::scoped")),
            Policy::Namespaced => builder.module(&format!("{base}::namespaced")),
        }
        .build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_policy_has_the_tutorials_handlers() {
        let names =
            |p: Policy| -> Vec<&str> { p.build().unwrap().handlers().map(|h| h.name()).collect() };
        assert_eq!(names(Policy::Global), ["get_current_user", "add_owner"]);
        let scoped = names(Policy::Scoped);
        assert_eq!(scoped.len(), 6, "{scoped:?}");
        for name in [
            "on_thread_create",
            "on_thread_read",
            "on_assistants",
            "authorize_store",
        ] {
            assert!(scoped.contains(&name), "{name} in {scoped:?}");
        }
        assert!(Policy::Scoped.build().unwrap().uncovered().is_empty());
        assert_eq!(
            names(Policy::Namespaced),
            ["get_current_user", "add_owner", "namespaces_with_my_id"]
        );
        assert_eq!("namespaced".parse(), Ok(Policy::Namespaced));
        assert!("js".parse::<Policy>().is_err());
    }
}
