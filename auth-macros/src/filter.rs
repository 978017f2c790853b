//! `filter!`: LangGraph's JSON filter form, checked at compile time and expanded to the
//! `Filter` builder calls.
//!
//! Three stages, as for the attribute macros: [`parse`] reads the JSON-like tokens into a small
//! tree that keeps every span, [`validate`] checks the operators and the shape of `$or`/`$and`
//! (every mistake is an error at its token, all reported together), and [`expand`] writes the
//! builder calls: `{"k": e}` and `{"k": {"$eq": e}}` become `Filter::eq("k", e)`, `$contains`
//! becomes `Filter::contains`, `$or` becomes `Filter::or([..])`, `$and` and several keys become
//! `.and(..)`, and `{}` becomes `Filter::all()`. Literal keys stay `&'static str`.
//!
//! The input starts with the path of the runtime crate, given by `auth::filter!` as `$crate`:
//! `$crate; { ... }`.

use proc_macro2::{Delimiter, Group, Span, TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};
use syn::LitStr;
use syn::parse::{ParseStream, Parser};

use crate::fallback::Errors;

/// The operators a key's condition may use.
const OPERATORS: &[&str] = &["$eq", "$contains"];

/// One JSON object of conditions, ANDed.
struct Object {
    entries: Vec<Entry>,
}

/// `"key": value`.
struct Entry {
    key: LitStr,
    value: Value,
}

/// What follows a key's colon.
enum Value {
    /// A Rust expression: the compared value.
    Expr(TokenStream),
    /// `null`.
    Null(Span),
    /// `[...]`: an array value (or, after `$or`/`$and`, the branches).
    Array(Group),
    /// `{...}`: the operators applied to the key (or a nested object, which is an error).
    Object(Group),
}

/// The whole macro input.
struct Input {
    krate: TokenStream,
    root: Group,
}

pub fn expand_filter(input: TokenStream) -> TokenStream {
    match run(input) {
        Ok(tokens) => tokens,
        // The expression still has a type, so that one mistake gives one error.
        Err((krate, error)) => {
            let error = error.to_compile_error();
            quote! {{ #error #krate::Filter::all() }}
        }
    }
}

fn run(input: TokenStream) -> Result<TokenStream, (TokenStream, syn::Error)> {
    let Input { krate, root } = split(input).map_err(|e| (quote!(::auth), e))?;
    let object = parse_object(&root).map_err(|e| (krate.clone(), e))?;
    validate(&object).map_err(|e| (krate.clone(), e))?;
    Ok(expand(&krate, &object))
}

// ---------------------------------------------------------------------------------------------
// Parse

/// `krate ; { ... }`: the runtime path, then one object.
fn split(input: TokenStream) -> syn::Result<Input> {
    let mut krate = TokenStream::new();
    let mut tokens = input.into_iter();
    for tt in tokens.by_ref() {
        match &tt {
            TokenTree::Punct(p) if p.as_char() == ';' => break,
            _ => krate.extend([tt]),
        }
    }
    let rest: TokenStream = tokens.collect();
    let mut rest = rest.into_iter();
    match (rest.next(), rest.next()) {
        (Some(TokenTree::Group(g)), None) if g.delimiter() == Delimiter::Brace => {
            Ok(Input { krate, root: g })
        }
        (None, _) => Err(syn::Error::new(
            Span::call_site(),
            "`filter!` needs a JSON object: write `filter!({\"owner\": id})`, or `filter!({})` \
             for no condition",
        )),
        (Some(first), _) => Err(syn::Error::new_spanned(
            first,
            "`filter!` takes one JSON object in braces: `filter!({\"owner\": id})`",
        )),
    }
}

fn parse_object(group: &Group) -> syn::Result<Object> {
    let parser = |input: ParseStream| {
        let mut entries = Vec::new();
        while !input.is_empty() {
            let key: LitStr = input.parse().map_err(|e| {
                syn::Error::new(
                    e.span(),
                    "a filter key is a string literal, such as `\"owner\"`; for a key computed \
                     at run time, use `Filter::eq(key, value)`",
                )
            })?;
            input.parse::<syn::Token![:]>()?;
            let value = parse_value(input)?;
            entries.push(Entry { key, value });
            if input.is_empty() {
                break;
            }
            input.parse::<syn::Token![,]>()?;
        }
        Ok(Object { entries })
    };
    parser.parse2(group.stream())
}

/// The tokens up to the next comma of this level.
fn parse_value(input: ParseStream) -> syn::Result<Value> {
    let mut tokens = Vec::new();
    while !input.is_empty() && !input.peek(syn::Token![,]) {
        tokens.push(input.parse::<TokenTree>()?);
    }
    match tokens.as_slice() {
        [] => Err(input.error("expected a value after `:`")),
        [TokenTree::Group(g)] if g.delimiter() == Delimiter::Brace => Ok(Value::Object(g.clone())),
        [TokenTree::Group(g)] if g.delimiter() == Delimiter::Bracket => Ok(Value::Array(g.clone())),
        [TokenTree::Ident(i)] if i == "null" => Ok(Value::Null(i.span())),
        _ => Ok(Value::Expr(tokens.into_iter().collect())),
    }
}

/// The branches of `$or`/`$and`: an array of objects.
fn parse_branches(group: &Group) -> syn::Result<Vec<(Span, Object)>> {
    let parser = |input: ParseStream| {
        let mut branches = Vec::new();
        while !input.is_empty() {
            let tt: TokenTree = input.parse()?;
            match tt {
                TokenTree::Group(g) if g.delimiter() == Delimiter::Brace => {
                    branches.push((g.span(), parse_object(&g)?));
                }
                other => {
                    return Err(syn::Error::new_spanned(
                        other,
                        "each branch is a filter object in braces, such as `{\"owner\": id}`",
                    ));
                }
            }
            if input.is_empty() {
                break;
            }
            input.parse::<syn::Token![,]>()?;
        }
        Ok(branches)
    };
    parser.parse2(group.stream())
}

/// The operators of `{"$eq": e, "$contains": e}`.
fn parse_operators(group: &Group) -> syn::Result<Vec<(LitStr, Value)>> {
    let object = parse_object(group)?;
    Ok(object
        .entries
        .into_iter()
        .map(|e| (e.key, e.value))
        .collect())
}

// ---------------------------------------------------------------------------------------------
// Validate

fn validate(object: &Object) -> syn::Result<()> {
    let mut errors = Errors::default();
    validate_object(object, &mut errors);
    errors.finish()
}

fn validate_object(object: &Object, errors: &mut Errors) {
    for Entry { key, value } in &object.entries {
        let name = key.value();
        match name.as_str() {
            "$or" | "$and" => match value {
                Value::Array(group) => match errors.ok(parse_branches(group)) {
                    Some(branches) if branches.len() < 2 => errors.push(syn::Error::new(
                        group.span(),
                        format!(
                            "`{name}` needs at least two branches, found {}: write the \
                             conditions of one branch directly in the object",
                            branches.len()
                        ),
                    )),
                    Some(branches) => {
                        for (_, branch) in &branches {
                            validate_object(branch, errors);
                        }
                    }
                    None => {}
                },
                _ => errors.push(syn::Error::new(
                    value_span(value),
                    format!(
                        "`{name}` takes an array of filter objects: `\"{name}\": [{{..}}, {{..}}]`"
                    ),
                )),
            },
            _ if name.starts_with('$') => errors.push(syn::Error::new(
                key.span(),
                format!(
                    "`{name}` is not a metadata key: keys starting with `$` are operators, and \
                     only `$or` and `$and` may stand for a key; compare a key with \
                     `{{\"key\": {{\"$eq\": value}}}}` or `{{\"key\": {{\"$contains\": value}}}}`"
                ),
            )),
            _ => validate_condition(&name, value, errors),
        }
    }
}

fn validate_condition(key: &str, value: &Value, errors: &mut Errors) {
    let Value::Object(group) = value else {
        return;
    };
    let Some(operators) = errors.ok(parse_operators(group)) else {
        return;
    };
    if operators.is_empty() {
        errors.push(syn::Error::new(
            group.span(),
            format!(
                "the condition on `{key}` is empty: write `{{\"$eq\": value}}` or \
                 `{{\"$contains\": value}}`"
            ),
        ));
    }
    for (op, value) in &operators {
        let name = op.value();
        if !OPERATORS.contains(&name.as_str()) {
            let what = if name.starts_with('$') {
                format!("unknown operator `{name}` on key `{key}`")
            } else {
                format!(
                    "`{name}` is not an operator: to compare `{key}` with an object, write \
                     `{{\"$eq\": {{..}}}}`"
                )
            };
            errors.push(syn::Error::new(
                op.span(),
                format!("{what}: use `$eq` or `$contains`"),
            ));
        } else if let (true, Value::Array(g)) = (name == "$contains", value) {
            if g.stream().is_empty() {
                errors.push(syn::Error::new(
                    g.span(),
                    format!("`$contains` on key `{key}` needs at least one value"),
                ));
            }
        }
    }
}

fn value_span(value: &Value) -> Span {
    match value {
        Value::Expr(tokens) => tokens
            .clone()
            .into_iter()
            .next()
            .map_or_else(Span::call_site, |t| t.span()),
        Value::Null(span) => *span,
        Value::Array(g) | Value::Object(g) => g.span(),
    }
}

// ---------------------------------------------------------------------------------------------
// Expand (only called on a validated tree)

fn expand(krate: &TokenStream, object: &Object) -> TokenStream {
    let mut parts: Vec<TokenStream> = Vec::new();
    for Entry { key, value } in &object.entries {
        match key.value().as_str() {
            "$or" => {
                let branches = branches_of(value)
                    .iter()
                    .map(|(_, b)| expand(krate, b))
                    .collect::<Vec<_>>();
                parts.push(quote_spanned!(key.span()=> #krate::Filter::or([#(#branches),*])));
            }
            "$and" => {
                parts.extend(branches_of(value).iter().map(|(_, b)| expand(krate, b)));
            }
            _ => match value {
                Value::Object(group) => {
                    for (op, value) in parse_operators(group).unwrap_or_default() {
                        let ctor = if op.value() == "$contains" {
                            quote_spanned!(op.span()=> #krate::Filter::contains)
                        } else {
                            quote_spanned!(op.span()=> #krate::Filter::eq)
                        };
                        let value = json_value(krate, &value);
                        parts.push(quote!(#ctor(#key, #value)));
                    }
                }
                other => {
                    let value = json_value(krate, other);
                    parts.push(quote_spanned!(key.span()=> #krate::Filter::eq(#key, #value)));
                }
            },
        }
    }
    let mut parts = parts.into_iter();
    match parts.next() {
        None => quote!(#krate::Filter::all()),
        Some(first) => {
            let rest = parts;
            quote!(#first #(.and(#rest))*)
        }
    }
}

fn branches_of(value: &Value) -> Vec<(Span, Object)> {
    match value {
        Value::Array(group) => parse_branches(group).unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// The compared value: an expression as written (anything `Into<serde_json::Value>`), `null`,
/// or an array or object in JSON form through `serde_json::json!`.
fn json_value(krate: &TokenStream, value: &Value) -> TokenStream {
    match value {
        Value::Expr(tokens) => tokens.clone(),
        Value::Null(span) => {
            let private = private(*span);
            quote_spanned!(*span=> #krate::#private::json!(null))
        }
        Value::Array(g) | Value::Object(g) => {
            let span = g.span();
            let g = g.to_token_stream();
            let private = private(span);
            quote_spanned!(span=> #krate::#private::json!(#g))
        }
    }
}

/// The runtime's versioned hidden module, `__private_<version>`.
fn private(span: Span) -> proc_macro2::Ident {
    proc_macro2::Ident::new(&crate::paths::PRIVATE, span)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(input: TokenStream) -> String {
        run(input)
            .map_err(|(_, e)| e.to_string())
            .unwrap()
            .to_string()
    }

    fn err(input: TokenStream) -> String {
        match run(input) {
            Ok(t) => panic!("expected an error, got {t}"),
            Err((_, e)) => e.to_string(),
        }
    }

    #[test]
    fn expands_to_the_builder() {
        assert_eq!(ok(quote!(k; {})), "k :: Filter :: all ()");
        assert_eq!(
            ok(quote!(k; {"owner": id})),
            "k :: Filter :: eq (\"owner\" , id)"
        );
        assert_eq!(
            ok(quote!(k; {"owner": {"$eq": id}, "tags": {"$contains": "x"}})),
            "k :: Filter :: eq (\"owner\" , id) . and (k :: Filter :: contains (\"tags\" , \"x\"))"
        );
        assert_eq!(
            ok(quote!(k; {"$or": [{"a": 1}, {"b": null}]})),
            "k :: Filter :: or ([k :: Filter :: eq (\"a\" , 1) , k :: Filter :: eq (\"b\" , k :: __private_0_1_0 :: json ! (null))])"
        );
        assert_eq!(
            ok(quote!(k; {"$and": [{"a": f(x, y)}, {"b": [1, 2]}]})),
            "k :: Filter :: eq (\"a\" , f (x , y)) . and (k :: Filter :: eq (\"b\" , k :: __private_0_1_0 :: json ! ([1 , 2])))"
        );
    }

    #[test]
    fn mistakes_are_errors() {
        assert!(err(quote!(k; {"owner": {"$ne": 1}})).contains("unknown operator `$ne`"));
        assert!(err(quote!(k; {"$where": 1})).contains("`$where` is not a metadata key"));
        assert!(err(quote!(k; {"$or": [{"a": 1}]})).contains("at least two branches, found 1"));
        assert!(err(quote!(k; {"$and": []})).contains("at least two branches, found 0"));
        assert!(err(quote!(k; {"a": {"b": 1}})).contains("`b` is not an operator"));
        assert!(err(quote!(k; {"a": {"$contains": []}})).contains("at least one value"));
        assert!(err(quote!(k; {owner: 1})).contains("string literal"));
        assert!(err(quote!(k; ["a"])).contains("one JSON object"));
        // Several mistakes, all reported.
        let both = run(quote!(k; {"a": {"$ne": 1}, "$x": 2})).unwrap_err().1;
        assert_eq!(both.into_iter().count(), 2);
    }
}
