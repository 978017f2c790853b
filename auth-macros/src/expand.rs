//! Stage 4: the expansion. The user's function stays exactly as written; after it comes a
//! `const _: () = { ... };` holding a small shim with the runtime's fixed signature and one
//! `inventory::submit!` of the registration. Generated tokens that can fail to type-check are
//! spanned at the user's token they depend on (value type, context type, fn name, return type).

use proc_macro2::{Ident, Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::ItemFn;
use syn::ext::IdentExt;
use syn::spanned::Spanned;

use crate::attr::{AuthenticateArgs, OnArgs};
use crate::fallback::{self, Errors};
use crate::item;
use crate::paths::Paths;
use crate::valid::{self, AuthParam, OnParams};
use crate::vocab::{ACTIONS, RESOURCES, Scope, Target};

const ON: &str = "#[auth::on]";
const AUTHENTICATE: &str = "#[auth::authenticate]";

/// `#[on(attr)] item`: the expansion, or the item unchanged with the errors.
pub fn on(attr: TokenStream, item: TokenStream) -> TokenStream {
    on_checked(attr, item.clone()).unwrap_or_else(|e| fallback::item_with_errors(item, e))
}

/// `#[authenticate(attr)] item`: the expansion, or the item unchanged with the errors.
pub fn authenticate(attr: TokenStream, item: TokenStream) -> TokenStream {
    authenticate_checked(attr, item.clone()).unwrap_or_else(|e| fallback::item_with_errors(item, e))
}

pub(crate) fn on_checked(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let args = errors.ok(syn::parse2::<OnArgs>(attr));
    let targets = args
        .as_ref()
        .and_then(|a| errors.ok(valid::targets(&a.targets)));
    let f = match item::parse(item, ON) {
        Ok(f) => f,
        Err(e) => return Err(with(errors, e)),
    };
    valid::common(&f, ON, &mut errors);
    let scope = targets.as_deref().map(valid::scope);
    let described = args
        .as_ref()
        .map_or_else(String::new, |a| valid::describe(&a.targets));
    let params = valid::on_params(&f, scope, &described, &mut errors);
    match (args, targets, scope, params) {
        (Some(args), Some(targets), Some(scope), Some(params)) if errors.is_empty() => Ok(
            expand_on(&f, Paths::new(args.krate), &targets, scope, &params),
        ),
        _ => Err(into_error(errors)),
    }
}

pub(crate) fn authenticate_checked(
    attr: TokenStream,
    item: TokenStream,
) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let args = errors.ok(syn::parse2::<AuthenticateArgs>(attr));
    let f = match item::parse(item, AUTHENTICATE) {
        Ok(f) => f,
        Err(e) => return Err(with(errors, e)),
    };
    valid::common(&f, AUTHENTICATE, &mut errors);
    let params = valid::authenticate_params(&f, &mut errors);
    match (args, params) {
        (Some(args), Some(params)) if errors.is_empty() => {
            Ok(expand_authenticate(&f, Paths::new(args.krate), &params))
        }
        _ => Err(into_error(errors)),
    }
}

fn with(mut errors: Errors, error: syn::Error) -> syn::Error {
    errors.push(error);
    into_error(errors)
}

fn into_error(errors: Errors) -> syn::Error {
    // `valid` records an error whenever it declines to return a value, so the fallback message
    // is only a guard against a future mistake in this crate.
    errors.finish().err().unwrap_or_else(|| {
        syn::Error::new(
            Span::call_site(),
            "auth-macros could not check this handler (a bug in auth-macros: please report it)",
        )
    })
}

fn expand_on(
    f: &ItemFn,
    p: Paths,
    targets: &[Target],
    scope: Scope,
    params: &OnParams,
) -> TokenStream {
    let call_site = Span::mixed_site();
    let name = &f.sig.ident;
    let name_span = at(name.span());
    let name_str = name.unraw().to_string();
    let ty = &params.value_ty;
    let ty_span = at(ty.span());
    // `&AuthContext`: the referent, since only one token's span can be given on stable
    let ctx_span =
        at(item::as_reference(&params.ctx_ty)
            .map_or_else(|| params.ctx_ty.span(), |r| r.elem.span()));
    let out_span = at(item::output_span(f));

    let targets: Vec<TokenStream> = if targets.is_empty() {
        vec![target_tokens(&p, Target::Global)]
    } else {
        targets.iter().map(|t| target_tokens(&p, *t)).collect()
    };

    // the narrowest value type of the target: the projection compiles only if `#ty` fits it
    let marker = p.value_type(ty_span, scope.marker());
    let project = if params.mutable {
        p.project_mut(ty_span)
    } else {
        p.project_ref(ty_span)
    };
    let project =
        quote_spanned!(ty_span=> let __auth_value = #project::<#ty, #marker>(__auth_value)?;);
    let ctx_arg = quote_spanned!(ctx_span=> __auth_ctx);
    let call = quote_spanned!(name_span=> #name(#ctx_arg, __auth_value).await);
    let into_decision = p.decision(out_span);
    // the result is bound first so a result type without a decision is reported at `-> T`
    let decide = quote_spanned!(out_span=>
        let __auth_out = #call;
        #into_decision(__auth_out)
    );
    // spanned at the fn name: a future that is not `Send` is reported there
    let new_future = p.new_handler_future(name_span);
    let future = quote_spanned!(name_span=> #new_future(async move {
        #project
        #decide
    }));
    let location = location(name.span());

    let ctx_param = Ident::new("__auth_ctx", call_site);
    let value_param = Ident::new("__auth_value", call_site);
    let submit = p.submit(call_site);
    let authorize = p.authorize(call_site);
    let item = f;
    // The shim is a closure that the registration coerces to the runtime's fn type, not a fn
    // item: it names nothing that a user's item could shadow or be shadowed by, and its locals
    // have mixed-site hygiene.
    quote! {
        #item
        const _: () = {
            #submit! {
                #authorize(
                    &[#(#targets),*],
                    |#ctx_param, #value_param| #future,
                    #name_str,
                    #location,
                )
            }
        };
    }
}

fn expand_authenticate(f: &ItemFn, p: Paths, params: &[AuthParam]) -> TokenStream {
    let call_site = Span::mixed_site();
    let name = &f.sig.ident;
    let name_span = at(name.span());
    let name_str = name.unraw().to_string();
    let out_span = at(item::output_span(f));

    let extract_fn = p.extract(call_site);
    let mut locals = Vec::new();
    let mut extract = Vec::new();
    for (i, param) in params.iter().enumerate() {
        let ty = &param.ty;
        let span = at(ty.span());
        let local = quote::format_ident!("__auth_param_{}", i, span = span);
        let marker = p.param(span, param.marker);
        let extract_fn = crate::paths::respan(extract_fn.clone(), span);
        extract.push(
            quote_spanned!(span=> let #local = #extract_fn::<#marker, #ty>(__auth_request)?;),
        );
        locals.push(local);
    }
    let call = quote_spanned!(name_span=> #name(#(#locals),*).await);
    let into_user = p.user(out_span);
    let decide = quote_spanned!(out_span=>
        let __auth_out = #call;
        #into_user(__auth_out)
    );
    let new_future = p.new_user_future(name_span);
    let future = quote_spanned!(name_span=> #new_future(async move {
        #(#extract)*
        #decide
    }));
    let location = location(name.span());

    // A handler that takes the body (itself or through the request) needs the server to read it.
    let reads_body = params
        .iter()
        .any(|param| matches!(param.marker, "Body" | "Request"));
    let request_param = Ident::new("__auth_request", call_site);
    let submit = p.submit(call_site);
    let register = p.authenticate(call_site);
    quote! {
        #f
        const _: () = {
            #submit! {
                #register(
                    |#request_param| #future,
                    #reads_body,
                    #name_str,
                    #location,
                )
            }
        };
    }
}

/// The location of the user's token with the hygiene of the macro's call site: generated code
/// reports its errors at the user's token, while the shim's locals (`__auth_value`, ...) keep
/// resolving to each other even when that token comes from a `macro_rules!` expansion.
fn at(user: Span) -> Span {
    Span::mixed_site().located_at(user)
}

/// `module_path!(), file!(), line!()`, spanned at the fn name itself (its own hygiene included:
/// `line!()` reports the line of the outermost call site of its span, which for a name written
/// in the source is the fn's own line).
fn location(span: Span) -> TokenStream {
    quote_spanned!(span=> ::core::module_path!(), ::core::file!(), ::core::line!())
}

fn target_tokens(p: &Paths, target: Target) -> TokenStream {
    let s = Span::call_site();
    match target {
        Target::Global => p.target(s, "Global"),
        Target::Resource(r) => {
            let t = p.target(s, "Resource");
            let r = p.resource(s, RESOURCES[r].variant);
            quote!(#t(#r))
        }
        Target::Action(a) => {
            let t = p.target(s, "Action");
            let a = p.action(s, ACTIONS[a].variant);
            quote!(#t(#a))
        }
        Target::Event(e) => {
            let t = p.target(s, "Event");
            let r = p.resource(s, RESOURCES[e.resource].variant);
            let a = p.action(s, ACTIONS[e.action].variant);
            quote!(#t(#r, #a))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(s: &str) -> TokenStream {
        s.parse().unwrap()
    }

    /// The messages of every error of `#[on(attr)] item`, or the expansion as a string.
    fn on_(attr: &str, item: &str) -> Result<String, Vec<String>> {
        on_checked(tokens(attr), tokens(item))
            .map(|t| t.to_string())
            .map_err(|e| e.into_iter().map(|e| e.to_string()).collect())
    }

    fn on_err(attr: &str, item: &str) -> Vec<String> {
        match on_(attr, item) {
            Ok(t) => panic!("#[on({attr})] {item} expanded to {t}"),
            Err(e) => e,
        }
    }

    fn one_err(attr: &str, item: &str) -> String {
        let errors = on_err(attr, item);
        assert_eq!(errors.len(), 1, "{errors:?}");
        errors.into_iter().next().unwrap()
    }

    fn auth_(attr: &str, item: &str) -> Result<String, Vec<String>> {
        authenticate_checked(tokens(attr), tokens(item))
            .map(|t| t.to_string())
            .map_err(|e| e.into_iter().map(|e| e.to_string()).collect())
    }

    fn auth_err(item: &str) -> String {
        let errors = auth_("", item).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        errors.into_iter().next().unwrap()
    }

    const CREATE: &str = "async fn h(ctx: &AuthContext, value: &mut ThreadsCreate) {}";

    fn handler(value_ty: &str) -> String {
        format!("async fn h(ctx: &AuthContext, value: {value_ty}) -> bool {{ true }}")
    }

    #[test]
    fn unknown_resource_lists_them_and_suggests() {
        assert_eq!(
            one_err("thread.create", CREATE),
            "unknown resource `thread` (did you mean `threads`?); the resources are `threads`, `assistants`, `crons` and `store`"
        );
        assert!(one_err("Store", &handler("&mut StoreValue")).contains("did you mean `store`?"));
        assert!(one_err("runs", CREATE).contains("runs are authorized as `threads.create_run`"));
        let e = one_err("users", CREATE);
        assert!(
            e.starts_with("unknown resource `users`; the resources are"),
            "{e}"
        );
    }

    #[test]
    fn action_of_another_resource() {
        assert_eq!(
            one_err("threads.put", CREATE),
            "`threads` has no action `put` (`put` is an action of `store`); its actions are `create`, `read`, `update`, `delete`, `search` and `create_run`"
        );
        assert!(one_err("threads.craete", CREATE).contains("(did you mean `create`?)"));
        assert!(one_err("threads.get", CREATE).contains("(did you mean `read`?)"));
        assert!(one_err("store.read", CREATE).contains("(did you mean `get`?)"));
        assert!(
            one_err("store.list_namespace", CREATE).contains("(did you mean `list_namespaces`?)")
        );
        assert!(
            one_err("assistants.create_run", CREATE)
                .contains("(`create_run` is an action of `threads`)")
        );
    }

    #[test]
    fn star_action_must_exist() {
        let e = one_err("*.frobnicate", &handler("&mut AuthValue"));
        assert!(
            e.starts_with("unknown action `frobnicate`; the actions are `create`"),
            "{e}"
        );
        assert!(e.ends_with("`get` and `list_namespaces`"), "{e}");
        assert!(one_err("*.serch", &handler("&mut AuthValue")).contains("did you mean `search`"));
    }

    #[test]
    fn duplicates_and_implied_targets() {
        let v = handler("&mut ThreadsValue");
        assert_eq!(
            one_err("threads.read, threads.read", &v),
            "`threads.read` is listed twice: remove this one"
        );
        assert_eq!(
            one_err("threads, threads.read", &v),
            "`threads` already covers `threads.read`: remove `threads.read`"
        );
        assert_eq!(
            one_err("threads.read, threads", &v),
            "`threads` already covers `threads.read`: remove `threads.read`"
        );
        let any = handler("&mut AuthValue");
        assert_eq!(
            one_err("*, threads", &any),
            "`*` already covers `threads`: remove `threads`"
        );
        assert_eq!(
            one_err("*.read, crons.read", &any),
            "`*.read` already covers `crons.read`: remove `crons.read`"
        );
        let put = handler("&mut StorePut");
        assert_eq!(
            one_err("store.put, *.put", &put),
            "`store.put` already covers `*.put`: remove `*.put`"
        );
        // two narrower targets under a wider one: each is reported
        let errors = on_err("threads.read, threads.search, threads", &v);
        assert_eq!(errors.len(), 2, "{errors:?}");
        // overlapping but neither covers the other: fine
        assert!(on_("*.read, threads", &any).is_ok());
    }

    #[test]
    fn the_fn_must_be_a_free_async_fn() {
        assert_eq!(
            one_err(
                "threads.create",
                "fn h(ctx: &AuthContext, value: &mut ThreadsCreate) {}"
            ),
            "`#[auth::on]` handlers are async: write `async fn`"
        );
        assert!(
            one_err("", "async fn h<T>(ctx: &AuthContext, value: &mut T) {}")
                .starts_with("a handler cannot be generic")
        );
        assert!(
            one_err(
                "",
                "async fn h<'a>(ctx: &'a AuthContext, value: &'a mut AuthValue) {}"
            )
            .starts_with("a handler cannot have lifetime parameters")
        );
        assert!(
            one_err(
                "",
                "async fn h(ctx: &AuthContext, value: &mut AuthValue) where u8: Copy {}"
            )
            .starts_with("a handler cannot have a `where` clause")
        );
        assert_eq!(
            one_err(
                "threads.create",
                "async fn h(&self, ctx: &AuthContext, value: &mut ThreadsCreate) {}"
            ),
            "`#[auth::on]` handlers are free functions: remove `self` and move the fn out of the `impl`"
        );
        assert!(
            one_err(
                "",
                "async unsafe fn h(ctx: &AuthContext, value: &mut AuthValue) {}"
            )
            .contains("`unsafe`")
        );
        assert_eq!(
            one_err("", "struct S;"),
            "`#[auth::on]` goes on a free `async fn` with a body"
        );
    }

    #[test]
    fn missing_and_extra_parameters() {
        assert_eq!(
            one_err("threads.create", "async fn h() {}"),
            "an authorization handler takes two parameters: write `(ctx: &AuthContext, value: &mut ThreadsCreate)`"
        );
        assert_eq!(
            one_err("threads.create", "async fn h(ctx: &AuthContext) {}"),
            "add the value parameter after the context: `value: &mut ThreadsCreate`"
        );
        assert_eq!(
            one_err("threads", "async fn h(ctx: &AuthContext) {}"),
            "add the value parameter after the context: `value: &mut ThreadsValue`"
        );
        assert_eq!(
            one_err("threads.create", "async fn h(value: &mut ThreadsCreate) {}"),
            "add the context parameter before the value: `ctx: &AuthContext`"
        );
        assert_eq!(
            one_err(
                "threads.create",
                "async fn h(ctx: &AuthContext, value: &mut ThreadsCreate, extra: u8) {}"
            ),
            "an authorization handler takes exactly two parameters, the context and the value: remove this one"
        );
        assert!(
            one_err(
                "threads.create",
                "async fn h(ctx: &AuthContext, value: &mut ThreadsCreate, a: u8, b: u8) {}"
            )
            .ends_with("remove these")
        );
        assert_eq!(
            one_err(
                "threads.create",
                "async fn h(value: &mut ThreadsCreate, ctx: &AuthContext) {}"
            ),
            "the context comes first: write `(ctx: &AuthContext, value: &mut ThreadsCreate)`"
        );
        assert_eq!(
            one_err(
                "threads.create",
                "async fn h(ctx: AuthContext, value: &mut ThreadsCreate) {}"
            ),
            "the first parameter is the context: write `ctx: &AuthContext`"
        );
    }

    #[test]
    fn value_is_a_reference_with_a_simple_pattern() {
        assert_eq!(
            one_err("threads.create", &handler("ThreadsCreate")),
            "the value is borrowed: write `value: &mut ThreadsCreate` (or `&` to only read it)"
        );
        assert_eq!(
            one_err("threads.create", &handler("ThreadsRead")),
            "the value is borrowed: write `value: &mut ThreadsCreate` (or `&` to only read it)"
        );
        assert_eq!(
            one_err("threads.create", &handler("my::Alias")),
            "the value is borrowed: write `value: &mut my::Alias` (or `&` to only read it)"
        );
        assert_eq!(
            one_err(
                "threads.create",
                "async fn h(ctx: &AuthContext, (a, b): &mut ThreadsCreate) {}"
            ),
            "write a plain name (or `_`) for this parameter, e.g. `value`"
        );
        assert!(
            on_(
                "threads.create",
                "async fn h(_: &AuthContext, _: &mut ThreadsCreate) {}"
            )
            .is_ok()
        );
        assert!(
            on_(
                "threads.create",
                "async fn h(_ctx: &AuthContext, mut v: &ThreadsCreate) {}"
            )
            .is_ok()
        );
        assert!(
            one_err("threads.create", &handler("&mut impl Send"))
                .starts_with("write a concrete value type")
        );
    }

    #[test]
    fn value_type_must_fit_the_targets() {
        assert_eq!(
            one_err("threads.create", &handler("&mut ThreadsRead")),
            "`ThreadsRead` does not fit `threads.create`: write `&mut ThreadsCreate`, or the wider `&mut ThreadsValue` / `&mut AuthValue`"
        );
        assert_eq!(
            one_err("threads.create", &handler("&auth::types::ThreadsRead")),
            "`ThreadsRead` does not fit `threads.create`: write `&ThreadsCreate`, or the wider `&ThreadsValue` / `&AuthValue`"
        );
        assert_eq!(
            one_err("threads", &handler("&mut ThreadsCreate")),
            "`ThreadsCreate` does not fit `threads`, which covers several `threads` events: write `&mut ThreadsValue` or `&mut AuthValue`"
        );
        assert_eq!(
            one_err("threads.read, threads.search", &handler("&mut ThreadsRead")),
            "`ThreadsRead` does not fit `threads.read, threads.search`, which covers several `threads` events: write `&mut ThreadsValue` or `&mut AuthValue`"
        );
        assert_eq!(
            one_err("", &handler("&mut ThreadsValue")),
            "`ThreadsValue` does not fit `*`, which covers events of several resources: write `&mut AuthValue`"
        );
        assert!(
            one_err("*.read", &handler("&mut ThreadsValue")).contains("write `&mut AuthValue`")
        );
        assert!(
            one_err(
                "threads.create, assistants.create",
                &handler("&mut ThreadsValue")
            )
            .contains("several resources")
        );
        assert!(one_err("store", &handler("&mut ThreadsValue")).contains("`&mut StoreValue`"));
        for (attr, ty) in [
            ("threads.create", "ThreadsCreate"),
            ("threads.create", "ThreadsValue"),
            ("threads.create", "AuthValue"),
            ("threads.create_run", "RunsCreate"),
            ("threads", "ThreadsValue"),
            ("threads.read, threads.search", "ThreadsValue"),
            ("*.put", "StorePut"),
            ("*.list_namespaces", "StoreValue"),
            ("*.read", "AuthValue"),
            ("", "AuthValue"),
            ("*", "AuthValue"),
            ("threads.create", "MyAlias"),
            ("", "MyAlias"),
        ] {
            for borrow in ["&", "&mut "] {
                let r = on_(attr, &handler(&format!("{borrow}{ty}")));
                assert!(r.is_ok(), "#[on({attr})] {ty}: {r:?}");
            }
        }
    }

    #[test]
    fn several_mistakes_are_all_reported_once() {
        let errors = on_err("thread", "fn h<T>(ctx: &AuthContext, value: T) {}");
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert!(errors[0].starts_with("unknown resource"));
        assert!(errors[1].contains("write `async fn`"));
        assert!(errors[2].starts_with("a handler cannot be generic"));
        assert!(errors[3].starts_with("the value is borrowed"));
    }

    #[test]
    fn on_error_the_item_is_kept_and_nothing_is_registered() {
        let item = "fn h(ctx: &AuthContext, value: &mut ThreadsCreate) {}";
        let out = on(tokens("threads.create"), tokens(item)).to_string();
        assert!(out.starts_with(&tokens(item).to_string()), "{out}");
        assert_eq!(out.matches("compile_error").count(), 1, "{out}");
        assert!(!out.contains("submit"), "{out}");
        let out = authenticate(tokens("x"), tokens("async fn a() {}")).to_string();
        assert!(
            out.contains("compile_error") && !out.contains("submit"),
            "{out}"
        );
    }

    #[test]
    fn on_expansion() {
        let out = on_("threads.create", CREATE).unwrap();
        assert!(out.starts_with(&tokens(CREATE).to_string()), "{out}");
        for piece in [
            "const _ : () =",
            "| __auth_ctx , __auth_value | :: auth :: __private_0_1_0 :: handler_future (async move {",
            "let __auth_value = :: auth :: __private_0_1_0 :: project_mut :: < ThreadsCreate , :: auth :: types :: ThreadsCreate > (__auth_value) ? ;",
            "let __auth_out = h (__auth_ctx , __auth_value) . await ; :: auth :: __private_0_1_0 :: into_decision (__auth_out)",
            ":: auth :: __private_0_1_0 :: inventory :: submit !",
            ":: auth :: __private_0_1_0 :: authorize (& [:: auth :: Target :: Event (:: auth :: Resource :: Threads , :: auth :: Action :: Create)] , | __auth_ctx , __auth_value |",
            "}) , \"h\" , :: core :: module_path ! () , :: core :: file ! () , :: core :: line ! () ,)",
        ] {
            assert!(out.contains(piece), "missing {piece}\nin {out}");
        }
        assert_eq!(out.matches("submit").count(), 1);

        let out = on_("", &handler("&AuthValue")).unwrap();
        assert!(
            out.contains("project_ref :: < AuthValue , :: auth :: types :: AuthValue >"),
            "{out}"
        );
        assert!(out.contains("& [:: auth :: Target :: Global]"), "{out}");

        let out = on_(
            "threads, *.read, crate = \"my_auth\"",
            &handler("&mut AuthValue"),
        )
        .unwrap();
        assert!(!out.contains(":: auth ::"), "{out}");
        assert!(out.contains("& [my_auth :: Target :: Resource (my_auth :: Resource :: Threads) , my_auth :: Target :: Action (my_auth :: Action :: Read)]"), "{out}");

        let out = on_(
            "threads.read, threads.search",
            &handler("&mut ThreadsValue"),
        )
        .unwrap();
        assert!(out.contains(":: auth :: types :: ThreadsValue >"), "{out}");
        let out = on_("*.get", &handler("&mut StoreGet")).unwrap();
        assert!(out.contains(":: auth :: types :: StoreGet >"), "{out}");
        let out = on_(
            "threads.create_run",
            "async fn r#run(_: &AuthContext, _: &mut RunsCreate) {}",
        )
        .unwrap();
        assert!(out.contains("\"run\""), "{out}");
        assert!(out.contains("Action :: CreateRun"), "{out}");
    }

    #[test]
    fn authenticate_parameters_by_name() {
        let out = auth_(
            "",
            "async fn get_user(_request: &Request, authorization: Option<&str>, mut headers: &Headers) -> String { todo!() }",
        )
        .unwrap();
        for piece in [
            "| __auth_request | :: auth :: __private_0_1_0 :: user_future (async move {",
            "let __auth_param_0 = :: auth :: __private_0_1_0 :: extract :: < :: auth :: __private_0_1_0 :: param :: Request , & Request > (__auth_request) ? ;",
            "let __auth_param_1 = :: auth :: __private_0_1_0 :: extract :: < :: auth :: __private_0_1_0 :: param :: Authorization , Option < & str > > (__auth_request) ? ;",
            "param :: Headers , & Headers >",
            "let __auth_out = get_user (__auth_param_0 , __auth_param_1 , __auth_param_2) . await ; :: auth :: __private_0_1_0 :: into_user (__auth_out)",
            ":: auth :: __private_0_1_0 :: authenticate (| __auth_request |",
            "}) , true , \"get_user\" , :: core :: module_path ! () , :: core :: file ! () , :: core :: line ! () ,)",
        ] {
            assert!(out.contains(piece), "missing {piece}\nin {out}");
        }
        let every = "async fn a(request: &Request, body: Option<&Value>, path: &str, method: &str, path_params: &Params, query_params: &Params, headers: &Headers, authorization: &str) {}";
        let out = auth_("crate = ::renamed", every).unwrap();
        for marker in [
            "Request",
            "Body",
            "Path",
            "Method",
            "PathParams",
            "QueryParams",
            "Headers",
            "Authorization",
        ] {
            assert!(
                out.contains(&format!(
                    ":: renamed :: __private_0_1_0 :: param :: {marker} ,"
                )),
                "{marker}: {out}"
            );
        }
        assert!(
            auth_("", "async fn a() -> &'static str { \"x\" }")
                .unwrap()
                .contains("let __auth_out = a () . await ;")
        );
    }

    #[test]
    fn authenticate_errors() {
        assert_eq!(
            auth_err("async fn a(autorization: Option<&str>) {}"),
            "unknown parameter `autorization` (did you mean `authorization`?): authenticate receives its parameters by name, one of `request`, `body`, `path`, `method`, `path_params`, `query_params`, `headers` and `authorization`"
        );
        assert!(auth_err("async fn a(token: &str) {}").starts_with("unknown parameter `token`: "));
        assert!(auth_err("async fn a(_headrs: &Headers) {}").contains("did you mean `headers`?"));
        assert_eq!(
            auth_err("async fn a(request: &Request, _request: &Request) {}"),
            "`_request` receives `request`, which `request` already receives (a leading `_` is ignored): remove this parameter"
        );
        assert_eq!(
            auth_err("async fn a(_request: &Request, r#request: &Request) {}"),
            "`request` receives `request`, which `_request` already receives (a leading `_` is ignored): remove this parameter"
        );
        assert_eq!(
            auth_err("async fn a(path: &str, path: &str) {}"),
            "`path` is received twice: remove this parameter"
        );
        assert!(
            auth_err("async fn a(_: &Request) {}")
                .starts_with("name this parameter after what it receives")
        );
        assert!(auth_err("async fn a((x, y): (u8, u8)) {}").starts_with("name this parameter"));
        assert_eq!(
            auth_err("fn a() {}"),
            "`#[auth::authenticate]` handlers are async: write `async fn`"
        );
        assert!(
            auth_err("async fn a<'a>(path: &'a str) {}")
                .starts_with("a handler cannot have lifetime parameters")
        );
        assert!(auth_err("async fn a(&self) {}").contains("handlers are free functions"));
        let errors = auth_("threads", "fn a(x: u8) {}").unwrap_err();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].contains("takes no arguments"));
    }
}
