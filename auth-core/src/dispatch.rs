//! [`Auth`]: the dispatcher built once from the registered handlers, and its [`AuthBuilder`].

use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::filter::Filter;
use crate::registry::{HandlerInfo, Kind, Registration, RegistryError, SourceLocation, registry};
use crate::types::{AuthValue, Event};
use crate::vocab::{Action, EVENT_COUNT, Resource, Target, event_index, events};
use crate::{AuthContext, AuthUser, AuthenticateFn, HandlerFn, HttpException, Request};

const NONE: u16 = u16::MAX;

/// The authentication and authorization dispatcher.
///
/// Built once at start-up from the registered handlers ([`Auth::from_registry`]) or a chosen
/// subset of them ([`Auth::builder`]); it resolves every (resource, action) in advance into a
/// fixed table, so that [`authorize`](Auth::authorize) costs one indexed load plus the handler's
/// own future: no hashing, locking or allocation of its own.
///
/// ```
/// use auth::{Auth, AuthUser, Filter, Resource, Action};
/// use auth::types::{AuthValue, ThreadsCreate};
///
/// #[auth::on(threads.create)]
/// async fn stamp_owner(ctx: &auth::AuthContext, value: &mut ThreadsCreate) -> Filter {
///     let owner = ctx.user.identity();
///     value.metadata.get_or_insert_default().insert("owner".into(), owner.into());
///     Filter::eq("owner", owner)
/// }
///
/// # tokio_test_block_on(async {
/// let auth = Auth::builder().module(module_path!()).build().unwrap();
/// let alice = AuthUser::new("alice");
/// let mut value = AuthValue::from(ThreadsCreate::default());
/// let filter = auth.authorize(&alice, &mut value).await.unwrap().unwrap();
/// assert_eq!(value.metadata().unwrap()["owner"], "alice");
/// assert_eq!(filter, Filter::eq("owner", "alice"));
/// assert_eq!(auth.handler_for(Resource::Threads, Action::Create).unwrap().name(), "stamp_owner");
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
///
/// # Refusals and panics
///
/// A handler refuses with a value: `false`, `Err(HttpException)`, or [`ensure!`](crate::ensure),
/// which returns `Err` and is therefore only available in handlers that return
/// `Result<_, HttpException>`. Refusing never unwinds, so it behaves the same under every panic
/// strategy.
///
/// A panic in a handler is a bug, and what it does depends on the binary's panic strategy:
///
/// | profile setting | a handler panics |
/// |---|---|
/// | `panic = "unwind"` (the default) | the dispatcher catches it: this call answers 500 naming the handler, the process and every other request go on |
/// | `panic = "abort"` | the process aborts (exit by `SIGABRT`), as for any panic in that binary |
pub struct Auth {
    authenticate: Option<(AuthenticateFn, HandlerInfo)>,
    reads_body: bool,
    handlers: Vec<(HandlerFn, HandlerInfo)>,
    table: [u16; EVENT_COUNT],
    deny_uncovered: bool,
}

impl Auth {
    /// A dispatcher over every handler linked into the binary.
    ///
    /// Fails, naming both places, when two handlers claim the same target or when there are two
    /// authenticate handlers.
    pub fn from_registry() -> Result<Auth, RegistryError> {
        Auth::builder().all_registered().build()
    }

    /// A builder to choose handlers: all or part of the registry, or functions given by hand.
    pub fn builder() -> AuthBuilder {
        AuthBuilder::default()
    }

    /// Authenticates a request with the authenticate handler.
    ///
    /// Without an authenticate handler, every request is the [anonymous](AuthUser::anonymous)
    /// user. A handler's [`HttpException`] is returned whole (status, detail, headers); a failed
    /// [`ensure!`](crate::ensure) is a 401. A panic is a bug: see [`Auth`] for what it does under
    /// each panic strategy.
    pub async fn authenticate(&self, request: &Request<'_>) -> Result<AuthUser, HttpException> {
        let Some((handler, info)) = &self.authenticate else {
            return Ok(AuthUser::anonymous());
        };
        match CatchUnwind(std::pin::pin!(handler(request).0)).await {
            Ok(result) => result.map_err(HttpException::for_authentication),
            Err(payload) => Err(from_panic(payload, info)),
        }
    }

    /// Runs the most specific handler for the value's (resource, action) and returns its filter.
    ///
    /// Precedence: (resource, action) > (resource, any action) > (any resource, action) > global.
    /// With no handler, the request is allowed with no filter (LangGraph's default), or refused
    /// with 403 when the builder chose [`deny_uncovered`](AuthBuilder::deny_uncovered).
    ///
    /// `false` from a handler is 403 `Forbidden`; an [`HttpException`] keeps its status, detail
    /// and headers; a failed [`ensure!`](crate::ensure) is 403 with its detail; a filter poisoned
    /// by bad input is a 500 naming the handler. A panic is a bug: see [`Auth`] for what it does
    /// under each panic strategy.
    pub async fn authorize(
        &self,
        user: &AuthUser,
        value: &mut AuthValue,
    ) -> Result<Option<Filter>, HttpException> {
        let (resource, action) = (value.resource(), value.action());
        let slot = self.table[value.event_index()];
        if slot == NONE {
            return if self.deny_uncovered {
                Err(HttpException::new(403)
                    .with_detail(format!("No handler covers {resource}.{action}")))
            } else {
                Ok(None)
            };
        }
        let (handler, info) = &self.handlers[usize::from(slot)];
        let ctx = AuthContext::new(user, resource, action);
        match CatchUnwind(std::pin::pin!(handler(&ctx, value).0)).await {
            Ok(Ok(Some(filter))) => match filter.error() {
                None => Ok(Some(filter)),
                Some(error) => Err(malformed(info, error)),
            },
            Ok(result) => result,
            Err(payload) => Err(from_panic(payload, info)),
        }
    }

    /// [`authorize`](Auth::authorize) for a typed value: runs the handler for `E`'s event on
    /// `value` and gives the value back as the handler left it, with the handler's filter.
    ///
    /// Everything is [`authorize`](Auth::authorize)'s: the handler chosen by precedence,
    /// [`deny_uncovered`](AuthBuilder::deny_uncovered), the answers to `false`, errors, failed
    /// [`ensure!`](crate::ensure)s, malformed filters and panics. On a refusal the value is
    /// dropped with the call. A handler that takes `&mut AuthValue` and puts another event's
    /// value in its place is answered with a 500 naming it.
    ///
    /// ```
    /// use auth::types::{JsonObject, ThreadsCreate};
    /// use auth::{Auth, AuthContext, AuthUser, Authorized, Filter};
    /// use serde_json::json;
    ///
    /// #[auth::on(threads.create)]
    /// async fn stamp_owner(ctx: &AuthContext, value: &mut ThreadsCreate) -> Filter {
    ///     let owner = ctx.user.identity();
    ///     value.metadata.get_or_insert_default().insert("owner".into(), owner.into());
    ///     Filter::eq("owner", owner)
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let auth = Auth::builder().module(module_path!()).build().unwrap();
    /// let create = ThreadsCreate::new()
    ///     .with_thread_id("2f1c6a0e-8d0b-4f7e-9c53-5a4e3b1d2c10")
    ///     .with_metadata(JsonObject::from_iter([("topic".to_owned(), json!("tea"))]));
    ///
    /// let Authorized { value, filter, .. } =
    ///     auth.authorize_as(&AuthUser::new("alice"), create).await.unwrap();
    /// // `value` is still a `ThreadsCreate`, stamped by the handler.
    /// let metadata = value.metadata.unwrap();
    /// assert_eq!((&metadata["owner"], &metadata["topic"]), (&json!("alice"), &json!("tea")));
    /// assert_eq!(filter, Some(Filter::eq("owner", "alice")));
    /// # });
    /// ```
    pub async fn authorize_as<E: Event>(
        &self,
        user: &AuthUser,
        value: E,
    ) -> Result<Authorized<E>, HttpException> {
        let mut value = value.into_value();
        let filter = self.authorize(user, &mut value).await?;
        match E::from_value(value) {
            Ok(value) => Ok(Authorized { value, filter }),
            Err(other) => Err(self.replaced(E::RESOURCE, E::ACTION, &other)),
        }
    }

    /// The 500 for a handler of `resource.action` that left another event's value.
    #[cold]
    #[inline(never)]
    fn replaced(&self, resource: Resource, action: Action, other: &AuthValue) -> HttpException {
        let handler = self
            .handler_for(resource, action)
            .map_or_else(|| "no handler".to_owned(), |h| h.location().to_string());
        HttpException::internal(format!(
            "the handler {handler} replaced the value of {resource}.{action} with one of {}.{}",
            other.resource(),
            other.action()
        ))
    }

    /// The handler that decides `(resource, action)`, or `None` when no handler covers it (and
    /// for a pair that does not exist, such as `threads.put`).
    #[inline]
    pub fn handler_for(&self, resource: Resource, action: Action) -> Option<&HandlerInfo> {
        let slot = self.table[event_index(resource, action)?];
        (slot != NONE).then(|| &self.handlers[usize::from(slot)].1)
    }

    /// Every handler, the authenticate handler first, then by source position: for start-up
    /// logs, and for tests that assert which handlers are linked in.
    pub fn handlers(&self) -> impl Iterator<Item = &HandlerInfo> {
        self.authenticate
            .iter()
            .map(|(_, i)| i)
            .chain(self.handlers.iter().map(|(_, i)| i))
    }

    /// Whether servers read the request body before authenticating: the authenticate handler
    /// takes `body` or `request`, or the builder chose [`read_body`](AuthBuilder::read_body). A
    /// server then parses the JSON body and passes it with [`Request::with_body`]; otherwise it
    /// need not.
    pub fn read_body(&self) -> bool {
        self.reads_body
    }

    /// The authenticate handler, if there is one.
    pub fn authenticate_handler(&self) -> Option<&HandlerInfo> {
        self.authenticate.as_ref().map(|(_, i)| i)
    }

    /// The (resource, action) pairs that no handler covers: LangGraph lets them through, which
    /// leaked data across users in deployed servers. Print them at start-up and assert them in
    /// tests, or choose [`deny_uncovered`](AuthBuilder::deny_uncovered).
    #[must_use = "print or assert the uncovered pairs: they are let through"]
    pub fn uncovered(&self) -> Vec<(Resource, Action)> {
        events()
            .filter(|(r, a)| self.handler_for(*r, *a).is_none())
            .collect()
    }

    /// Whether uncovered pairs are refused with 403 (chosen with
    /// [`AuthBuilder::deny_uncovered`]).
    pub fn deny_uncovered(&self) -> bool {
        self.deny_uncovered
    }
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("handlers", &self.handlers().collect::<Vec<_>>())
            .field("deny_uncovered", &self.deny_uncovered)
            .finish()
    }
}

/// A typed value that [`Auth::authorize_as`] let through, as its handler left it, and the
/// handler's filter.
///
/// Destructure it (`let Authorized { value, filter, .. } = …`) or take
/// [`into_parts`](Authorized::into_parts). It is `#[non_exhaustive]`: it may gain fields.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Authorized<E> {
    /// The value after the handler ran: what the server goes on with (a handler may have
    /// stamped its metadata or rewritten its namespace).
    pub value: E,
    /// The handler's filter: `None` when nothing restricts what the user sees, `Some` to apply
    /// to the resources the request reads or changes (see [`Filter::matches`]).
    pub filter: Option<Filter>,
}

impl<E> Authorized<E> {
    /// The value and the filter.
    pub fn into_parts(self) -> (E, Option<Filter>) {
        (self.value, self.filter)
    }
}

/// The 500 that a panicking handler is answered with: a panic is a bug, never a refusal.
#[cold]
#[inline(never)]
fn from_panic(_payload: Box<dyn Any + Send>, info: &HandlerInfo) -> HttpException {
    HttpException::internal(format!("the handler {} panicked", info.location()))
}

/// The 500 for a handler that returned a malformed filter.
#[cold]
#[inline(never)]
fn malformed(info: &HandlerInfo, error: &crate::FilterError) -> HttpException {
    HttpException::internal(format!(
        "the handler {} returned a malformed filter: {error}",
        info.location()
    ))
}

/// Polls a pinned handler future, turning a panic inside it into an error.
struct CatchUnwind<F>(F);

impl<F: Future + Unpin> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Box<dyn Any + Send>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = &mut self.0;
        match catch_unwind(AssertUnwindSafe(|| Pin::new(inner).poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Err(payload) => Poll::Ready(Err(payload)),
        }
    }
}

/// Chooses the handlers of an [`Auth`].
///
/// ```
/// use auth::{Auth, HandlerFuture, Target};
///
/// // A handler given by hand, for targets where link-time registration does not run.
/// fn deny_all<'a>(_: &'a auth::AuthContext, _: &'a mut auth::AuthValue) -> HandlerFuture<'a> {
///     HandlerFuture::new(async { Ok(Some(auth::Filter::eq("owner", "nobody"))) })
/// }
///
/// let auth = Auth::builder()
///     .on(&[Target::Global], "deny_all", deny_all)
///     .deny_uncovered(true)
///     .build()
///     .unwrap();
/// assert!(auth.uncovered().is_empty());
/// ```
#[derive(Debug, Default)]
pub struct AuthBuilder {
    registrations: Vec<Source>,
    deny_uncovered: bool,
    read_body: bool,
}

#[derive(Debug)]
enum Source {
    Registered(&'static Registration),
    Authenticate(AuthenticateFn, bool, SourceLocation),
    Authorize(Vec<Target>, HandlerFn, SourceLocation),
}

impl AuthBuilder {
    /// Adds every registered handler: every `#[auth::…]` function linked into the binary.
    #[must_use = "a builder method returns the changed builder"]
    pub fn all_registered(self) -> Self {
        self.registrations(registry())
    }

    /// Adds the registered handlers written in `module` or below it, such as
    /// `"my_server::policy::strict"` (a path as `module_path!()` gives it).
    ///
    /// So one binary, or one test binary, can hold several policies.
    #[must_use = "a builder method returns the changed builder"]
    pub fn module(self, module: &str) -> Self {
        self.registrations(registry().filter(|r| r.is_in_module(module)))
    }

    /// Adds the given registrations (for example `auth::registry().filter(..)`). Adding the same
    /// registration twice has no effect.
    #[must_use = "a builder method returns the changed builder"]
    pub fn registrations(mut self, regs: impl IntoIterator<Item = &'static Registration>) -> Self {
        for reg in regs {
            let seen = self
                .registrations
                .iter()
                .any(|s| matches!(s, Source::Registered(r) if std::ptr::eq(*r, reg)));
            if !seen {
                self.registrations.push(Source::Registered(reg));
            }
        }
        self
    }

    /// Adds an authorization handler written by hand (see [`HandlerFn`]) for `targets`. Its
    /// [`SourceLocation`] is the caller's position.
    #[must_use = "a builder method returns the changed builder"]
    #[track_caller]
    pub fn on(mut self, targets: &[Target], name: &'static str, handler: HandlerFn) -> Self {
        let place = caller_place(name);
        self.registrations
            .push(Source::Authorize(targets.to_vec(), handler, place));
        self
    }

    /// Adds an authenticate handler written by hand (see [`AuthenticateFn`]). Its
    /// [`SourceLocation`] is the caller's position.
    #[must_use = "a builder method returns the changed builder"]
    #[track_caller]
    pub fn authenticate(mut self, name: &'static str, handler: AuthenticateFn) -> Self {
        let place = caller_place(name);
        self.registrations
            .push(Source::Authenticate(handler, false, place));
        self
    }

    /// With `true`, servers parse the JSON body before authenticating, so that a handler added
    /// by hand with [`authenticate`](Self::authenticate) finds it in [`Request::body`]. (A
    /// `#[auth::authenticate]` handler that takes `body` or `request` asks for it by itself.)
    #[must_use = "a builder method returns the changed builder"]
    pub fn read_body(mut self, read: bool) -> Self {
        self.read_body = read;
        self
    }

    /// With `true`, a (resource, action) that no handler covers is refused with 403, instead of
    /// LangGraph's default of allowing it with no filter.
    #[must_use = "a builder method returns the changed builder"]
    pub fn deny_uncovered(mut self, deny: bool) -> Self {
        self.deny_uncovered = deny;
        self
    }

    /// Builds the dispatcher, refusing duplicate targets and a second authenticate handler.
    pub fn build(self) -> Result<Auth, RegistryError> {
        let mut authenticate: Option<(AuthenticateFn, HandlerInfo)> = None;
        let mut reads_body = self.read_body;
        let mut handlers: Vec<(HandlerFn, HandlerInfo)> = Vec::new();
        for source in self.registrations {
            let (kind, place) = match source {
                Source::Registered(r) => (
                    match r.kind {
                        Kind::Authenticate {
                            handler,
                            reads_body,
                        } => Err((handler, reads_body)),
                        Kind::Authorize { targets, handler } => Ok((targets.to_vec(), handler)),
                    },
                    SourceLocation {
                        file: r.file,
                        line: r.line,
                        name: r.name,
                        module_path: r.module_path,
                    },
                ),
                Source::Authenticate(f, reads_body, place) => (Err((f, reads_body)), place),
                Source::Authorize(targets, f, place) => (Ok((targets, f)), place),
            };
            match kind {
                Err((f, reads)) => {
                    let info = HandlerInfo {
                        targets: None,
                        place,
                    };
                    if let Some((_, first)) = &authenticate {
                        let (first, second) = ordered(first.place.clone(), info.place);
                        return Err(RegistryError::DuplicateAuthenticate { first, second });
                    }
                    authenticate = Some((f, info));
                    reads_body |= reads;
                }
                Ok((targets, f)) => {
                    if targets.is_empty() {
                        return Err(RegistryError::NoTarget { handler: place });
                    }
                    if let Some(&target) = targets.iter().find(|t| !t.fires()) {
                        return Err(RegistryError::NeverFires {
                            target,
                            handler: place,
                        });
                    }
                    let info = HandlerInfo {
                        targets: Some(targets),
                        place,
                    };
                    handlers.push((f, info));
                }
            }
        }
        // Registration order is unspecified: sort so that nothing depends on it.
        handlers.sort_by(|a, b| a.1.place.cmp(&b.1.place));
        let mut claimed: Vec<(Target, usize)> = Vec::new();
        for (i, (_, info)) in handlers.iter().enumerate() {
            for &target in info.targets.iter().flatten() {
                if let Some(&(_, j)) = claimed.iter().find(|(t, _)| *t == target) {
                    return Err(RegistryError::DuplicateTarget {
                        target,
                        first: handlers[j].1.place.clone(),
                        second: info.place.clone(),
                    });
                }
                claimed.push((target, i));
            }
        }
        let mut table = [NONE; EVENT_COUNT];
        for (resource, action) in events() {
            let best = claimed
                .iter()
                .filter(|(t, _)| t.covers(resource, action))
                .min_by_key(|(t, _)| t.level());
            if let (Some(&(_, i)), Some(idx)) = (best, event_index(resource, action)) {
                table[idx] = u16::try_from(i).unwrap_or(NONE);
            }
        }
        Ok(Auth {
            authenticate,
            reads_body,
            handlers,
            table,
            deny_uncovered: self.deny_uncovered,
        })
    }
}

fn ordered(a: SourceLocation, b: SourceLocation) -> (SourceLocation, SourceLocation) {
    if a <= b { (a, b) } else { (b, a) }
}

#[track_caller]
fn caller_place(name: &'static str) -> SourceLocation {
    let loc = std::panic::Location::caller();
    SourceLocation {
        file: loc.file(),
        line: loc.line(),
        name,
        module_path: "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::__private::{HandlerFuture, UserFuture, handler_future, user_future};
    use crate::types::{ThreadsCreate, ThreadsRead};

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    /// A handler that answers with its own name as the filter, to see which one ran.
    macro_rules! named {
        ($name:ident) => {
            fn $name<'a>(_: &'a AuthContext, _: &'a mut AuthValue) -> HandlerFuture<'a> {
                handler_future(async { Ok(Some(Filter::eq("ran", stringify!($name)))) })
            }
        };
    }
    named!(event);
    named!(resource);
    named!(action);
    named!(global);

    fn ran(auth: &Auth, mut value: AuthValue) -> Option<Filter> {
        block_on(auth.authorize(&AuthUser::new("u"), &mut value)).unwrap()
    }

    fn create() -> AuthValue {
        ThreadsCreate::default().into()
    }

    fn read() -> AuthValue {
        ThreadsRead::default().into()
    }

    #[test]
    fn most_specific_handler_wins() {
        let t = Resource::Threads;
        let all = Auth::builder()
            .on(&[Target::Global], "global", global)
            .on(&[Target::Action(Action::Create)], "action", action)
            .on(&[Target::Resource(t)], "resource", resource)
            .on(&[Target::Event(t, Action::Create)], "event", event)
            .build()
            .unwrap();
        assert_eq!(ran(&all, create()), Some(Filter::eq("ran", "event")));
        assert_eq!(ran(&all, read()), Some(Filter::eq("ran", "resource")));

        let no_resource = Auth::builder()
            .on(&[Target::Global], "global", global)
            .on(&[Target::Action(Action::Create)], "action", action)
            .build()
            .unwrap();
        assert_eq!(
            ran(&no_resource, create()),
            Some(Filter::eq("ran", "action"))
        );
        assert_eq!(ran(&no_resource, read()), Some(Filter::eq("ran", "global")));
        assert_eq!(
            no_resource
                .handler_for(Resource::Store, Action::Put)
                .unwrap()
                .name(),
            "global"
        );
        assert!(no_resource.uncovered().is_empty());
    }

    #[test]
    fn uncovered_is_allowed_or_denied_as_chosen() {
        let open = Auth::builder()
            .on(
                &[Target::Event(Resource::Threads, Action::Create)],
                "event",
                event,
            )
            .build()
            .unwrap();
        assert_eq!(ran(&open, read()), None);
        assert_eq!(open.uncovered().len(), EVENT_COUNT - 1);
        assert!(
            !open
                .uncovered()
                .contains(&(Resource::Threads, Action::Create))
        );

        let closed = Auth::builder()
            .on(
                &[Target::Event(Resource::Threads, Action::Create)],
                "event",
                event,
            )
            .deny_uncovered(true)
            .build()
            .unwrap();
        let err = block_on(closed.authorize(&AuthUser::new("u"), &mut read())).unwrap_err();
        assert_eq!(err.status(), 403);
        assert_eq!(err.detail(), "No handler covers threads.read");
        assert!(ran(&closed, create()).is_some());
    }

    #[test]
    fn duplicates_are_refused_naming_both_places() {
        let t = Target::Event(Resource::Threads, Action::Read);
        let err = Auth::builder()
            .on(&[t], "first", event)
            .on(&[Target::Resource(Resource::Crons), t], "second", global)
            .build()
            .unwrap_err();
        match &err {
            RegistryError::DuplicateTarget {
                target,
                first,
                second,
            } => {
                assert_eq!(*target, t);
                assert_eq!((first.name(), second.name()), ("first", "second"));
                assert!(first.line() < second.line());
            }
            other => panic!("unexpected {other:?}"),
        }
        let msg = err.to_string();
        assert!(
            msg.contains("`threads.read`") && msg.contains("`first`") && msg.contains("`second`"),
            "{msg}"
        );

        fn user<'a>(_: &'a Request<'a>) -> UserFuture<'a> {
            user_future(async { Ok(AuthUser::new("u")) })
        }
        let err = Auth::builder()
            .authenticate("a", user)
            .authenticate("b", user)
            .build()
            .unwrap_err();
        assert!(matches!(err, RegistryError::DuplicateAuthenticate { .. }));
        assert!(err.to_string().contains("two authenticate handlers"));
    }

    #[test]
    fn a_target_that_names_no_event_is_refused() {
        let never = Target::Event(Resource::Threads, Action::Put);
        let err = Auth::builder()
            .on(&[Target::Global], "global", global)
            .on(&[Target::Resource(Resource::Crons), never], "put", event)
            .build()
            .unwrap_err();
        match &err {
            RegistryError::NeverFires { target, handler } => {
                assert_eq!((*target, handler.name()), (never, "put"));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(
            err.to_string()
                .contains("`threads.put`, which is not an event"),
            "{err}"
        );
    }

    #[test]
    fn errors_panics_and_false_are_answered() {
        fn refuse<'a>(_: &'a AuthContext, _: &'a mut AuthValue) -> HandlerFuture<'a> {
            handler_future(async {
                Err(HttpException::new(429)
                    .with_detail("slow down")
                    .with_header("Retry-After", "3"))
            })
        }
        fn boom<'a>(_: &'a AuthContext, _: &'a mut AuthValue) -> HandlerFuture<'a> {
            handler_future(async { panic!("handler bug") })
        }
        fn no<'a>(_: &'a AuthContext, _: &'a mut AuthValue) -> HandlerFuture<'a> {
            handler_future(async { crate::__private::into_decision(false) })
        }
        let auth = Auth::builder()
            .on(
                &[Target::Event(Resource::Threads, Action::Create)],
                "refuse",
                refuse,
            )
            .on(
                &[Target::Event(Resource::Threads, Action::Read)],
                "boom",
                boom,
            )
            .on(&[Target::Resource(Resource::Store)], "no", no)
            .build()
            .unwrap();
        let user = AuthUser::new("u");
        let e = block_on(auth.authorize(&user, &mut create())).unwrap_err();
        assert_eq!((e.status(), e.detail()), (429, "slow down"));
        assert_eq!(e.headers().collect::<Vec<_>>(), [("Retry-After", "3")]);
        let e = block_on(auth.authorize(&user, &mut read())).unwrap_err();
        assert_eq!(e.status(), 500);
        assert!(e.detail().contains("`boom`"), "{}", e.detail());
        // The dispatcher still serves after a panic.
        let e = block_on(auth.authorize(&user, &mut create())).unwrap_err();
        assert_eq!(e.status(), 429);
    }

    #[test]
    fn authorize_as_runs_authorize_and_returns_the_typed_value() {
        fn stamp<'a>(ctx: &'a AuthContext, value: &'a mut AuthValue) -> HandlerFuture<'a> {
            handler_future(async move {
                let owner = ctx.user.identity();
                value
                    .metadata_mut()
                    .unwrap()
                    .insert("owner".into(), owner.into());
                Ok(Some(Filter::eq("owner", owner)))
            })
        }
        fn swap<'a>(_: &'a AuthContext, value: &'a mut AuthValue) -> HandlerFuture<'a> {
            handler_future(async move {
                *value = crate::types::StoreGet::new().with_key("k").into();
                Ok(None)
            })
        }
        let auth = Auth::builder()
            .on(
                &[Target::Event(Resource::Threads, Action::Create)],
                "stamp",
                stamp,
            )
            .on(
                &[Target::Event(Resource::Threads, Action::Read)],
                "swap",
                swap,
            )
            .on(&[Target::Resource(Resource::Crons)], "event", event)
            .build()
            .unwrap();
        let user = AuthUser::new("u");
        let done =
            block_on(auth.authorize_as(&user, ThreadsCreate::new().with_thread_id("t"))).unwrap();
        assert_eq!(done.value.thread_id.as_deref(), Some("t"));
        assert_eq!(done.value.metadata.as_ref().unwrap()["owner"], "u");
        let (value, filter) = done.into_parts();
        assert_eq!(filter, Some(Filter::eq("owner", "u")));
        assert_eq!(value.metadata.unwrap().len(), 1);

        // A handler that leaves another event's value is a 500 naming it, not a panic.
        let e = block_on(auth.authorize_as(&user, ThreadsRead::new())).unwrap_err();
        assert_eq!(e.status(), 500);
        assert!(
            e.detail()
                .starts_with("the handler `swap` (auth-core/src/dispatch.rs:")
                && e.detail()
                    .ends_with("replaced the value of threads.read with one of store.get"),
            "{}",
            e.detail()
        );

        // Uncovered: allowed with no filter, the value unchanged.
        let search = crate::types::ThreadsSearch::new().with_limit(3);
        let done = block_on(auth.authorize_as(&user, search.clone())).unwrap();
        assert_eq!((done.value, done.filter), (search, None));
        let done = block_on(auth.authorize_as(&user, crate::types::CronsDelete::new())).unwrap();
        assert_eq!(done.filter, Some(Filter::eq("ran", "event")));
    }

    #[test]
    fn authenticate_keeps_errors_and_maps_ensure_to_401() {
        fn deny<'a>(_: &'a Request<'a>) -> UserFuture<'a> {
            user_future(async {
                Err(HttpException::new(403)
                    .with_detail("banned")
                    .with_header("X-Reason", "r"))
            })
        }
        fn assert_fails<'a>(_: &'a Request<'a>) -> UserFuture<'a> {
            user_future(async {
                let r: Result<AuthUser, HttpException> =
                    crate::__private::ensure_failed("token expired");
                r
            })
        }
        fn panics<'a>(_: &'a Request<'a>) -> UserFuture<'a> {
            user_future(async { panic!("bug in the authenticate handler") })
        }
        let request = Request::new("GET", "/");
        for (f, status, detail) in [
            (deny as crate::AuthenticateFn, 403, "banned"),
            (assert_fails, 401, "token expired"),
            (panics, 500, "the handler `h` (auth-core/src/dispatch.rs:"),
        ] {
            let auth = Auth::builder().authenticate("h", f).build().unwrap();
            let e = block_on(auth.authenticate(&request)).unwrap_err();
            assert_eq!(e.status(), status);
            assert!(e.detail().starts_with(detail), "{}", e.detail());
        }
        let anonymous = block_on(Auth::builder().build().unwrap().authenticate(&request)).unwrap();
        assert!(!anonymous.is_authenticated());
    }

    #[test]
    fn handlers_are_listed_in_source_order() {
        let auth = Auth::builder()
            .on(&[Target::Global], "global", global)
            .on(
                &[
                    Target::Resource(Resource::Threads),
                    Target::Action(Action::Put),
                ],
                "resource",
                resource,
            )
            .build()
            .unwrap();
        let listed: Vec<String> = auth.handlers().map(|h| h.to_string()).collect();
        assert_eq!(listed.len(), 2);
        assert!(
            listed[0].starts_with("* -> global (auth-core/src/dispatch.rs:"),
            "{listed:?}"
        );
        assert!(
            listed[1].starts_with("threads, *.put -> resource ("),
            "{listed:?}"
        );
    }
}
