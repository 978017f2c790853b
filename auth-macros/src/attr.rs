//! Stage 1: the attribute's arguments, parsed into syntax only (names are checked in `valid`).
//!
//! ```text
//! on-args      := ε | target (',' target)* (',' crate-arg)? ','?
//! target       := '*' | '*' '.' action | resource | resource '.' action
//! crate-arg    := 'crate' '=' (string-literal | path)
//! auth-args    := ε | crate-arg ','?
//! ```

use proc_macro2::TokenStream;
use quote::{ToTokens, TokenStreamExt};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::{Ident, LitStr, Path, Token};

/// The resource names, as keywords: a `lookahead1()` that peeks them lists them in its
/// "expected one of" message. `vocab::RESOURCES` stays the source of truth (a test checks both).
mod kw {
    syn::custom_keyword!(threads);
    syn::custom_keyword!(assistants);
    syn::custom_keyword!(crons);
    syn::custom_keyword!(store);
}

/// What stands before the optional `.action`.
pub enum Head {
    Star(Token![*]),
    Resource(Ident),
}

/// One target as written: `*`, `*.read`, `threads`, `threads.create`.
pub struct RawTarget {
    pub head: Head,
    pub action: Option<(Token![.], Ident)>,
}

impl RawTarget {
    /// The target as the user wrote it, for messages.
    pub fn text(&self) -> String {
        let head = match &self.head {
            Head::Star(_) => "*".to_owned(),
            Head::Resource(r) => r.unraw().to_string(),
        };
        match &self.action {
            Some((_, a)) => format!("{head}.{}", a.unraw()),
            None => head,
        }
    }
}

impl ToTokens for RawTarget {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        match &self.head {
            Head::Star(star) => star.to_tokens(tokens),
            Head::Resource(r) => tokens.append(r.clone()),
        }
        if let Some((dot, action)) = &self.action {
            dot.to_tokens(tokens);
            tokens.append(action.clone());
        }
    }
}

/// `crate = "path"` or `crate = path`.
pub struct CrateArg {
    pub path: Path,
    pub keyword: Token![crate],
}

impl Parse for CrateArg {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let keyword: Token![crate] = input.parse()?;
        input.parse::<Token![=]>()?;
        let lookahead = input.lookahead1();
        let path = if lookahead.peek(LitStr) {
            let lit: LitStr = input.parse()?;
            lit.parse_with(Path::parse_mod_style).map_err(|_| {
                syn::Error::new(
                    lit.span(),
                    format!(
                        "`{}` is not a path: write the path of the `auth` crate, e.g. `crate = \"::auth\"`",
                        lit.value()
                    ),
                )
            })?
        } else if lookahead.peek(Token![::]) || lookahead.peek(Ident::peek_any) {
            input.call(Path::parse_mod_style)?
        } else {
            return Err(lookahead.error());
        };
        Ok(CrateArg { path, keyword })
    }
}

/// The arguments of `#[on(...)]`.
#[derive(Default)]
pub struct OnArgs {
    pub targets: Vec<RawTarget>,
    pub krate: Option<Path>,
}

impl Parse for OnArgs {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut args = OnArgs::default();
        let mut crate_arg: Option<CrateArg> = None;
        while !input.is_empty() {
            let lookahead = input.lookahead1();
            if lookahead.peek(Token![*])
                || lookahead.peek(kw::threads)
                || lookahead.peek(kw::assistants)
                || lookahead.peek(kw::crons)
                || lookahead.peek(kw::store)
                || (input.peek(Ident::peek_any) && !input.peek(Token![crate]))
            {
                let target: RawTarget = input.parse()?;
                if crate_arg.is_some() {
                    return Err(syn::Error::new_spanned(
                        &target,
                        format!(
                            "targets come before `crate = ...`: move `{}` before `crate`",
                            target.text()
                        ),
                    ));
                }
                args.targets.push(target);
            } else if lookahead.peek(Token![crate]) {
                let c: CrateArg = input.parse()?;
                if crate_arg.is_some() {
                    return Err(syn::Error::new(
                        c.keyword.span,
                        "`crate` is given twice: keep one `crate = ...`",
                    ));
                }
                crate_arg = Some(c);
            } else {
                return Err(lookahead.error());
            }
            if input.is_empty() {
                break;
            }
            let lookahead = input.lookahead1();
            if lookahead.peek(Token![,]) {
                input.parse::<Token![,]>()?;
            } else {
                return Err(lookahead.error());
            }
        }
        args.krate = crate_arg.map(|c| c.path);
        Ok(args)
    }
}

impl Parse for RawTarget {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let head = if input.peek(Token![*]) {
            Head::Star(input.parse()?)
        } else {
            Head::Resource(input.call(Ident::parse_any)?)
        };
        if input.is_empty() || input.peek(Token![,]) {
            return Ok(RawTarget { head, action: None });
        }
        if input.peek(Token![::]) {
            let text = match &head {
                Head::Star(_) => "*".to_owned(),
                Head::Resource(r) => r.to_string(),
            };
            return Err(input.error(format!(
                "a target's action follows a dot: write `{text}.action`, e.g. `threads.create`"
            )));
        }
        if input.peek(Ident::peek_any) {
            if let Head::Resource(r) = &head {
                return Err(input.error(format!(
                    "expected `.` or `,` after `{r}`: write `{r}.{}` for one action",
                    input
                        .cursor()
                        .ident()
                        .map_or_else(String::new, |(i, _)| i.to_string())
                )));
            }
        }
        let lookahead = input.lookahead1();
        if !lookahead.peek(Token![.]) {
            let _ = lookahead.peek(Token![,]);
            return Err(lookahead.error());
        }
        let dot: Token![.] = input.parse()?;
        if input.peek(Ident::peek_any) {
            let action = input.call(Ident::parse_any)?;
            return Ok(RawTarget {
                head,
                action: Some((dot, action)),
            });
        }
        let message = match (&head, input.peek(Token![*])) {
            (Head::Resource(r), true) => {
                format!("`{r}.*` is written `{r}`: a resource alone covers all its actions")
            }
            (Head::Star(_), true) => "`*.*` is written `*`".to_owned(),
            (Head::Resource(r), false) => {
                format!("expected an action after `{r}.`, e.g. `{r}.read`")
            }
            (Head::Star(_), false) => "expected an action after `*.`, e.g. `*.read`".to_owned(),
        };
        Err(input.error(message))
    }
}

/// The arguments of `#[authenticate(...)]`: nothing, or `crate = ...`.
#[derive(Default)]
pub struct AuthenticateArgs {
    pub krate: Option<Path>,
}

impl Parse for AuthenticateArgs {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut args = AuthenticateArgs::default();
        if input.peek(Token![crate]) {
            args.krate = Some(input.parse::<CrateArg>()?.path);
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        if !input.is_empty() {
            let rest: TokenStream = input.parse()?;
            return Err(syn::Error::new_spanned(
                rest,
                "`#[authenticate]` takes no arguments (only `crate = \"path\"` when the `auth` crate is renamed)",
            ));
        }
        Ok(args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on(s: &str) -> syn::Result<OnArgs> {
        syn::parse_str(s)
    }

    fn on_err(s: &str) -> String {
        match on(s) {
            Ok(_) => panic!("`{s}` parsed"),
            Err(e) => e.to_string(),
        }
    }

    fn texts(s: &str) -> Vec<String> {
        on(s).unwrap().targets.iter().map(RawTarget::text).collect()
    }

    #[test]
    fn accepted_forms() {
        assert!(texts("").is_empty());
        assert_eq!(texts("*"), ["*"]);
        assert_eq!(texts("threads"), ["threads"]);
        assert_eq!(texts("threads.create_run"), ["threads.create_run"]);
        assert_eq!(texts("*.read"), ["*.read"]);
        assert_eq!(
            texts("threads.read, threads.search,"),
            ["threads.read", "threads.search"]
        );
        // unknown names are syntax here; `valid` rejects them
        assert_eq!(texts("thread.craete"), ["thread.craete"]);
        assert_eq!(texts("threads.async"), ["threads.async"]);
    }

    #[test]
    fn crate_override() {
        let args = on("threads, crate = \"::my_auth\"").unwrap();
        assert_eq!(args.targets.len(), 1);
        let path = args.krate.unwrap();
        assert!(path.leading_colon.is_some());
        assert_eq!(path.segments[0].ident, "my_auth");
        let args = on("crate = crate::reexported::auth,").unwrap();
        assert!(args.targets.is_empty());
        assert_eq!(args.krate.unwrap().segments.len(), 3);
        let args: AuthenticateArgs = syn::parse_str("crate = my_auth").unwrap();
        assert_eq!(args.krate.unwrap().segments[0].ident, "my_auth");
    }

    #[test]
    fn syntax_errors() {
        assert_eq!(
            on_err("1"),
            "expected one of: `*`, `threads`, `assistants`, `crons`, `store`, `crate`"
        );
        assert_eq!(
            on_err("threads create"),
            "expected `.` or `,` after `threads`: write `threads.create` for one action"
        );
        assert_eq!(on_err("* read"), "expected `.` or `,`");
        assert_eq!(on_err("threads 1"), "expected `.` or `,`");
        assert!(on_err("threads::create").contains("write `threads.action`"));
        assert!(on_err("threads.*").contains("`threads.*` is written `threads`"));
        assert!(on_err("threads.").contains("expected an action after `threads.`"));
        assert_eq!(on_err("*.*"), "`*.*` is written `*`");
        assert!(on_err("threads,,").starts_with("expected one of"));
        assert_eq!(on_err("threads.read threads"), "expected `,`");
        assert!(on_err("crate = \"not a path!\"").contains("is not a path"));
        assert!(on_err("crate = 3").starts_with("expected"));
        assert!(on_err("crate = a, crate = b").contains("given twice"));
        assert!(on_err("crate = a, threads").contains("targets come before `crate = ...`"));
    }

    #[test]
    fn authenticate_takes_only_crate() {
        assert!(
            syn::parse_str::<AuthenticateArgs>("")
                .unwrap()
                .krate
                .is_none()
        );
        let e = syn::parse_str::<AuthenticateArgs>("threads")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("takes no arguments"), "{e}");
        let e = syn::parse_str::<AuthenticateArgs>("crate = a, b")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("takes no arguments"), "{e}");
    }

    #[test]
    fn keywords_match_the_vocabulary() {
        let names: Vec<_> = crate::vocab::RESOURCES.iter().map(|r| r.name).collect();
        assert_eq!(names, ["threads", "assistants", "crons", "store"]);
        let msg = on_err("1");
        for n in names {
            assert!(msg.contains(&format!("`{n}`")), "{msg}");
        }
    }
}
