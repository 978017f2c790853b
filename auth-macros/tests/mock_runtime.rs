//! The expansions against a small stand-in for `auth::__private_0_1_0` with the contract's exact
//! signatures (through `crate = crate::mock`), so the generated code is compiled, registered and
//! run here, without the real runtime. The runtime's own tests (and the trybuild UI tests in the
//! workspace's `tests/` crate) check the same against `auth-core`.

#![cfg(target_os = "linux")]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use auth_macros::{authenticate, on};
use mock::*;

/// Just enough of `auth` for the generated code to name and call.
#[allow(dead_code)]
mod mock {
    use std::sync::Mutex;

    pub struct AuthContext {
        pub identity: &'static str,
    }

    #[derive(Debug, Default, PartialEq)]
    pub struct ThreadsCreate {
        pub owner: Option<String>,
    }

    #[derive(Debug, Default, PartialEq)]
    pub struct ThreadsRead {
        pub thread_id: u32,
    }

    #[derive(Debug, PartialEq)]
    pub enum ThreadsValue {
        Create(ThreadsCreate),
        Read(ThreadsRead),
    }

    #[derive(Debug, PartialEq)]
    pub enum AuthValue {
        Threads(ThreadsValue),
    }

    pub struct Request<'a> {
        pub path: &'a str,
        pub authorization: Option<&'a str>,
    }

    #[derive(Debug, PartialEq)]
    pub struct HttpException(pub u16, pub String);

    #[derive(Debug, PartialEq)]
    pub struct Filter(pub String);

    #[derive(Debug, PartialEq)]
    pub struct AuthUser(pub String);

    #[derive(Debug, Clone, Copy, PartialEq)]
    pub enum Resource {
        Threads,
        Assistants,
        Crons,
        Store,
    }

    #[derive(Debug, Clone, Copy, PartialEq)]
    pub enum Action {
        Create,
        Read,
        Update,
        Delete,
        Search,
        CreateRun,
        Put,
        Get,
        ListNamespaces,
    }

    #[derive(Debug, Clone, Copy, PartialEq)]
    pub enum Target {
        Event(Resource, Action),
        Resource(Resource),
        Action(Action),
        Global,
    }

    #[derive(Clone, Copy)]
    pub enum Handler {
        Authorize(&'static [Target], __private_0_1_0::HandlerFn),
        Authenticate(__private_0_1_0::AuthenticateFn),
    }

    #[derive(Clone, Copy)]
    pub struct Registration {
        pub handler: Handler,
        pub name: &'static str,
        pub module_path: &'static str,
        pub file: &'static str,
        pub line: u32,
    }

    impl Registration {
        pub const fn authorize(
            targets: &'static [Target],
            handler: __private_0_1_0::HandlerFn,
            name: &'static str,
            module_path: &'static str,
            file: &'static str,
            line: u32,
        ) -> Registration {
            Registration {
                handler: Handler::Authorize(targets, handler),
                name,
                module_path,
                file,
                line,
            }
        }

        pub const fn authenticate(
            handler: __private_0_1_0::AuthenticateFn,
            _reads_body: bool,
            name: &'static str,
            module_path: &'static str,
            file: &'static str,
            line: u32,
        ) -> Registration {
            Registration {
                handler: Handler::Authenticate(handler),
                name,
                module_path,
                file,
                line,
            }
        }
    }

    /// The value types, as `#krate::types::…` names them.
    pub mod types {
        pub use super::{AuthValue, ThreadsCreate, ThreadsValue};
    }

    pub static REGISTRY: Mutex<Vec<Registration>> = Mutex::new(Vec::new());

    pub fn registered(name: &str) -> Registration {
        let all = REGISTRY.lock().unwrap();
        let found: Vec<_> = all.iter().filter(|r| r.name == name).copied().collect();
        assert_eq!(found.len(), 1, "registrations named {name}");
        found[0]
    }

    /// A stand-in for `inventory::submit!`: an ELF constructor pushes the registration before
    /// `main`, which is what inventory does on Linux.
    #[macro_export]
    macro_rules! mock_submit {
        ($registration:expr) => {
            #[used]
            #[unsafe(link_section = ".init_array")]
            static __MOCK_CTOR: extern "C" fn() = {
                extern "C" fn ctor() {
                    $crate::mock::REGISTRY.lock().unwrap().push($registration);
                }
                ctor
            };
        };
    }

    #[allow(non_snake_case)]
    pub mod __private_0_1_0 {
        use super::*;
        use std::future::Future;
        use std::pin::Pin;

        pub mod inventory {
            pub use crate::mock_submit as submit;
        }

        pub use super::Registration;

        pub const fn authorize(
            targets: &'static [Target],
            handler: HandlerFn,
            name: &'static str,
            module_path: &'static str,
            file: &'static str,
            line: u32,
        ) -> Registration {
            Registration::authorize(targets, handler, name, module_path, file, line)
        }

        pub const fn authenticate(
            handler: AuthenticateFn,
            reads_body: bool,
            name: &'static str,
            module_path: &'static str,
            file: &'static str,
            line: u32,
        ) -> Registration {
            Registration::authenticate(handler, reads_body, name, module_path, file, line)
        }

        pub type HandlerFuture<'a> =
            Pin<Box<dyn Future<Output = Result<Option<Filter>, HttpException>> + Send + 'a>>;
        pub type UserFuture<'a> =
            Pin<Box<dyn Future<Output = Result<AuthUser, HttpException>> + Send + 'a>>;
        pub type HandlerFn = for<'a> fn(&'a AuthContext, &'a mut AuthValue) -> HandlerFuture<'a>;
        pub type AuthenticateFn = for<'a> fn(&'a Request<'a>) -> UserFuture<'a>;

        pub fn handler_future<'a, F>(future: F) -> HandlerFuture<'a>
        where
            F: Future<Output = Result<Option<Filter>, HttpException>> + Send + 'a,
        {
            Box::pin(future)
        }
        pub fn user_future<'a, F>(future: F) -> UserFuture<'a>
        where
            F: Future<Output = Result<AuthUser, HttpException>> + Send + 'a,
        {
            Box::pin(future)
        }

        pub trait HandlerValue {
            fn project_mut(v: &mut AuthValue) -> Option<&mut Self>;
            fn project_ref(v: &AuthValue) -> Option<&Self>;
        }
        pub trait Fits<E>: HandlerValue {}

        impl HandlerValue for ThreadsCreate {
            fn project_mut(v: &mut AuthValue) -> Option<&mut Self> {
                match v {
                    AuthValue::Threads(ThreadsValue::Create(c)) => Some(c),
                    _ => None,
                }
            }
            fn project_ref(v: &AuthValue) -> Option<&Self> {
                match v {
                    AuthValue::Threads(ThreadsValue::Create(c)) => Some(c),
                    _ => None,
                }
            }
        }
        impl HandlerValue for ThreadsValue {
            fn project_mut(v: &mut AuthValue) -> Option<&mut Self> {
                let AuthValue::Threads(t) = v;
                Some(t)
            }
            fn project_ref(v: &AuthValue) -> Option<&Self> {
                let AuthValue::Threads(t) = v;
                Some(t)
            }
        }
        impl HandlerValue for AuthValue {
            fn project_mut(v: &mut AuthValue) -> Option<&mut Self> {
                Some(v)
            }
            fn project_ref(v: &AuthValue) -> Option<&Self> {
                Some(v)
            }
        }
        impl Fits<ThreadsCreate> for ThreadsCreate {}
        impl Fits<ThreadsCreate> for ThreadsValue {}
        impl Fits<ThreadsRead> for ThreadsValue {}
        impl Fits<ThreadsValue> for ThreadsValue {}
        impl<E> Fits<E> for AuthValue {}

        pub fn project_mut<T: Fits<E>, E>(v: &mut AuthValue) -> Result<&mut T, HttpException> {
            T::project_mut(v).ok_or(HttpException(500, "wrong value".into()))
        }
        pub fn project_ref<T: Fits<E>, E>(v: &AuthValue) -> Result<&T, HttpException> {
            T::project_ref(v).ok_or(HttpException(500, "wrong value".into()))
        }

        pub trait HandlerOutput {
            fn decide(self) -> Result<Option<Filter>, HttpException>;
        }
        impl HandlerOutput for () {
            fn decide(self) -> Result<Option<Filter>, HttpException> {
                Ok(None)
            }
        }
        impl HandlerOutput for bool {
            fn decide(self) -> Result<Option<Filter>, HttpException> {
                if self {
                    Ok(None)
                } else {
                    Err(HttpException(403, "Forbidden".into()))
                }
            }
        }
        impl HandlerOutput for Filter {
            fn decide(self) -> Result<Option<Filter>, HttpException> {
                Ok(Some(self))
            }
        }
        impl<T: HandlerOutput> HandlerOutput for Result<T, HttpException> {
            fn decide(self) -> Result<Option<Filter>, HttpException> {
                self?.decide()
            }
        }
        pub fn into_decision<T: HandlerOutput>(out: T) -> Result<Option<Filter>, HttpException> {
            out.decide()
        }

        pub trait IntoAuthUser {
            fn user(self) -> Result<AuthUser, HttpException>;
        }
        impl IntoAuthUser for String {
            fn user(self) -> Result<AuthUser, HttpException> {
                Ok(AuthUser(self))
            }
        }
        impl<T: IntoAuthUser> IntoAuthUser for Result<T, HttpException> {
            fn user(self) -> Result<AuthUser, HttpException> {
                self?.user()
            }
        }
        pub fn into_user<T: IntoAuthUser>(out: T) -> Result<AuthUser, HttpException> {
            out.user()
        }

        pub mod param {
            pub struct Request;
            pub struct Path;
            pub struct Authorization;
        }
        pub trait FromRequestParam<'a, P>: Sized {
            fn from_request(req: &'a Request<'a>) -> Result<Self, HttpException>;
        }
        impl<'a> FromRequestParam<'a, param::Request> for &'a Request<'a> {
            fn from_request(req: &'a Request<'a>) -> Result<Self, HttpException> {
                Ok(req)
            }
        }
        impl<'a> FromRequestParam<'a, param::Path> for &'a str {
            fn from_request(req: &'a Request<'a>) -> Result<Self, HttpException> {
                Ok(req.path)
            }
        }
        impl<'a> FromRequestParam<'a, param::Authorization> for Option<&'a str> {
            fn from_request(req: &'a Request<'a>) -> Result<Self, HttpException> {
                Ok(req.authorization)
            }
        }
        impl<'a> FromRequestParam<'a, param::Authorization> for &'a str {
            fn from_request(req: &'a Request<'a>) -> Result<Self, HttpException> {
                req.authorization
                    .ok_or(HttpException(401, "missing Authorization".into()))
            }
        }
        pub fn extract<'a, P, T: FromRequestParam<'a, P>>(
            req: &'a Request<'a>,
        ) -> Result<T, HttpException> {
            T::from_request(req)
        }
    }
}

fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("the mock runtime's futures are always ready"),
    }
}

fn authorize(name: &str, value: &mut AuthValue) -> Result<Option<Filter>, HttpException> {
    let Handler::Authorize(_, handler) = registered(name).handler else {
        panic!("{name} is not an authorization handler");
    };
    let ctx = AuthContext { identity: "alice" };
    block_on(handler(&ctx, value))
}

fn targets(name: &str) -> &'static [Target] {
    match registered(name).handler {
        Handler::Authorize(targets, _) => targets,
        Handler::Authenticate(_) => panic!("{name} is an authenticate handler"),
    }
}

fn create() -> AuthValue {
    AuthValue::Threads(ThreadsValue::Create(ThreadsCreate::default()))
}

const STAMP_OWNER_LINE: u32 = line!() + 2;
#[on(threads.create, crate = crate::mock)]
async fn stamp_owner(ctx: &AuthContext, value: &mut ThreadsCreate) -> Filter {
    value.owner = Some(ctx.identity.to_owned());
    Filter(format!("owner={}", ctx.identity))
}

#[on(threads.create, threads.read, crate = "crate::mock")]
async fn read_only(_ctx: &AuthContext, value: &ThreadsValue) -> bool {
    matches!(value, ThreadsValue::Create(_))
}

#[on(crate = crate::mock)]
async fn global(_: &AuthContext, _: &mut AuthValue) {}

#[on(threads, *.read, crate = crate::mock)]
async fn r#fails(_: &AuthContext, _: &AuthValue) -> Result<(), HttpException> {
    Err(HttpException(418, "teapot".into()))
}

type Alias = ThreadsCreate;

#[on(threads.create, crate = crate::mock)]
async fn through_alias(_ctx: &AuthContext, value: &mut Alias) -> Result<bool, HttpException> {
    Ok(value.owner.is_none())
}

// Names and types from `macro_rules!` fragments carry that macro's hygiene: the shim must still
// work (its own locals keep the attribute's call-site hygiene).
macro_rules! generated {
    ($name:ident, $value:ty, $user:ident, $param:ident: $param_ty:ty) => {
        #[on(threads.create, crate = crate::mock)]
        async fn $name(_ctx: &AuthContext, value: &mut $value) -> bool {
            value.owner.is_none()
        }

        #[authenticate(crate = crate::mock)]
        async fn $user($param: $param_ty) -> String {
            $param.to_owned()
        }
    };
}

generated!(from_macro, ThreadsCreate, user_from_macro, path: &str);

#[test]
fn a_handler_is_registered_with_its_targets_name_and_location() {
    let r = registered("stamp_owner");
    assert_eq!(r.line, STAMP_OWNER_LINE);
    assert!(r.file.ends_with("mock_runtime.rs"), "{}", r.file);
    assert_eq!(r.module_path, "mock_runtime");
    assert_eq!(
        targets("stamp_owner"),
        [Target::Event(Resource::Threads, Action::Create)]
    );
    assert_eq!(
        targets("read_only"),
        [
            Target::Event(Resource::Threads, Action::Create),
            Target::Event(Resource::Threads, Action::Read)
        ]
    );
    assert_eq!(targets("global"), [Target::Global]);
    assert_eq!(
        targets("fails"),
        [
            Target::Resource(Resource::Threads),
            Target::Action(Action::Read)
        ]
    );
}

#[test]
fn the_shim_projects_calls_and_decides() {
    let mut value = create();
    assert_eq!(
        authorize("stamp_owner", &mut value),
        Ok(Some(Filter("owner=alice".into())))
    );
    assert_eq!(
        value,
        AuthValue::Threads(ThreadsValue::Create(ThreadsCreate {
            owner: Some("alice".into())
        }))
    );
    // a value of another event: the projection's error, the handler does not run
    let mut read = AuthValue::Threads(ThreadsValue::Read(ThreadsRead { thread_id: 7 }));
    assert_eq!(
        authorize("stamp_owner", &mut read),
        Err(HttpException(500, "wrong value".into()))
    );
    assert_eq!(authorize("read_only", &mut create()), Ok(None));
    assert_eq!(
        authorize("read_only", &mut read),
        Err(HttpException(403, "Forbidden".into()))
    );
    assert_eq!(authorize("global", &mut read), Ok(None));
    assert_eq!(
        authorize("fails", &mut read),
        Err(HttpException(418, "teapot".into()))
    );
    assert_eq!(authorize("through_alias", &mut create()), Ok(None));
    assert_eq!(authorize("from_macro", &mut create()), Ok(None));
    assert_eq!(
        authorize("from_macro", &mut read),
        Err(HttpException(500, "wrong value".into()))
    );
}

const GET_USER_LINE: u32 = line!() + 2;
#[authenticate(crate = crate::mock)]
async fn get_user(
    _path: &str,
    authorization: &str,
    request: &Request<'_>,
) -> Result<String, HttpException> {
    match authorization.strip_prefix("Bearer ") {
        Some(token) => Ok(format!("{token}@{}", request.path)),
        None => Err(HttpException(401, "bad scheme".into())),
    }
}

#[authenticate(crate = "crate::mock")]
async fn anyone() -> String {
    "anonymous".into()
}

#[authenticate(crate = crate::mock)]
async fn optional(authorization: Option<&str>) -> String {
    authorization.unwrap_or("none").to_owned()
}

fn authenticate_with(name: &str, authorization: Option<&str>) -> Result<AuthUser, HttpException> {
    let Handler::Authenticate(handler) = registered(name).handler else {
        panic!("{name} is not an authenticate handler");
    };
    let request = Request {
        path: "/threads",
        authorization,
    };
    block_on(handler(&request))
}

#[test]
fn authenticate_extracts_parameters_by_name() {
    assert_eq!(registered("get_user").line, GET_USER_LINE);
    assert_eq!(
        authenticate_with("get_user", Some("Bearer t1")),
        Ok(AuthUser("t1@/threads".into()))
    );
    assert_eq!(
        authenticate_with("get_user", Some("Basic x")),
        Err(HttpException(401, "bad scheme".into()))
    );
    // `authorization: &str` without the header: the extraction answers, the fn does not run
    assert_eq!(
        authenticate_with("get_user", None),
        Err(HttpException(401, "missing Authorization".into()))
    );
    assert_eq!(
        authenticate_with("user_from_macro", None),
        Ok(AuthUser("/threads".into()))
    );
    assert_eq!(
        authenticate_with("anyone", None),
        Ok(AuthUser("anonymous".into()))
    );
    assert_eq!(
        authenticate_with("optional", None),
        Ok(AuthUser("none".into()))
    );
    assert_eq!(
        authenticate_with("optional", Some("x")),
        Ok(AuthUser("x".into()))
    );
}

#[test]
fn the_user_functions_stay_callable() {
    let ctx = AuthContext { identity: "bob" };
    let mut value = ThreadsCreate::default();
    assert_eq!(
        block_on(stamp_owner(&ctx, &mut value)),
        Filter("owner=bob".into())
    );
    assert_eq!(value.owner.as_deref(), Some("bob"));
    assert_eq!(block_on(anyone()), "anonymous");
}
