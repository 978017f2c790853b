//! The "private conversations" policy of LangGraph's tutorial, written with the `auth` DSL.
//!
//! - [`authn`]: bearer tokens `user1-token` (Alice) and `user2-token` (Bob).
//! - [`global`]: one handler for every event: stamps the caller as `owner` on whatever carries
//!   metadata and restricts every read and search to what the caller owns.
//! - [`scoped`]: added on top of [`global`] by the scoped policy: thread creation and reads,
//!   assistants denied, store namespaces private to their first label.

use auth::types::{AssistantsValue, AuthValue, StoreValue, ThreadsCreate, ThreadsRead};
use auth::{AuthContext, Filter, HttpException, MinimalUser};

/// Who is calling: `Authorization: Bearer <token>`.
pub mod authn {
    use super::*;

    /// The known tokens and their users: (token, identity, display name).
    pub const TOKENS: [(&str, &str, &str); 2] = [
        ("user1-token", "user1", "Alice"),
        ("user2-token", "user2", "Bob"),
    ];

    fn refuse(detail: &'static str) -> HttpException {
        HttpException::new(401)
            .with_detail(detail)
            .with_header("WWW-Authenticate", "Bearer")
    }

    /// Maps a bearer token to its user. A missing header, a header without a token, another
    /// scheme or an unknown token is a 401, never a server error.
    #[auth::authenticate]
    pub async fn get_current_user(
        authorization: Option<&str>,
    ) -> Result<MinimalUser, HttpException> {
        let header = authorization.ok_or_else(|| refuse("Missing authorization header"))?;
        let mut parts = header.split_whitespace();
        let (Some(scheme), Some(token), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(refuse("Invalid authorization header format"));
        };
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(refuse("Invalid authorization scheme"));
        }
        let (_, identity, name) = TOKENS
            .iter()
            .find(|(t, _, _)| *t == token)
            .ok_or_else(|| refuse("Invalid token"))?;
        Ok(MinimalUser::new(*identity).with_display_name(*name))
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

/// Which policy the server enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Policy {
    /// Authentication and the global handler only (the tutorial's first part).
    Global,
    /// The global handler plus the scoped handlers (the tutorial's second part).
    #[default]
    Scoped,
}

impl std::str::FromStr for Policy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "global" => Ok(Policy::Global),
            "scoped" => Ok(Policy::Scoped),
            other => Err(format!(
                "unknown policy {other:?}: expected scoped or global"
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
        let auth = match self {
            Policy::Global => builder,
            Policy::Scoped => builder.module(&format!("{base}::scoped")),
        }
        .build()?;
        if auth.handlers().next().is_some() {
            return Ok(auth);
        }
        // The attribute macros did not register anything (a build where they are stubs): the
        // same handlers, registered by hand.
        by_hand::build(self)
    }
}

/// The same policy registered with `AuthBuilder::on`, for builds without working attribute
/// macros.
mod by_hand {
    use auth::__private::{HandlerFuture, UserFuture, project_mut};
    use auth::{Action, Request, Resource, Target};

    use super::*;

    fn authenticate<'a>(request: &'a Request<'a>) -> UserFuture<'a> {
        Box::pin(async move {
            let header = request.headers().get("authorization");
            authn::get_current_user(header).await.map(Into::into)
        })
    }

    fn add_owner<'a>(ctx: &'a AuthContext, value: &'a mut AuthValue) -> HandlerFuture<'a> {
        Box::pin(async move { Ok(Some(global::add_owner(ctx, value).await)) })
    }

    fn thread_create<'a>(ctx: &'a AuthContext, value: &'a mut AuthValue) -> HandlerFuture<'a> {
        Box::pin(async move {
            let v = project_mut::<ThreadsCreate>(value)?;
            Ok(Some(scoped::on_thread_create(ctx, v).await))
        })
    }

    fn thread_read<'a>(ctx: &'a AuthContext, value: &'a mut AuthValue) -> HandlerFuture<'a> {
        Box::pin(async move {
            let v = project_mut::<ThreadsRead>(value)?;
            Ok(Some(scoped::on_thread_read(ctx, v).await))
        })
    }

    fn assistants<'a>(ctx: &'a AuthContext, value: &'a mut AuthValue) -> HandlerFuture<'a> {
        Box::pin(async move {
            let v = project_mut::<AssistantsValue>(value)?;
            scoped::on_assistants(ctx, v).await.map(|()| None)
        })
    }

    fn store<'a>(ctx: &'a AuthContext, value: &'a mut AuthValue) -> HandlerFuture<'a> {
        Box::pin(async move {
            let v = project_mut::<StoreValue>(value)?;
            scoped::authorize_store(ctx, v).await.map(|()| None)
        })
    }

    pub(super) fn build(policy: Policy) -> Result<auth::Auth, auth::RegistryError> {
        let builder = auth::Auth::builder()
            .authenticate("get_current_user", authenticate)
            .on(&[Target::Global], "add_owner", add_owner);
        match policy {
            Policy::Global => builder,
            Policy::Scoped => builder
                .on(
                    &[Target::Event(Resource::Threads, Action::Create)],
                    "on_thread_create",
                    thread_create,
                )
                .on(
                    &[Target::Event(Resource::Threads, Action::Read)],
                    "on_thread_read",
                    thread_read,
                )
                .on(
                    &[Target::Resource(Resource::Assistants)],
                    "on_assistants",
                    assistants,
                )
                .on(
                    &[Target::Resource(Resource::Store)],
                    "authorize_store",
                    store,
                ),
        }
        .build()
    }
}
