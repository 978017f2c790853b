//! Stage 2: the item the attribute is on, and small questions about its signature.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{FnArg, Ident, Item, ItemFn, Pat, PatType, Type, TypeReference};

/// Parses the item as a free `fn` with a body; `macro_name` is used in the message.
pub fn parse(item: TokenStream, macro_name: &str) -> syn::Result<ItemFn> {
    let what = "goes on a free `async fn` with a body";
    match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Fn(f)) => Ok(f),
        Ok(other) => {
            let first = other.to_token_stream().into_iter().next();
            let span = first.map_or_else(proc_macro2::Span::call_site, |t| t.span());
            Err(syn::Error::new(span, format!("`{macro_name}` {what}")))
        }
        Err(_) => {
            let span = item
                .into_iter()
                .next()
                .map_or_else(proc_macro2::Span::call_site, |t| t.span());
            Err(syn::Error::new(span, format!("`{macro_name}` {what}")))
        }
    }
}

/// The typed parameters (receivers are reported separately by `valid`).
pub fn typed_params(f: &ItemFn) -> Vec<&PatType> {
    f.sig
        .inputs
        .iter()
        .filter_map(|arg| match arg {
            FnArg::Typed(p) => Some(p),
            FnArg::Receiver(_) => None,
        })
        .collect()
}

/// The pattern's binding when it is a plain name (`x`, `mut x`); `None` for `_` and for other
/// patterns (see [`is_simple_pat`]).
pub fn pat_ident(pat: &Pat) -> Option<&Ident> {
    match pat {
        Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => Some(&p.ident),
        _ => None,
    }
}

/// A name or `_`.
pub fn is_simple_pat(pat: &Pat) -> bool {
    matches!(pat, Pat::Wild(_)) || pat_ident(pat).is_some()
}

/// Strips the invisible groups and parentheses that macros may wrap a type in.
pub fn unwrap_type(mut ty: &Type) -> &Type {
    loop {
        match ty {
            Type::Group(g) => ty = &g.elem,
            Type::Paren(p) => ty = &p.elem,
            _ => return ty,
        }
    }
}

pub fn as_reference(ty: &Type) -> Option<&TypeReference> {
    match unwrap_type(ty) {
        Type::Reference(r) => Some(r),
        _ => None,
    }
}

/// The last path segment's name of a plain path type (`auth::types::ThreadsRead` →
/// `ThreadsRead`), looking through one reference.
pub fn last_segment(ty: &Type) -> Option<String> {
    let ty = match as_reference(ty) {
        Some(r) => unwrap_type(&r.elem),
        None => unwrap_type(ty),
    };
    match ty {
        Type::Path(p) if p.qself.is_none() => {
            p.path.segments.last().map(|s| s.ident.unraw().to_string())
        }
        _ => None,
    }
}

/// Whether the type (or what it borrows) is `impl Trait`.
pub fn is_impl_trait(ty: &Type) -> bool {
    let ty = match as_reference(ty) {
        Some(r) => unwrap_type(&r.elem),
        None => unwrap_type(ty),
    };
    matches!(ty, Type::ImplTrait(_))
}

/// Span of the parentheses around the parameters.
pub fn params_span(f: &ItemFn) -> proc_macro2::Span {
    f.sig.paren_token.span.join()
}

/// The span the result conversion is reported at: the return type, or the fn name when there
/// is none.
pub fn output_span(f: &ItemFn) -> proc_macro2::Span {
    match &f.sig.output {
        syn::ReturnType::Type(_, ty) => ty.span(),
        syn::ReturnType::Default => f.sig.ident.span(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(s: &str) -> Type {
        syn::parse_str(s).unwrap()
    }

    #[test]
    fn only_free_fns_with_a_body() {
        assert!(
            parse(
                quote::quote!(
                    async fn f() {}
                ),
                "#[auth::on]"
            )
            .is_ok()
        );
        let e = parse(
            quote::quote!(
                struct S;
            ),
            "#[auth::on]",
        )
        .err()
        .unwrap();
        assert_eq!(
            e.to_string(),
            "`#[auth::on]` goes on a free `async fn` with a body"
        );
        let e = parse(
            quote::quote!(
                async fn f();
            ),
            "#[auth::on]",
        )
        .err()
        .unwrap();
        assert!(e.to_string().contains("with a body"));
    }

    #[test]
    fn type_questions() {
        assert_eq!(
            last_segment(&ty("&mut auth::types::ThreadsRead")).as_deref(),
            Some("ThreadsRead")
        );
        assert_eq!(last_segment(&ty("AuthValue")).as_deref(), Some("AuthValue"));
        assert_eq!(last_segment(&ty("&[u8]")), None);
        assert_eq!(last_segment(&ty("&<T as X>::Y")), None);
        assert!(as_reference(&ty("&(Foo)")).is_some());
        assert!(as_reference(&ty("Foo")).is_none());
        assert!(is_impl_trait(&ty("&mut impl Send")));
        assert!(!is_impl_trait(&ty("&mut dyn Send")));
    }

    #[test]
    fn patterns() {
        let f: ItemFn = syn::parse_str(
            "async fn f(a: u8, mut b: u8, _: u8, (c, d): (u8, u8), ref e: u8, g @ _: u8) {}",
        )
        .unwrap();
        let simple: Vec<_> = typed_params(&f)
            .iter()
            .map(|p| is_simple_pat(&p.pat))
            .collect();
        assert_eq!(simple, [true, true, true, false, false, false]);
        assert_eq!(pat_ident(&typed_params(&f)[1].pat).unwrap(), "b");
    }
}
