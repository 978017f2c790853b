//! What a request's authentication and authorization allocate, counted exactly by a global
//! allocator: handler futures are held in place (not boxed) unless they are large, a filter's
//! literal key is not copied and its one condition is not put in a list. These are counts, not
//! timings: the same code allocates the same number of times on any machine. A server without an
//! authenticate handler shares one anonymous user.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use auth::types::{AuthValue, ThreadsRead};
use auth::{Auth, AuthContext, AuthUser, Filter, HttpException, MinimalUser, Request};

/// Counts the allocations of the current thread (tests run on several threads at once).
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// The output of `work()` and how many allocations making and running it took.
fn counted<F: Future>(work: impl FnOnce() -> F) -> (F::Output, usize) {
    let before = ALLOCATIONS.with(Cell::get);
    let output = {
        let mut future = pin!(work());
        match future
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
        {
            Poll::Ready(output) => output,
            Poll::Pending => panic!("the handler waited on something"),
        }
    };
    (output, ALLOCATIONS.with(Cell::get) - before)
}

mod small {
    use super::*;

    /// The tutorial's `threads.read` handler.
    #[auth::on(threads.read)]
    async fn on_thread_read(ctx: &AuthContext, _value: &ThreadsRead) -> Filter {
        Filter::eq("owner", ctx.user.identity())
    }

    /// A bearer-token handler whose users are known in advance.
    #[auth::authenticate]
    async fn by_token(authorization: Option<&str>) -> Result<MinimalUser, HttpException> {
        match authorization {
            Some("Bearer user1-token") => Ok(MinimalUser::new("user1")),
            _ => Err(HttpException::new(401)),
        }
    }
}

mod lent {
    use std::borrow::Cow;

    use super::*;

    /// The tutorial's table of tokens, identities and display names.
    pub(super) static TOKENS: [(&str, &str, &str); 1] = [("user1-token", "user1", "Alice")];

    /// Builds its users from the static table, lending its strings instead of copying them.
    #[auth::authenticate]
    async fn by_token(authorization: Option<&str>) -> Result<MinimalUser, HttpException> {
        let token = authorization.and_then(|h| h.strip_prefix("Bearer "));
        match TOKENS.iter().find(|(t, _, _)| Some(*t) == token) {
            Some((_, identity, name)) => {
                Ok(MinimalUser::new(Cow::Borrowed(*identity))
                    .with_display_name(Cow::Borrowed(*name)))
            }
            None => Err(HttpException::new(401)),
        }
    }
}

mod large {
    use super::*;

    /// Holds a kilobyte across an await: too large to be held in place, so it is boxed.
    #[auth::on(threads.read)]
    async fn on_thread_read(ctx: &AuthContext, _value: &ThreadsRead) -> Filter {
        let scratch = [7u8; 1024];
        std::future::ready(()).await;
        Filter::eq("owner", ctx.user.identity()).and(Filter::eq("sum", scratch[1023]))
    }
}

fn read() -> AuthValue {
    AuthValue::from(ThreadsRead::new().with_thread_id("t1"))
}

fn policy(module: &str) -> Auth {
    Auth::builder()
        .module(&format!("{}::{module}", module_path!()))
        .build()
        .unwrap()
}

/// `user1` reading thread `t1` under the handlers of `module`: the decision and its allocations.
fn authorize_read(module: &str) -> (Result<Option<Filter>, HttpException>, usize) {
    let auth = policy(module);
    let user = AuthUser::new("user1");
    let mut value = read();
    counted(|| auth.authorize(&user, &mut value))
}

#[test]
fn authorizing_with_a_small_handler_allocates_only_the_filters_value() {
    let (decision, allocations) = authorize_read("small");
    assert_eq!(decision.unwrap(), Some(Filter::eq("owner", "user1")));
    // The value `"user1"` as a JSON string; no boxed future, no key, no list of conditions.
    assert_eq!(allocations, 1);
}

#[test]
fn authorizing_a_typed_value_allocates_as_much_as_authorize() {
    let auth = policy("small");
    let user = AuthUser::new("user1");
    let value = ThreadsRead::new().with_thread_id("t1");
    let (done, allocations) = counted(|| auth.authorize_as(&user, value));
    let done = done.unwrap();
    assert_eq!(done.filter, Some(Filter::eq("owner", "user1")));
    assert_eq!(done.value.thread_id.as_deref(), Some("t1"));
    // The filter's value only, as with `authorize`: the typed value moves into an `AuthValue`
    // and back out in place, and no future is boxed.
    assert_eq!(allocations, 1);
}

/// `Bearer user1-token` authenticated by the handler of `module`: the user and the allocations.
fn authenticate_user1(module: &str) -> (AuthUser, usize) {
    let auth = policy(module);
    let headers = [("authorization", "Bearer user1-token")];
    let request = Request::new("GET", "/threads").with_headers(&headers);
    let (user, allocations) = counted(|| auth.authenticate(&request));
    (user.unwrap(), allocations)
}

#[test]
fn authenticating_with_a_small_handler_allocates_only_the_user() {
    let (user, allocations) = authenticate_user1("small");
    assert_eq!(user.identity(), "user1");
    // The shared user only: the literal identity is lent, not copied; no boxed future.
    assert_eq!(allocations, 1);
}

#[test]
fn a_user_built_from_static_strings_allocates_only_the_shared_user() {
    let (user, allocations) = authenticate_user1("lent");
    assert_eq!((user.identity(), user.display_name()), ("user1", "Alice"));
    // The identity and the display name are the table's own strings, not copies.
    let (_, identity, name) = lent::TOKENS[0];
    assert!(std::ptr::eq(user.identity(), identity));
    assert!(std::ptr::eq(user.display_name(), name));
    assert_eq!(allocations, 1);
}

#[test]
fn a_handler_too_large_to_hold_in_place_is_boxed_and_runs_alike() {
    let (decision, allocations) = authorize_read("large");
    assert_eq!(
        decision.unwrap(),
        Some(Filter::eq("owner", "user1").and(Filter::eq("sum", 7)))
    );
    // The boxed future, besides what the two-condition filter allocates.
    let (_, filter_alone) =
        counted(|| async { Filter::eq("owner", "user1").and(Filter::eq("sum", 7)) });
    assert_eq!(allocations, filter_alone + 1);
}

#[test]
fn without_an_authenticate_handler_every_request_shares_one_anonymous_user() {
    let auth = Auth::builder().build().unwrap();
    let request = Request::new("GET", "/threads");
    // The first call builds the shared user; every later one only counts a reference.
    let (first, _) = counted(|| auth.authenticate(&request));
    let (user, allocations) = counted(|| auth.authenticate(&request));
    let (user, first) = (user.unwrap(), first.unwrap());
    assert!(!user.is_authenticated());
    assert_eq!((user.identity(), &user), ("", &first));
    assert_eq!(allocations, 0);
}
