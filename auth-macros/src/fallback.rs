//! What the macros emit when something is wrong: the user's item unchanged, followed by one
//! `compile_error!` per mistake and no registration. Keeping the item lets the rest of the crate
//! (and IDEs) see the function, so one mistake gives one error.

use proc_macro2::TokenStream;

/// The user's item, then the errors.
pub fn item_with_errors(item: TokenStream, error: syn::Error) -> TokenStream {
    let mut out = item;
    out.extend(error.to_compile_error());
    out
}

/// Collects independent errors so that several mistakes are reported in one pass.
#[derive(Default)]
pub struct Errors(Option<syn::Error>);

impl Errors {
    pub fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    /// Keeps the value of `Ok`, records the error of `Err`.
    pub fn ok<T>(&mut self, result: syn::Result<T>) -> Option<T> {
        result.map_err(|e| self.push(e)).ok()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// `Err` with every recorded error, if any.
    pub fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proc_macro2::Span;
    use quote::quote;

    #[test]
    fn keeps_the_item_and_adds_every_error() {
        let mut errors = Errors::default();
        assert!(errors.is_empty());
        assert_eq!(errors.ok(Ok::<_, syn::Error>(3)), Some(3));
        errors.push(syn::Error::new(Span::call_site(), "first"));
        assert_eq!(
            errors.ok::<()>(Err(syn::Error::new(Span::call_site(), "second"))),
            None
        );
        let error = errors.finish().unwrap_err();
        let out = item_with_errors(
            quote!(
                fn f() {}
            ),
            error,
        )
        .to_string();
        assert!(out.starts_with("fn f () { }"), "{out}");
        assert_eq!(out.matches("compile_error").count(), 2, "{out}");
        assert!(out.contains("\"first\"") && out.contains("\"second\""));
        assert!(Errors::default().finish().is_ok());
    }
}
