//! Attribute macros of `auth`; use them through `auth-core` (`auth::on`, `auth::authenticate`),
//! which re-exports them and holds the runtime the generated code calls.
//!
//! The crate is split by stage: `attr` parses the attribute's arguments, `item` the
//! function, `valid` checks both against the vocabulary (`vocab`) and the handler rules, and
//! `expand` writes the registration using only the runtime paths listed in `paths`. On any error,
//! `fallback` emits the function unchanged with the errors and registers nothing.
//!
//! `filter` holds `auth::filter!` (parse, validate, expand in one module: JSON-like tokens to the
//! `Filter` builder calls), and `vocab` the vocabulary table, the one source that the runtime's
//! `Resource`, `Action` and event table are generated from (`__vocabulary!`). `builders` derives
//! the constructors and `with_*` setters of the runtime's value structs (`__Builders`).

mod attr;
mod builders;
mod expand;
mod fallback;
mod filter;
mod item;
mod paths;
mod valid;
mod vocab;

use proc_macro::TokenStream;

/// Registers an async function as an **authorization handler** for one or more targets.
///
/// # Grammar
///
/// ```text
/// #[auth::on]                                  every event (the global handler)
/// #[auth::on(target, target, ..., crate = path)]
///
/// target   := '*'                              every event
///           | resource                         every action of one resource
///           | resource '.' action              one event
///           | '*' '.' action                   that action on every resource that has it
/// resource := threads | assistants | crons | store
/// action   := threads:    create | read | update | delete | search | create_run
///             assistants: create | read | update | delete | search
///             crons:      create | read | update | delete | search
///             store:      put | get | search | delete | list_namespaces
/// crate    := 'crate' '=' ( "path" | path )    where `auth` is when renamed (default `::auth`)
/// ```
///
/// Several targets register the same handler for each of them, like LangGraph's
/// `@auth.on(resources=[...], actions=[...])`. A target may appear once, and not next to a
/// wider one that already covers it (`threads, threads.read` is an error).
///
/// # The function
///
/// ```ignore
/// #[auth::on(threads.create)]
/// async fn on_thread_create(ctx: &AuthContext, value: &mut ThreadsCreate) -> Filter { ... }
/// ```
///
/// - `async fn`, free (no `self`), not generic, no lifetime parameters.
/// - Exactly two parameters: the context `&AuthContext`, then the value as `&T` (to read it) or
///   `&mut T` (to change it). Patterns are names or `_`.
/// - The value type `T` is the narrowest that covers every event of the targets, or a wider one:
///
///   | targets | `T` may be |
///   |---|---|
///   | one event (`threads.create`, or `*.put` which only the store has) | its struct (`ThreadsCreate`), its resource's enum (`ThreadsValue`), `AuthValue` |
///   | one resource (`threads`), or several events of one resource | the resource's enum (`ThreadsValue`), `AuthValue` |
///   | `*`, no target, `*.action` of several resources, several resources | `AuthValue` |
///
///   The structs per event: threads → `ThreadsCreate`, `ThreadsRead`, `ThreadsUpdate`,
///   `ThreadsDelete`, `ThreadsSearch`, `RunsCreate` (`create_run`); assistants →
///   `AssistantsCreate` … `AssistantsSearch`; crons → `CronsCreate` … `CronsSearch`; store →
///   `StorePut`, `StoreGet`, `StoreSearch`, `StoreDelete`, `StoreListNamespaces`. The enums are
///   `ThreadsValue`, `AssistantsValue`, `CronsValue`, `StoreValue`. Type aliases work; a type
///   that does not fit is a compile error at the value's type.
/// - The return type is anything `auth` turns into a decision: `()` or `true` (allow), `false`
///   (403), `Filter` (allow, restricted), `Option<Filter>`, or a `Result<_, HttpException>` of
///   one of these (the error's status, detail and headers are answered).
///
/// # Accepted forms
///
/// ```ignore
/// #[auth::on]                                   // global: value: &mut AuthValue
/// #[auth::on(*)]                                // the same, written out
/// #[auth::on(threads)]                          // value: &mut ThreadsValue (or AuthValue)
/// #[auth::on(store.put)]                        // value: &mut StorePut (or StoreValue, AuthValue)
/// #[auth::on(*.read)]                           // threads, assistants and crons: &mut AuthValue
/// #[auth::on(*.list_namespaces)]                // only the store has it: &mut StoreListNamespaces
/// #[auth::on(threads.read, threads.search)]     // one resource: &mut ThreadsValue
/// #[auth::on(threads.create, assistants.create)]// several resources: &mut AuthValue
/// #[auth::on(threads.create, crate = "::my_auth")] // `auth` renamed in Cargo.toml
/// #[auth::on(threads.create, crate = my_auth)]  // the same without quotes
/// ```
///
/// # The equivalent code without the macro
///
/// The macro keeps the function exactly as written and adds, next to it, a shim with the
/// runtime's fixed signature (`auth::HandlerFn`) that projects the `AuthValue` to the declared
/// value type (which must fit the target), calls the function and converts its result; then it
/// registers the shim with the target(s), the function's name and its location. The shim is a
/// closure whose locals have mixed-site hygiene, so it names nothing a user's item could clash
/// with. Written by hand (with `auth` as the crate path; `__private_0_1_0` is the runtime's hidden
/// module, named after its version):
///
/// ```ignore
/// async fn on_thread_create(ctx: &AuthContext, value: &mut ThreadsCreate) -> Filter { ... }
///
/// const _: () = {
///     ::auth::__private_0_1_0::inventory::submit! {
///         ::auth::__private_0_1_0::authorize(
///             &[::auth::Target::Event(::auth::Resource::Threads, ::auth::Action::Create)],
///             |ctx, value| ::auth::__private_0_1_0::handler_future(async move {
///                 // compiles only if the declared type fits `threads.create`, whose narrowest
///                 // value type is `ThreadsCreate`
///                 let value = ::auth::__private_0_1_0::project_mut::<ThreadsCreate, ::auth::types::ThreadsCreate>(value)?;
///                 ::auth::__private_0_1_0::into_decision(on_thread_create(ctx, value).await)
///             }),
///             "on_thread_create",
///             ::core::module_path!(), ::core::file!(), ::core::line!(),
///         )
///     }
/// };
/// ```
///
/// Without the registry (tests, targets where link-time registration does not run), write the
/// shim as an `auth::HandlerFn` returning `auth::HandlerFuture::new(async { .. })` and register
/// it through `auth::Auth::builder().on(targets, name, shim)`.
///
/// # Errors
///
/// Every mistake is one compile error at the token to change, saying what to write: an unknown
/// resource or action (with the valid names and the closest one), an action the resource does
/// not have (`threads.put`), a target listed twice or covered by another, a function that is
/// not `async`, generic or a method, a missing or extra parameter, a value that is not a
/// reference, a value type that does not fit the targets. The function is then kept as written
/// and nothing is registered.
///
/// # Registration
///
/// Handlers are collected at link time. A crate whose items the binary never names is dropped by
/// the linker with its handlers: name it (`use my_handlers as _;`) and check the registry at
/// start-up (`auth::Auth::from_registry()` reports what it found).
#[proc_macro_attribute]
pub fn on(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::on(attr.into(), item.into()).into()
}

/// Registers an async function as the **authentication handler**: it runs first on every request
/// and returns the user, or an `HttpException` (e.g. 401) that ends the request.
///
/// # Grammar
///
/// ```text
/// #[auth::authenticate]
/// #[auth::authenticate(crate = path)]       where `auth` is when renamed (default `::auth`)
/// #[auth::authenticate(crate = "path")]
/// ```
///
/// # The function
///
/// - `async fn`, free (no `self`), not generic, no lifetime parameters.
/// - Its parameters are chosen **by name** (a leading `_` is ignored, so `_request` is
///   `request`), each at most once, in any order; zero parameters is fine:
///
///   | name | type |
///   |---|---|
///   | `request` | `&Request<'_>` |
///   | `body` | `Option<&serde_json::Value>` (the parsed JSON body) |
///   | `path` | `&str` |
///   | `method` | `&str` |
///   | `path_params` | `&Params` |
///   | `query_params` | `&Params` |
///   | `headers` | `&Headers<'_>` |
///   | `authorization` | `Option<&str>`, or `&str` (a missing header is then a 401 before the function runs) |
///
///   A parameter of another name is a compile error listing these; a type the runtime cannot
///   give for that name is a compile error at the type.
/// - It returns the user: `MinimalUser`, `AuthUser`, `String`, `&'static str`, a JSON object with
///   `"identity"`, anything implementing `auth::IntoAuthUser`, or a `Result<_, HttpException>`
///   of one of these.
///
/// There is one authentication handler per program: a second one is reported when the registry
/// is built.
///
/// # Accepted forms
///
/// ```ignore
/// #[auth::authenticate]
/// async fn anyone() -> MinimalUser { MinimalUser::new("anonymous") }
///
/// #[auth::authenticate]
/// async fn get_current_user(authorization: Option<&str>) -> Result<MinimalUser, HttpException> { ... }
///
/// #[auth::authenticate(crate = my_auth)]
/// async fn by_header(headers: &Headers<'_>, _path: &str) -> Result<AuthUser, HttpException> { ... }
/// ```
///
/// # The equivalent code without the macro
///
/// The function stays as written; a shim with the runtime's fixed signature extracts each
/// parameter by its name, calls the function and converts its result, and is registered:
///
/// ```ignore
/// async fn get_current_user(authorization: Option<&str>) -> Result<MinimalUser, HttpException> { ... }
///
/// const _: () = {
///     ::auth::__private_0_1_0::inventory::submit! {
///         ::auth::__private_0_1_0::authenticate(
///             |request| ::auth::__private_0_1_0::user_future(async move {
///                 let authorization = ::auth::__private_0_1_0::extract::<
///                     ::auth::__private_0_1_0::param::Authorization,
///                     Option<&str>,
///                 >(request)?;
///                 ::auth::__private_0_1_0::into_user(get_current_user(authorization).await)
///             }),
///             false, // whether the handler reads the body (takes `body` or `request`)
///             "get_current_user",
///             ::core::module_path!(), ::core::file!(), ::core::line!(),
///         )
///     }
/// };
/// ```
///
/// Without the registry, write the shim as an `auth::AuthenticateFn` returning
/// `auth::UserFuture::new(async { .. })` and pass it to
/// `auth::Auth::builder().authenticate(name, shim)`.
///
/// # Errors
///
/// One compile error per mistake, at the token to change: arguments other than `crate = ...`, a
/// function that is not `async`, generic or a method, an unknown parameter name (with the list and
/// the closest name), a name used twice, a parameter pattern that is not a name. The function is
/// then kept as written and nothing is registered.
#[proc_macro_attribute]
pub fn authenticate(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::authenticate(attr.into(), item.into()).into()
}

/// The vocabulary (resources, actions, events and their value types) as tokens for the
/// runtime's `macro_rules!` callback given as input: the runtime derives its enums, names and
/// event table from the table the macros check against. Not public API.
#[doc(hidden)]
#[proc_macro]
pub fn __vocabulary(input: TokenStream) -> TokenStream {
    vocab::table(input.into()).into()
}

/// The expansion of `auth::filter!`, which passes its own crate path first (`$crate; {..}`).
/// Not public API: use `auth::filter!`.
#[doc(hidden)]
#[proc_macro]
pub fn __filter(input: TokenStream) -> TokenStream {
    filter::expand_filter(input.into()).into()
}

/// `new()` and one `with_<field>` setter per public field of a value struct of `auth::types`
/// (see the `builders` module for the parameter rule). Not public API: the runtime derives it
/// on its own structs.
#[doc(hidden)]
#[proc_macro_derive(__Builders)]
pub fn __builders(input: TokenStream) -> TokenStream {
    builders::derive(input.into()).into()
}
