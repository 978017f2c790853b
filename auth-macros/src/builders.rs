//! `#[derive(__Builders)]`, for the value structs of the runtime's `auth::types` only: `new()`
//! and one builder-style `with_<field>` setter per public field, so that code outside the
//! runtime builds a `#[non_exhaustive]` struct in one expression.
//!
//! The parameter of a setter is the field's type without its `Option` (the setter stores
//! `Some(value)`), taken as `impl Into<T>` when `T` is `String`, `Value` or a `Box<_>` (so that
//! `&str`, JSON literals and unboxed values are accepted), and as `T` itself otherwise. The types
//! are recognized by their last path segment, as the runtime spells them. Every setter's rustdoc
//! is the field's own first paragraph, so a field without rustdoc is an error.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::ext::IdentExt;
use syn::{
    Error, Expr, ExprLit, Field, Fields, GenericArgument, ItemStruct, Lit, Meta, PathArguments,
    Type, Visibility,
};

/// The expansion of `#[derive(__Builders)]` on `input`, or its errors.
pub fn derive(input: TokenStream) -> TokenStream {
    syn::parse2::<ItemStruct>(input)
        .and_then(|input| expand(&input))
        .unwrap_or_else(Error::into_compile_error)
}

fn expand(input: &ItemStruct) -> syn::Result<TokenStream> {
    let name = &input.ident;
    let Fields::Named(fields) = &input.fields else {
        return Err(Error::new_spanned(
            name,
            "`__Builders` needs a struct with named fields",
        ));
    };
    if !input.generics.params.is_empty() {
        return Err(Error::new_spanned(
            &input.generics,
            "`__Builders` needs a struct without generic parameters",
        ));
    }
    let new_doc = format!(
        "A `{name}` with every field at its [`Default`] (`None`, empty), to be filled in with the \
         `with_*` setters."
    );
    let mut setters = Vec::new();
    let mut errors: Option<Error> = None;
    for field in fields.named.iter() {
        if !matches!(field.vis, Visibility::Public(_)) {
            continue;
        }
        match setter(field) {
            Ok(tokens) => setters.push(tokens),
            Err(e) => match &mut errors {
                Some(all) => all.combine(e),
                None => errors = Some(e),
            },
        }
    }
    if let Some(errors) = errors {
        return Err(errors);
    }
    Ok(quote! {
        impl #name {
            #[doc = #new_doc]
            #[inline]
            #[must_use]
            pub fn new() -> Self {
                <Self as ::core::default::Default>::default()
            }

            #(#setters)*
        }
    })
}

/// How a setter takes its value.
enum Param<'a> {
    /// `value: T`, stored as is.
    Plain(&'a Type),
    /// `value: impl Into<T>`, stored as `value.into()`.
    Into(&'a Type),
}

/// The setter of one public field.
fn setter(field: &Field) -> syn::Result<TokenStream> {
    let ident = field
        .ident
        .as_ref()
        .ok_or_else(|| Error::new_spanned(field, "a field without a name"))?;
    let name = ident.unraw().to_string();
    let method = format_ident!("with_{}", name, span = Span::call_site());
    let summary = first_paragraph(field).ok_or_else(|| {
        Error::new_spanned(
            ident,
            "document the field: its setter's rustdoc is the field's",
        )
    })?;
    let doc = format!("Sets [`{name}`](Self::{name}): {}", lower_first(&summary));

    let (inner, optional) = match option_inner(&field.ty) {
        Some(inner) => (inner, true),
        None => (&field.ty, false),
    };
    let param = if last_segment_is(inner, "String")
        || last_segment_is(inner, "Value")
        || generic_inner(inner, "Box").is_some()
    {
        Param::Into(inner)
    } else {
        Param::Plain(inner)
    };
    let (param_ty, value) = match param {
        Param::Plain(ty) => (quote!(#ty), quote!(value)),
        Param::Into(ty) => (
            quote!(impl ::core::convert::Into<#ty>),
            quote!(::core::convert::Into::into(value)),
        ),
    };
    let stored = if optional {
        quote!(::core::option::Option::Some(#value))
    } else {
        value.clone()
    };
    // An optional field also has `maybe_<field>(Option<…>)`, for a value that may be absent
    // (a request body's optional field): `None` leaves the field unset.
    let maybe = optional.then(|| {
        let maybe = format_ident!("maybe_{}", name, span = Span::call_site());
        let doc = format!(
            "Sets [`{name}`](Self::{name}) to `value` when it is `Some`, or unsets it: as \
             [`with_{name}`](Self::with_{name}), for a value that may be absent."
        );
        quote! {
            #[doc = #doc]
            #[inline]
            #[must_use]
            pub fn #maybe(mut self, value: ::core::option::Option<#param_ty>) -> Self {
                self.#ident = value.map(|value| #value);
                self
            }
        }
    });
    Ok(quote! {
        #[doc = #doc]
        #[inline]
        #[must_use]
        pub fn #method(mut self, value: #param_ty) -> Self {
            self.#ident = #stored;
            self
        }

        #maybe
    })
}

/// The first paragraph of the field's rustdoc, its lines joined by spaces.
fn first_paragraph(field: &Field) -> Option<String> {
    let mut lines = Vec::new();
    for attr in &field.attrs {
        let Meta::NameValue(nv) = &attr.meta else {
            continue;
        };
        if !nv.path.is_ident("doc") {
            continue;
        }
        if let Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) = &nv.value
        {
            let line = s.value();
            let line = line.trim();
            if line.is_empty() {
                if lines.is_empty() {
                    continue;
                }
                break;
            }
            lines.push(line.to_owned());
        }
    }
    (!lines.is_empty()).then(|| lines.join(" "))
}

/// `text` with its first letter in lower case, unless it begins an acronym (`URL`).
fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(first), Some(second)) if first.is_uppercase() && !second.is_uppercase() => first
            .to_lowercase()
            .chain(text[first.len_utf8()..].chars())
            .collect(),
        _ => text.to_owned(),
    }
}

/// Whether `ty` is a path whose last segment is `name` without generic arguments.
fn last_segment_is(ty: &Type, name: &str) -> bool {
    match ty {
        Type::Path(p) if p.qself.is_none() => p
            .path
            .segments
            .last()
            .is_some_and(|s| s.ident == name && s.arguments.is_none()),
        _ => false,
    }
}

/// `T` of `Option<T>`.
fn option_inner(ty: &Type) -> Option<&Type> {
    generic_inner(ty, "Option")
}

/// `T` of `name<T>`, when `ty` is a path whose last segment is `name` with one type argument.
fn generic_inner<'a>(ty: &'a Type, name: &str) -> Option<&'a Type> {
    let Type::Path(p) = ty else {
        return None;
    };
    if p.qself.is_some() {
        return None;
    }
    let segment = p.path.segments.last()?;
    if segment.ident != name {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &segment.arguments else {
        return None;
    };
    match args.args.iter().collect::<Vec<_>>()[..] {
        [GenericArgument::Type(inner)] => Some(inner),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_str(item: &str) -> Result<String, String> {
        let input = syn::parse_str::<ItemStruct>(item).unwrap();
        expand(&input)
            .map(|t| t.to_string())
            .map_err(|e| e.to_string())
    }

    /// The expansion of `item` with its whitespace removed, for `contains` checks.
    fn compact(item: &str) -> String {
        expand_str(item)
            .unwrap()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect()
    }

    #[test]
    fn one_setter_per_public_field_with_the_parameter_rule() {
        let out = compact(
            r#"struct S {
                /// The id.
                pub id: Option<String>,
                /// How many.
                pub limit: Option<i64>,
                /// The key (required).
                pub key: String,
                /// The path.
                pub namespace: Vec<String>,
                /// Boxed.
                pub kwargs: Option<Box<Kwargs>>,
                /// Any JSON.
                pub input: Option<serde_json::Value>,
                /// Metadata.
                pub metadata: Option<JsonObject>,
                /// The `ids`.
                pub ids: Option<Vec<String>>,
                hidden: u8,
            }"#,
        );
        for expected in [
            "pubfnnew()->Self{<Selfas::core::default::Default>::default()}",
            "pubfnwith_id(mutself,value:impl::core::convert::Into<String>)->Self{self.id=::core::option::Option::Some(::core::convert::Into::into(value));self}",
            "pubfnwith_limit(mutself,value:i64)->Self{self.limit=::core::option::Option::Some(value);self}",
            "pubfnwith_key(mutself,value:impl::core::convert::Into<String>)->Self{self.key=::core::convert::Into::into(value);self}",
            "pubfnwith_namespace(mutself,value:Vec<String>)->Self{self.namespace=value;self}",
            "pubfnwith_kwargs(mutself,value:impl::core::convert::Into<Box<Kwargs>>)",
            "pubfnwith_input(mutself,value:impl::core::convert::Into<serde_json::Value>)",
            "pubfnwith_metadata(mutself,value:JsonObject)",
            "pubfnwith_ids(mutself,value:Vec<String>)->Self{self.ids=::core::option::Option::Some(value);self}",
        ] {
            assert!(out.contains(expected), "missing {expected} in {out}");
        }
        assert!(!out.contains("with_hidden"), "{out}");
        assert_eq!(out.matches("pubfnwith_").count(), 8, "{out}");
    }

    #[test]
    fn setter_docs_are_the_fields_first_paragraph() {
        let out = expand_str(
            r#"struct S {
                /// The new thread's id
                /// (a UUID string).
                ///
                /// Not this paragraph.
                pub thread_id: Option<String>,
                /// URL called when done.
                pub webhook: Option<String>,
                /// `None` keeps it.
                pub r#type: Option<String>,
            }"#,
        )
        .unwrap();
        assert!(
            out.contains(
                r#""Sets [`thread_id`](Self::thread_id): the new thread's id (a UUID string).""#
            ),
            "{out}"
        );
        assert!(!out.contains("Not this paragraph"), "{out}");
        assert!(
            out.contains(r#""Sets [`webhook`](Self::webhook): URL called when done.""#),
            "{out}"
        );
        assert!(out.contains("fn with_type"), "{out}");
        assert!(out.contains("self . r#type ="), "{out}");
    }

    #[test]
    fn refuses_what_it_cannot_build() {
        let undocumented =
            expand_str("struct S { /// Fine.\n pub a: u8, pub b: u8, pub c: u8 }").unwrap_err();
        assert!(
            undocumented.contains("document the field"),
            "{undocumented}"
        );
        let not_a_struct = derive(quote!(
            enum E {
                A,
            }
        ))
        .to_string();
        assert!(not_a_struct.contains("compile_error"), "{not_a_struct}");
        assert!(
            expand_str("struct T(pub u8);")
                .unwrap_err()
                .contains("named fields")
        );
        assert!(
            expand_str("struct G<T> { /// x\n pub t: T }")
                .unwrap_err()
                .contains("generic")
        );
    }

    #[test]
    fn both_undocumented_fields_are_reported() {
        let input = syn::parse_str::<ItemStruct>("struct S { pub b: u8, pub c: u8 }").unwrap();
        assert_eq!(expand(&input).unwrap_err().into_iter().count(), 2);
    }

    #[test]
    fn lower_first_keeps_acronyms() {
        assert_eq!(lower_first("The id."), "the id.");
        assert_eq!(lower_first("URL called"), "URL called");
        assert_eq!(lower_first("`None` keeps"), "`None` keeps");
        assert_eq!(lower_first("A"), "A");
        assert_eq!(lower_first(""), "");
    }
}
