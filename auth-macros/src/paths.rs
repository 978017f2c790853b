//! Every runtime path the expansion uses, in one table, rooted at the `auth` crate (`::auth`, or
//! the path given with `crate = ...`). Only these paths may appear in generated code; they are
//! the contract with `auth::__private`.

use proc_macro2::{Group, Ident, Span, TokenStream, TokenTree};
use quote::{ToTokens, quote};

/// The name of the runtime's hidden module, `__private_<version>`: the macros and the runtime
/// are released together at the same version (`auth-core` pins `auth-macros` with `=`), and
/// code expanded by one version against another fails to resolve instead of misbehaving.
pub(crate) static PRIVATE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!("__private_{}", env!("CARGO_PKG_VERSION").replace('.', "_"))
});

/// The root of the runtime paths.
pub struct Paths {
    krate: TokenStream,
    /// The default `::auth` is re-spanned at each use; a user's `crate = ...` keeps its spans.
    default: bool,
}

macro_rules! table {
    ($($name:ident => $($segment:ident)::+;)*) => {
        impl Paths {
            $(
                #[doc = concat!("`#krate::", stringify!($($segment)::+), "`")]
                pub fn $name(&self, span: Span) -> TokenStream {
                    self.join(span, &[$(stringify!($segment)),+])
                }
            )*
        }
    };
}

table! {
    authorize => __private::authorize;
    authenticate => __private::authenticate;
    new_handler_future => __private::handler_future;
    new_user_future => __private::user_future;
    project_mut => __private::project_mut;
    project_ref => __private::project_ref;
    decision => __private::into_decision;
    user => __private::into_user;
    extract => __private::extract;
    submit => __private::inventory::submit;
}

impl Paths {
    pub fn new(krate: Option<syn::Path>) -> Paths {
        match krate {
            Some(path) => Paths {
                krate: path.to_token_stream(),
                default: false,
            },
            None => Paths {
                krate: quote!(::auth),
                default: true,
            },
        }
    }

    /// `#krate::types::<name>`: a value type, as the marker of the targets it is narrowest for
    pub fn value_type(&self, span: Span, name: &str) -> TokenStream {
        self.join(span, &["types", name])
    }

    /// `#krate::__private::param::<marker>`
    pub fn param(&self, span: Span, marker: &str) -> TokenStream {
        self.join(span, &["__private", "param", marker])
    }

    /// `#krate::Target::<variant>`
    pub fn target(&self, span: Span, variant: &str) -> TokenStream {
        self.join(span, &["Target", variant])
    }

    /// `#krate::Resource::<variant>`
    pub fn resource(&self, span: Span, variant: &str) -> TokenStream {
        self.join(span, &["Resource", variant])
    }

    /// `#krate::Action::<variant>`
    pub fn action(&self, span: Span, variant: &str) -> TokenStream {
        self.join(span, &["Action", variant])
    }

    fn join(&self, span: Span, segments: &[&str]) -> TokenStream {
        // The runtime's hidden module carries its version: see [`PRIVATE`].
        let private = PRIVATE.as_str();
        let mut out = if self.default {
            respan(self.krate.clone(), span)
        } else {
            self.krate.clone()
        };
        for &segment in segments {
            let segment = if segment == "__private" {
                private
            } else {
                segment
            };
            out.extend(respan(quote!(::), span));
            out.extend([TokenTree::Ident(Ident::new(segment, span))]);
        }
        out
    }
}

/// The same tokens, every one spanned at `span` (so that an error in generated code points at
/// the user's token that caused it).
pub fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut tt| {
            if let TokenTree::Group(g) = &tt {
                let mut group = Group::new(g.delimiter(), respan(g.stream(), span));
                group.set_span(span);
                tt = TokenTree::Group(group);
            } else {
                tt.set_span(span);
            }
            tt
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rooted_at_the_crate() {
        let p = Paths::new(None);
        let s = Span::call_site();
        assert_eq!(
            p.project_mut(s).to_string(),
            ":: auth :: __private_0_1_0 :: project_mut"
        );
        assert_eq!(
            p.value_type(s, "ThreadsCreate").to_string(),
            ":: auth :: types :: ThreadsCreate"
        );
        assert_eq!(
            p.submit(s).to_string(),
            ":: auth :: __private_0_1_0 :: inventory :: submit"
        );
        assert_eq!(
            p.authorize(s).to_string(),
            ":: auth :: __private_0_1_0 :: authorize"
        );
        let renamed = Paths::new(Some(syn::parse_quote!(crate::my_auth)));
        assert_eq!(
            renamed.target(s, "Global").to_string(),
            "crate :: my_auth :: Target :: Global"
        );
    }
}
