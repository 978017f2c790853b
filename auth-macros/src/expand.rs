//! Stage 4: the expansion. The user's function stays exactly as written; after it comes a
//! `const _: () = { ... };` holding a small shim with the runtime's fixed signature and one
//! `inventory::submit!` of the registration. Generated tokens that can fail to type-check are
//! spanned at the user's token they depend on (value type, context type, fn name, return type).

use proc_macro2::{Span, TokenStream};
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
    let f = match item::parse(item, ON) {
        Ok(f) => f,
        Err(e) => return Err(with(errors, e)),
    };
    valid::common(&f, ON, &mut errors);
    let targets = args
        .as_ref()
        .and_then(|a| errors.ok(valid::targets(&a.targets)));
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
    let call_site = Span::call_site();
    let name = &f.sig.ident;
    let name_span = name.span();
    let name_str = name.unraw().to_string();
    let ty = &params.value_ty;
    let ty_span = ty.span();
    let ctx_span = params.ctx_ty.span();
    let out_span = item::output_span(f);

    let targets: Vec<TokenStream> = if targets.is_empty() {
        vec![target_tokens(&p, Target::Global)]
    } else {
        targets.iter().map(|t| target_tokens(&p, *t)).collect()
    };

    let assert_fits = p.assert_fits(ty_span);
    let marker = p.ev(ty_span, scope.marker());
    let fits = quote_spanned!(ty_span=> #assert_fits::<#ty, #marker>(););
    let project = if params.mutable {
        p.project_mut(ty_span)
    } else {
        p.project_ref(ty_span)
    };
    let project = quote_spanned!(ty_span=> let __auth_value = #project::<#ty>(__auth_value)?;);
    let ctx_arg = quote_spanned!(ctx_span=> __auth_ctx);
    let call = quote_spanned!(name_span=> #name(#ctx_arg, __auth_value).await);
    let into_decision = p.into_decision(out_span);
    let decide = quote_spanned!(out_span=> #into_decision(#call));
    let location = location(name_span);

    let auth_context = p.auth_context(call_site);
    let auth_value = p.auth_value(call_site);
    let handler_future = p.handler_future(call_site);
    let boxed = p.boxed(call_site);
    let submit = p.submit(call_site);
    let authorize = p.authorize(call_site);
    let item = f;
    quote! {
        #item
        const _: () = {
            fn __auth_handler<'a>(
                __auth_ctx: &'a #auth_context<'a>,
                __auth_value: &'a mut #auth_value,
            ) -> #handler_future<'a> {
                #fits
                #boxed::pin(async move {
                    #project
                    #decide
                })
            }
            #submit! {
                #authorize(&[#(#targets),*], __auth_handler, #name_str, #location)
            }
        };
    }
}

fn expand_authenticate(f: &ItemFn, p: Paths, params: &[AuthParam]) -> TokenStream {
    let call_site = Span::call_site();
    let name = &f.sig.ident;
    let name_span = name.span();
    let name_str = name.unraw().to_string();
    let out_span = item::output_span(f);

    let extract_fn = p.extract(call_site);
    let mut locals = Vec::new();
    let mut extract = Vec::new();
    for (i, param) in params.iter().enumerate() {
        let ty = &param.ty;
        let span = ty.span();
        let local = quote::format_ident!("__auth_param_{}", i, span = span);
        let marker = p.param(span, param.marker);
        let extract_fn = crate::paths::respan(extract_fn.clone(), span);
        extract.push(
            quote_spanned!(span=> let #local = #extract_fn::<#marker, #ty>(__auth_request)?;),
        );
        locals.push(local);
    }
    let call = quote_spanned!(name_span=> #name(#(#locals),*).await);
    let into_user = p.into_user(out_span);
    let decide = quote_spanned!(out_span=> #into_user(#call));
    let location = location(name_span);

    let request = p.request(call_site);
    let user_future = p.user_future(call_site);
    let boxed = p.boxed(call_site);
    let submit = p.submit(call_site);
    let register = p.authenticate(call_site);
    quote! {
        #f
        const _: () = {
            fn __auth_authenticate<'a>(
                __auth_request: &'a #request<'a>,
            ) -> #user_future<'a> {
                #boxed::pin(async move {
                    #(#extract)*
                    #decide
                })
            }
            #submit! {
                #register(__auth_authenticate, #name_str, #location)
            }
        };
    }
}

/// `module_path!(), file!(), line!()`, spanned at the fn name so `line!()` gives the fn's line.
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
