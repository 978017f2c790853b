//! Link-time registration of handlers through `inventory`, and what the registry tells at
//! start-up ([`HandlerInfo`], [`RegistryError`]).

use std::fmt;

use crate::vocab::Target;
use crate::{AuthenticateFn, HandlerFn};

/// One handler registered by `#[auth::authenticate]` or `#[auth::on(...)]`.
///
/// The macros submit one `Registration` per handler; [`registry`] lists them all and
/// [`AuthBuilder::registrations`](crate::AuthBuilder::registrations) picks some.
pub struct Registration {
    pub(crate) kind: Kind,
    pub(crate) name: &'static str,
    pub(crate) module_path: &'static str,
    pub(crate) file: &'static str,
    pub(crate) line: u32,
}

#[derive(Clone, Copy)]
pub(crate) enum Kind {
    Authenticate {
        handler: AuthenticateFn,
        reads_body: bool,
    },
    Authorize {
        targets: &'static [Target],
        handler: HandlerFn,
    },
}

impl Registration {
    /// The handler function's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The module the handler was written in, as `module_path!()` gives it.
    pub fn module_path(&self) -> &'static str {
        self.module_path
    }

    /// The source file of the handler.
    pub fn file(&self) -> &'static str {
        self.file
    }

    /// The line of the handler in its file.
    pub fn line(&self) -> u32 {
        self.line
    }

    /// Whether this is an authenticate handler.
    pub fn is_authenticate(&self) -> bool {
        matches!(self.kind, Kind::Authenticate { .. })
    }

    /// The targets of an authorization handler (empty for an authenticate handler).
    pub fn targets(&self) -> &'static [Target] {
        match self.kind {
            Kind::Authenticate { .. } => &[],
            Kind::Authorize { targets, .. } => targets,
        }
    }

    /// Whether the handler was written in `module` or in a module below it.
    pub fn is_in_module(&self, module: &str) -> bool {
        self.module_path
            .strip_prefix(module)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
    }
}

impl fmt::Debug for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("name", &self.name)
            .field("targets", &self.targets())
            .field("module_path", &self.module_path)
            .field("file", &self.file)
            .field("line", &self.line)
            .finish()
    }
}

inventory::collect!(Registration);

/// Every handler that `#[auth::…]` registered in the crates linked into this binary, in an
/// unspecified order.
///
/// A crate of handlers that no code of the binary names is not linked, and its handlers are
/// missing here: pull it in with [`auth::link!`](crate::link) and check the count in a test.
pub fn registry() -> impl Iterator<Item = &'static Registration> {
    inventory::iter::<Registration>.into_iter()
}

/// Where a handler was written: its function's name and source position.
///
/// Ordered by file, then line, then name: the order in which the dispatcher lists handlers.
///
/// ```
/// #[auth::on(threads.read)]
/// async fn read(_: &auth::AuthContext, _: &auth::types::ThreadsRead) {}
///
/// let auth = auth::Auth::builder().module(module_path!()).build().unwrap();
/// let location = auth.handlers().next().unwrap().location();
/// assert_eq!(location.name(), "read");
/// assert!(location.to_string().starts_with("`read` ("));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SourceLocation {
    pub(crate) file: &'static str,
    pub(crate) line: u32,
    pub(crate) name: &'static str,
    pub(crate) module_path: &'static str,
}

impl SourceLocation {
    /// The handler function's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The source file, as `file!()` gives it.
    pub fn file(&self) -> &'static str {
        self.file
    }

    /// The line in the source file.
    pub fn line(&self) -> u32 {
        self.line
    }

    /// The module the handler was written in, as `module_path!()` gives it (empty for a handler
    /// added by hand with [`AuthBuilder::on`](crate::AuthBuilder::on)).
    pub fn module_path(&self) -> &'static str {
        self.module_path
    }
}

impl fmt::Display for SourceLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` ({}:{})", self.name, self.file, self.line)
    }
}

/// A handler of an [`Auth`](crate::Auth): what it covers and where it was written, for start-up
/// logs and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerInfo {
    pub(crate) targets: Option<Vec<Target>>,
    pub(crate) place: SourceLocation,
}

impl HandlerInfo {
    /// The targets of an authorization handler; `None` for the authenticate handler.
    pub fn targets(&self) -> Option<&[Target]> {
        self.targets.as_deref()
    }

    /// Whether this is the authenticate handler.
    pub fn is_authenticate(&self) -> bool {
        self.targets.is_none()
    }

    /// The handler function's name.
    pub fn name(&self) -> &'static str {
        self.place.name
    }

    /// The module the handler was written in.
    pub fn module_path(&self) -> &'static str {
        self.place.module_path
    }

    /// The source file.
    pub fn file(&self) -> &'static str {
        self.place.file
    }

    /// The line in the source file.
    pub fn line(&self) -> u32 {
        self.place.line
    }

    /// Where the handler was written.
    pub fn location(&self) -> &SourceLocation {
        &self.place
    }
}

impl fmt::Display for HandlerInfo {
    /// `threads.create, threads.read -> on_threads (src/auth.rs:12)`, or
    /// `authenticate -> get_current_user (src/auth.rs:3)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.targets {
            None => f.write_str("authenticate")?,
            Some(targets) => {
                for (i, t) in targets.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{t}")?;
                }
            }
        }
        write!(
            f,
            " -> {} ({}:{})",
            self.place.name, self.place.file, self.place.line
        )
    }
}

/// Why an [`Auth`](crate::Auth) could not be built from its handlers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegistryError {
    /// Two handlers claim the same target.
    DuplicateTarget {
        /// The target both claim.
        target: Target,
        /// The first handler, by source position.
        first: SourceLocation,
        /// The second handler.
        second: SourceLocation,
    },
    /// Two authenticate handlers.
    DuplicateAuthenticate {
        /// The first handler, by source position.
        first: SourceLocation,
        /// The second handler.
        second: SourceLocation,
    },
    /// A handler was registered with no target.
    NoTarget {
        /// The handler.
        handler: SourceLocation,
    },
    /// A handler was registered for an event that does not exist, such as `threads.put`: it
    /// could never run.
    NeverFires {
        /// The target that names no event.
        target: Target,
        /// The handler.
        handler: SourceLocation,
    },
}

impl fmt::Display for RegistryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegistryError::DuplicateTarget {
                target,
                first,
                second,
            } => write!(
                f,
                "two handlers claim `{target}`: {first} and {second}; keep one, or build the \
                 `Auth` from a subset of the registry with `Auth::builder().module(..)`"
            ),
            RegistryError::DuplicateAuthenticate { first, second } => write!(
                f,
                "two authenticate handlers: {first} and {second}; an `Auth` has exactly one"
            ),
            RegistryError::NoTarget { handler } => {
                write!(f, "the handler {handler} has no target")
            }
            RegistryError::NeverFires { target, handler } => write!(
                f,
                "the handler {handler} is registered for `{target}`, which is not an event: it \
                 could never run; see `Resource::actions` for the actions of each resource"
            ),
        }
    }
}

impl std::error::Error for RegistryError {}

/// Pulls crates of handlers into the binary, so that their registrations are linked.
///
/// The linker keeps nothing from a dependency that no code names: handlers written in a library
/// crate that the binary never references vanish silently from [`registry`]. Name each such
/// crate once, anywhere in the binary:
///
/// ```
/// # extern crate serde_json as my_policy;
/// # extern crate serde as shared_handlers;
/// auth::link!(my_policy, shared_handlers);
/// # fn main() {}
/// ```
///
/// It expands to `use ::my_policy as _;` for each crate (an absolute path: a local module of
/// the same name is not taken for the crate). Then assert in a test that the handlers you
/// expect are there (see [`Auth::handlers`](crate::Auth::handlers)).
#[macro_export]
macro_rules! link {
    ($($krate:ident),+ $(,)?) => {
        $(
            #[allow(unused_imports)]
            use ::$krate as _;
        )+
    };
}
