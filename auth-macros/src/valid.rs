//! Stage 3: checks against the vocabulary and the handler rules. Every error is spanned at the
//! token to change and says what to write instead.

use quote::ToTokens;
use syn::ext::IdentExt;
use syn::{FnArg, Ident, ItemFn, PatType, Type};

use crate::attr::{Head, RawTarget};
use crate::fallback::Errors;
use crate::item;
use crate::vocab::{self, ACTIONS, AUTH_PARAMS, Event, RESOURCES, Scope, Target};

// ---------------------------------------------------------------------------------------------
// targets

/// Checks every target's names, then targets listed twice or implied by another one (the error
/// goes on the one to remove).
pub fn targets(raw: &[RawTarget]) -> syn::Result<Vec<Target>> {
    let mut errors = Errors::default();
    let mut kept: Vec<(Target, &RawTarget)> = Vec::new();
    for r in raw {
        let Some(t) = errors.ok(target(r)) else {
            continue;
        };
        if kept.iter().any(|(s, _)| *s == t) {
            errors.push(syn::Error::new_spanned(
                r,
                format!("`{}` is listed twice: remove this one", r.text()),
            ));
        } else if let Some((_, sr)) = kept.iter().find(|(s, _)| t.mask() & !s.mask() == 0) {
            errors.push(covered(sr, r));
        } else {
            kept.retain(|(s, sr)| {
                let implied = s.mask() & !t.mask() == 0;
                if implied {
                    errors.push(covered(r, sr));
                }
                !implied
            });
            kept.push((t, r));
        }
    }
    errors.finish()?;
    Ok(kept.into_iter().map(|(t, _)| t).collect())
}

/// `wide` already covers `narrow`: spanned at `narrow`.
fn covered(wide: &RawTarget, narrow: &RawTarget) -> syn::Error {
    syn::Error::new_spanned(
        narrow,
        format!(
            "`{}` already covers `{}`: remove `{}`",
            wide.text(),
            narrow.text(),
            narrow.text()
        ),
    )
}

fn target(raw: &RawTarget) -> syn::Result<Target> {
    let action = raw.action.as_ref().map(|(_, a)| (a, a.unraw().to_string()));
    match &raw.head {
        Head::Star(_) => match action {
            None => Ok(Target::Global),
            Some((ident, name)) => vocab::action_named(&name)
                .map(Target::Action)
                .ok_or_else(|| unknown_action(ident, &name)),
        },
        Head::Resource(ident) => {
            let name = ident.unraw().to_string();
            let r = vocab::resource_named(&name).ok_or_else(|| unknown_resource(ident, &name))?;
            match action {
                None => Ok(Target::Resource(r)),
                Some((ident, action)) => match vocab::action_named(&action) {
                    Some(a) if vocab::has_action(r, a) => Ok(Target::Event(Event {
                        resource: r,
                        action: a,
                    })),
                    found => Err(wrong_action(ident, &action, r, found)),
                },
            }
        }
    }
}

fn unknown_resource(ident: &Ident, name: &str) -> syn::Error {
    let names: Vec<&str> = RESOURCES.iter().map(|r| r.name).collect();
    let hint = if matches!(name, "run" | "runs") {
        " (runs are authorized as `threads.create_run`)".to_owned()
    } else {
        did_you_mean(name, &names)
    };
    syn::Error::new(
        ident.span(),
        format!(
            "unknown resource `{name}`{hint}; the resources are {}",
            list(&names)
        ),
    )
}

fn unknown_action(ident: &Ident, name: &str) -> syn::Error {
    let names: Vec<&str> = ACTIONS.iter().map(|a| a.name).collect();
    syn::Error::new(
        ident.span(),
        format!(
            "unknown action `{name}`{}; the actions are {}",
            did_you_mean(name, &names),
            list(&names)
        ),
    )
}

fn wrong_action(ident: &Ident, name: &str, resource: usize, found: Option<usize>) -> syn::Error {
    let r = &RESOURCES[resource];
    let names: Vec<&str> = r.events.iter().map(|e| ACTIONS[e.action].name).collect();
    let mut hint = did_you_mean(name, &names);
    if hint.is_empty() {
        let synonym = match name {
            "get" => "read",
            "read" => "get",
            _ => "",
        };
        if names.contains(&synonym) {
            hint = format!(" (did you mean `{synonym}`?)");
        } else if let Some(a) = found {
            let owners: Vec<&str> = RESOURCES
                .iter()
                .filter(|o| o.events.iter().any(|e| e.action == a))
                .map(|o| o.name)
                .collect();
            hint = format!(" (`{name}` is an action of {})", list(&owners));
        }
    }
    syn::Error::new(
        ident.span(),
        format!(
            "`{}` has no action `{name}`{hint}; its actions are {}",
            r.name,
            list(&names)
        ),
    )
}

/// The attribute's targets as written, for messages.
pub fn describe(raw: &[RawTarget]) -> String {
    if raw.is_empty() {
        "`*`".to_owned()
    } else {
        let texts: Vec<String> = raw.iter().map(RawTarget::text).collect();
        format!("`{}`", texts.join(", "))
    }
}

/// The scope of a set of (valid) targets; an empty set is the global handler.
pub fn scope(targets: &[Target]) -> Scope {
    if targets.is_empty() {
        return Scope::Any;
    }
    Scope::of(targets.iter().fold(0, |m, t| m | t.mask()))
}

// ---------------------------------------------------------------------------------------------
// the function, for both macros

/// `async`, not `unsafe`/`const`/`extern`, no generics, no `self`.
pub fn common(f: &ItemFn, macro_name: &str, errors: &mut Errors) {
    let sig = &f.sig;
    if let Some(c) = &sig.constness {
        errors.push(syn::Error::new(
            c.span,
            "a handler cannot be `const`: remove `const`",
        ));
    }
    if sig.asyncness.is_none() {
        errors.push(syn::Error::new(
            sig.fn_token.span,
            format!("`{macro_name}` handlers are async: write `async fn`"),
        ));
    }
    if let Some(u) = &sig.unsafety {
        errors.push(syn::Error::new(
            u.span,
            "a handler cannot be `unsafe`: remove `unsafe`",
        ));
    }
    if let Some(abi) = &sig.abi {
        errors.push(syn::Error::new_spanned(
            abi,
            "a handler uses the Rust ABI: remove `extern`",
        ));
    }
    if !sig.generics.params.is_empty() {
        let only_lifetimes = sig
            .generics
            .params
            .iter()
            .all(|p| matches!(p, syn::GenericParam::Lifetime(_)));
        let message = if only_lifetimes {
            "a handler cannot have lifetime parameters: remove them and leave the lifetimes elided, e.g. `ctx: &AuthContext`"
        } else {
            "a handler cannot be generic: remove the generic parameters and write the concrete types"
        };
        errors.push(syn::Error::new_spanned(&sig.generics, message));
    }
    if let Some(w) = &sig.generics.where_clause {
        errors.push(syn::Error::new_spanned(
            w,
            "a handler cannot have a `where` clause: remove it and write the concrete types",
        ));
    }
    if let Some(v) = &sig.variadic {
        errors.push(syn::Error::new_spanned(v, "a handler cannot be variadic"));
    }
    for arg in &sig.inputs {
        if let FnArg::Receiver(r) = arg {
            errors.push(syn::Error::new_spanned(
                r,
                format!(
                    "`{macro_name}` handlers are free functions: remove `self` and move the fn out of the `impl`"
                ),
            ));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// #[on]

/// The checked parameters of an authorization handler.
pub struct OnParams {
    /// The declared context type (`&AuthContext`).
    pub ctx_ty: Type,
    /// The value type without its reference (`ThreadsCreate`).
    pub value_ty: Type,
    /// `&mut T` rather than `&T`.
    pub mutable: bool,
}

/// Checks the two parameters. `scope` is `None` when the targets had errors (then the value
/// type is not checked against them).
pub fn on_params(
    f: &ItemFn,
    scope: Option<Scope>,
    described: &str,
    errors: &mut Errors,
) -> Option<OnParams> {
    let params = item::typed_params(f);
    let value_suggestion = match scope {
        Some(s) => format!("&mut {}", s.fitting()[0]),
        None => "&mut AuthValue".to_owned(),
    };
    let is_ctx = |p: &PatType| item::last_segment(&p.ty).as_deref() == Some("AuthContext");
    let is_value = |p: &PatType| {
        item::last_segment(&p.ty).is_some_and(|n| vocab::is_value_type(&n))
            || item::as_reference(&p.ty).is_some_and(|r| r.mutability.is_some())
    };
    let (ctx, value) = match params.as_slice() {
        [] => {
            errors.push(syn::Error::new(
                item::params_span(f),
                format!(
                    "an authorization handler takes two parameters: write `(ctx: &AuthContext, value: {value_suggestion})`"
                ),
            ));
            return None;
        }
        [one] => {
            let message = if is_ctx(one) {
                format!("add the value parameter after the context: `value: {value_suggestion}`")
            } else if is_value(one) {
                "add the context parameter before the value: `ctx: &AuthContext`".to_owned()
            } else {
                format!(
                    "an authorization handler takes two parameters: write `(ctx: &AuthContext, value: {value_suggestion})`"
                )
            };
            errors.push(syn::Error::new(item::params_span(f), message));
            return None;
        }
        [ctx, value, extra @ ..] => {
            if !extra.is_empty() {
                let tokens: proc_macro2::TokenStream =
                    extra.iter().map(|p| p.to_token_stream()).collect();
                let these = if extra.len() == 1 {
                    "this one"
                } else {
                    "these"
                };
                errors.push(syn::Error::new_spanned(
                    tokens,
                    format!(
                        "an authorization handler takes exactly two parameters, the context and the value: remove {these}"
                    ),
                ));
            }
            (*ctx, *value)
        }
    };
    let mut ok = true;
    for (p, name) in [(ctx, "ctx"), (value, "value")] {
        if !item::is_simple_pat(&p.pat) {
            errors.push(syn::Error::new_spanned(
                &p.pat,
                format!("write a plain name (or `_`) for this parameter, e.g. `{name}`"),
            ));
            ok = false;
        }
    }
    if is_value(ctx) && is_ctx(value) {
        let tokens = quote::quote!(#ctx, #value);
        errors.push(syn::Error::new_spanned(
            tokens,
            format!(
                "the context comes first: write `(ctx: &AuthContext, value: {})`",
                type_text(&ctx.ty, true)
            ),
        ));
        return None;
    }
    if item::as_reference(&ctx.ty).is_none() || is_value(ctx) {
        errors.push(syn::Error::new_spanned(
            &ctx.ty,
            "the first parameter is the context: write `ctx: &AuthContext`",
        ));
        ok = false;
    }
    let value_name = item::pat_ident(&value.pat).map_or("value".to_owned(), |i| i.to_string());
    let Some(reference) = item::as_reference(&value.ty) else {
        let suggestion = match item::last_segment(&value.ty) {
            Some(n) if !vocab::is_value_type(&n) || fits(&n, scope) => {
                format!("&mut {}", type_text(&value.ty, false))
            }
            _ => value_suggestion,
        };
        errors.push(syn::Error::new_spanned(
            &value.ty,
            format!(
                "the value is borrowed: write `{value_name}: {suggestion}` (or `&` to only read it)"
            ),
        ));
        return None;
    };
    let mutable = reference.mutability.is_some();
    let borrow = if mutable { "&mut " } else { "&" };
    if item::is_impl_trait(&value.ty) {
        errors.push(syn::Error::new_spanned(
            &reference.elem,
            format!("write a concrete value type, e.g. `{value_name}: {value_suggestion}`"),
        ));
        ok = false;
    } else if let (Some(scope), Some(name)) = (scope, item::last_segment(&value.ty)) {
        if vocab::is_value_type(&name) && !fits(&name, Some(scope)) {
            errors.push(syn::Error::new_spanned(
                &reference.elem,
                misfit(&name, scope, described, borrow),
            ));
            ok = false;
        }
    }
    ok.then(|| OnParams {
        ctx_ty: ctx.ty.as_ref().clone(),
        value_ty: reference.elem.as_ref().clone(),
        mutable,
    })
}

fn fits(name: &str, scope: Option<Scope>) -> bool {
    scope.is_none_or(|s| s.fitting().contains(&name))
}

fn misfit(name: &str, scope: Scope, described: &str, borrow: &str) -> String {
    let fitting: Vec<String> = scope
        .fitting()
        .iter()
        .map(|t| format!("`{borrow}{t}`"))
        .collect();
    match scope {
        Scope::Event(_) => format!(
            "`{name}` does not fit {described}: write {}, or the wider {}",
            fitting[0],
            fitting[1..].join(" / ")
        ),
        Scope::Resource(r) => format!(
            "`{name}` does not fit {described}, which covers several `{}` events: write {}",
            RESOURCES[r].name,
            fitting.join(" or ")
        ),
        Scope::Any => format!(
            "`{name}` does not fit {described}, which covers events of several resources: write {}",
            fitting[0]
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// #[authenticate]

/// A checked parameter of the authenticate handler: its marker in `__private::param` and type.
pub struct AuthParam {
    pub marker: &'static str,
    pub ty: Type,
}

/// Checks the parameters' names: each is one of [`AUTH_PARAMS`] (a leading `_` ignored), once.
pub fn authenticate_params(f: &ItemFn, errors: &mut Errors) -> Option<Vec<AuthParam>> {
    let names: Vec<&str> = AUTH_PARAMS.iter().map(|(n, _, _)| *n).collect();
    let mut seen: Vec<(&str, &Ident)> = Vec::new();
    let mut out = Vec::new();
    let mut failed = false;
    for p in item::typed_params(f) {
        let Some(ident) = item::pat_ident(&p.pat) else {
            errors.push(syn::Error::new_spanned(
                &p.pat,
                format!(
                    "name this parameter after what it receives: one of {}",
                    list(&names)
                ),
            ));
            failed = true;
            continue;
        };
        let written = ident.unraw().to_string();
        let name = written
            .strip_prefix('_')
            .filter(|n| !n.is_empty())
            .unwrap_or(&written);
        let Some((known, marker, _)) = AUTH_PARAMS.iter().find(|(n, _, _)| *n == name) else {
            errors.push(syn::Error::new(
                ident.span(),
                format!(
                    "unknown parameter `{written}`{}: authenticate receives its parameters by name, one of {}",
                    did_you_mean(name, &names),
                    list(&names)
                ),
            ));
            failed = true;
            continue;
        };
        if let Some((_, first)) = seen.iter().find(|(n, _)| n == known) {
            let message = if first.unraw() == ident.unraw() {
                format!("`{known}` is received twice: remove this parameter")
            } else {
                format!(
                    "`{written}` receives `{known}`, which `{}` already receives (a leading `_` is ignored): remove this parameter",
                    first.unraw()
                )
            };
            errors.push(syn::Error::new(ident.span(), message));
            failed = true;
            continue;
        }
        seen.push((known, ident));
        if item::is_impl_trait(&p.ty) {
            let ty = AUTH_PARAMS
                .iter()
                .find(|(n, _, _)| n == known)
                .map_or("", |t| t.2);
            errors.push(syn::Error::new_spanned(
                &p.ty,
                format!("write a concrete type, e.g. `{written}: {ty}`"),
            ));
            failed = true;
            continue;
        }
        out.push(AuthParam {
            marker,
            ty: p.ty.as_ref().clone(),
        });
    }
    (!failed).then_some(out)
}

// ---------------------------------------------------------------------------------------------
// helpers

/// `` `a`, `b` and `c` ``
fn list(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// `" (did you mean `x`?)"` for the closest candidate, or `""` if none is close.
fn did_you_mean(name: &str, candidates: &[&str]) -> String {
    closest(name, candidates).map_or_else(String::new, |c| format!(" (did you mean `{c}`?)"))
}

fn closest<'a>(name: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let lower = name.to_lowercase().replace('-', "_");
    let limit = (lower.chars().count() / 3).max(1);
    candidates
        .iter()
        .map(|c| (edit_distance(&lower, c), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance with adjacent transpositions counted as one edit.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    d[0] = (0..=b.len()).collect();
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// A type as the user would write it (`&mut auth::types::ThreadsCreate`), for messages;
/// `through_ref == false` strips a leading reference.
fn type_text(ty: &Type, through_ref: bool) -> String {
    let ty = match (through_ref, item::as_reference(ty)) {
        (false, Some(r)) => r.elem.as_ref(),
        _ => ty,
    };
    let raw = ty.to_token_stream().to_string();
    raw.replace(" :: ", "::")
        .replace(":: ", "::")
        .replace(" < ", "<")
        .replace("< ", "<")
        .replace(" >", ">")
        .replace(" ,", ",")
        .replace("& ", "&")
}
