//! The vocabulary the macros check against: resources, their actions, the value type of each
//! event, and the parameter names of `#[authenticate]`.
//!
//! This table is the one source of the vocabulary. The proc-macro crate cannot depend on the
//! runtime, so the runtime depends on it: `auth::Resource`, `auth::Action`, their names, the
//! dense event index and the event table of `auth::types` are generated from [`RESOURCES`] and
//! [`ACTIONS`] through the hidden `__vocabulary!` macro ([`table`]).

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

/// An action name and its `auth::Action` variant.
pub struct ActionInfo {
    pub name: &'static str,
    /// The variant's rustdoc in the runtime.
    pub doc: &'static str,
    pub variant: &'static str,
}

/// One (resource, action) pair: the action (index into [`ACTIONS`]) and the value struct, which
/// is also the marker of the fit check for that event.
pub struct EventInfo {
    pub action: usize,
    pub value: &'static str,
}

/// A resource, its `auth::Resource` variant, its value enum (the marker of the fit check for the
/// whole resource) and its
/// events.
pub struct ResourceInfo {
    pub name: &'static str,
    /// The variant's rustdoc in the runtime.
    pub doc: &'static str,
    pub variant: &'static str,
    pub value_enum: &'static str,
    pub events: &'static [EventInfo],
}

const CREATE: usize = 0;
const READ: usize = 1;
const UPDATE: usize = 2;
const DELETE: usize = 3;
const SEARCH: usize = 4;
const CREATE_RUN: usize = 5;
const PUT: usize = 6;
const GET: usize = 7;
const LIST_NAMESPACES: usize = 8;

pub const ACTIONS: &[ActionInfo] = &[
    ActionInfo {
        name: "create",
        doc: "Create a thread, assistant or cron.",
        variant: "Create",
    },
    ActionInfo {
        name: "read",
        doc: "Read one thread, assistant or cron.",
        variant: "Read",
    },
    ActionInfo {
        name: "update",
        doc: "Update one thread, assistant or cron.",
        variant: "Update",
    },
    ActionInfo {
        name: "delete",
        doc: "Delete one thread, assistant or cron, or a store item.",
        variant: "Delete",
    },
    ActionInfo {
        name: "search",
        doc: "Search (and count) threads, assistants, crons or store items.",
        variant: "Search",
    },
    ActionInfo {
        name: "create_run",
        doc: "Create a run on a thread.",
        variant: "CreateRun",
    },
    ActionInfo {
        name: "put",
        doc: "Put an item into the store.",
        variant: "Put",
    },
    ActionInfo {
        name: "get",
        doc: "Get an item from the store.",
        variant: "Get",
    },
    ActionInfo {
        name: "list_namespaces",
        doc: "List the store's namespaces.",
        variant: "ListNamespaces",
    },
];

const fn ev(action: usize, value: &'static str) -> EventInfo {
    EventInfo { action, value }
}

pub const RESOURCES: &[ResourceInfo] = &[
    ResourceInfo {
        name: "threads",
        doc: "Conversations (threads) and the runs inside them.",
        variant: "Threads",
        value_enum: "ThreadsValue",
        events: &[
            ev(CREATE, "ThreadsCreate"),
            ev(READ, "ThreadsRead"),
            ev(UPDATE, "ThreadsUpdate"),
            ev(DELETE, "ThreadsDelete"),
            ev(SEARCH, "ThreadsSearch"),
            ev(CREATE_RUN, "RunsCreate"),
        ],
    },
    ResourceInfo {
        name: "assistants",
        doc: "Assistants: configured instances of a graph.",
        variant: "Assistants",
        value_enum: "AssistantsValue",
        events: &[
            ev(CREATE, "AssistantsCreate"),
            ev(READ, "AssistantsRead"),
            ev(UPDATE, "AssistantsUpdate"),
            ev(DELETE, "AssistantsDelete"),
            ev(SEARCH, "AssistantsSearch"),
        ],
    },
    ResourceInfo {
        name: "crons",
        doc: "Scheduled runs.",
        variant: "Crons",
        value_enum: "CronsValue",
        events: &[
            ev(CREATE, "CronsCreate"),
            ev(READ, "CronsRead"),
            ev(UPDATE, "CronsUpdate"),
            ev(DELETE, "CronsDelete"),
            ev(SEARCH, "CronsSearch"),
        ],
    },
    ResourceInfo {
        name: "store",
        doc: "The long-term key-value store.",
        variant: "Store",
        value_enum: "StoreValue",
        events: &[
            ev(PUT, "StorePut"),
            ev(GET, "StoreGet"),
            ev(SEARCH, "StoreSearch"),
            ev(DELETE, "StoreDelete"),
            ev(LIST_NAMESPACES, "StoreListNamespaces"),
        ],
    },
];

/// The value type that fits every event.
pub const ANY_VALUE: &str = "AuthValue";

/// The parameters `#[authenticate]` injects by name: (name, marker in `__private::param`, type
/// to write).
pub const AUTH_PARAMS: &[(&str, &str, &str)] = &[
    ("request", "Request", "&Request<'_>"),
    ("body", "Body", "Option<&serde_json::Value>"),
    ("path", "Path", "&str"),
    ("method", "Method", "&str"),
    ("path_params", "PathParams", "&Params"),
    ("query_params", "QueryParams", "&Params"),
    ("headers", "Headers", "&Headers<'_>"),
    ("authorization", "Authorization", "Option<&str>"),
];

/// An event: resource index into [`RESOURCES`], action index into [`ACTIONS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    pub resource: usize,
    pub action: usize,
}

impl Event {
    pub fn value(self) -> &'static str {
        RESOURCES[self.resource]
            .events
            .iter()
            .find(|e| e.action == self.action)
            .map_or(ANY_VALUE, |e| e.value)
    }
}

/// Every event, in a fixed order; the position is the event's bit in a [`Target::mask`].
pub fn events() -> impl Iterator<Item = Event> {
    RESOURCES.iter().enumerate().flat_map(|(resource, r)| {
        r.events.iter().map(move |e| Event {
            resource,
            action: e.action,
        })
    })
}

pub fn resource_named(name: &str) -> Option<usize> {
    RESOURCES.iter().position(|r| r.name == name)
}

pub fn action_named(name: &str) -> Option<usize> {
    ACTIONS.iter().position(|a| a.name == name)
}

pub fn has_action(resource: usize, action: usize) -> bool {
    RESOURCES[resource]
        .events
        .iter()
        .any(|e| e.action == action)
}

/// What a handler is registered for (indices into [`RESOURCES`] and [`ACTIONS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Global,
    Resource(usize),
    Action(usize),
    Event(Event),
}

impl Target {
    /// The set of events this target covers, one bit per event of [`events`].
    pub fn mask(self) -> u32 {
        events()
            .enumerate()
            .filter(|(_, e)| match self {
                Target::Global => true,
                Target::Resource(r) => e.resource == r,
                Target::Action(a) => e.action == a,
                Target::Event(x) => *e == x,
            })
            .fold(0, |m, (i, _)| m | 1 << i)
    }
}

/// The narrowest description of what a handler receives, from the union of its targets' events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Exactly one event.
    Event(Event),
    /// Events of one resource only.
    Resource(usize),
    /// Events of several resources.
    Any,
}

impl Scope {
    pub fn of(mask: u32) -> Scope {
        let covered: Vec<Event> = events()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, e)| e)
            .collect();
        match covered.as_slice() {
            [one] => Scope::Event(*one),
            [first, rest @ ..] if rest.iter().all(|e| e.resource == first.resource) => {
                Scope::Resource(first.resource)
            }
            _ => Scope::Any,
        }
    }

    /// The value types a handler of this scope may declare, narrowest first.
    pub fn fitting(self) -> Vec<&'static str> {
        match self {
            Scope::Event(e) => vec![e.value(), RESOURCES[e.resource].value_enum, ANY_VALUE],
            Scope::Resource(r) => vec![RESOURCES[r].value_enum, ANY_VALUE],
            Scope::Any => vec![ANY_VALUE],
        }
    }

    /// The narrowest value type that fits this scope: the marker of the fit check.
    pub fn marker(self) -> &'static str {
        match self {
            Scope::Event(e) => e.value(),
            Scope::Resource(r) => RESOURCES[r].value_enum,
            Scope::Any => ANY_VALUE,
        }
    }
}

/// Whether `name` is one of the value types of `auth::types` (structs, enums, `AuthValue`).
pub fn is_value_type(name: &str) -> bool {
    name == ANY_VALUE
        || RESOURCES
            .iter()
            .any(|r| r.value_enum == name || r.events.iter().any(|e| e.value == name))
}

/// The vocabulary as tokens for a `macro_rules!` callback of the runtime:
///
/// ```text
/// callback! {
///     resources: [ { Threads, "threads", "doc", ThreadsValue,
///                    [ { Create, "threads.create", ThreadsCreate, 0 }, ... ] }, ... ],
///     actions: [ { Create, "create", "doc" }, ... ],
///     event_count: 21,
/// }
/// ```
///
/// Event indices count events in [`events`] order: resource by resource, each in its own order.
pub fn table(callback: TokenStream) -> TokenStream {
    let ident = |s: &str| Ident::new(s, Span::call_site());
    let mut index = 0usize;
    let resources = RESOURCES
        .iter()
        .map(|r| {
            let (variant, name, doc, value_enum) =
                (ident(r.variant), r.name, r.doc, ident(r.value_enum));
            let events = r
                .events
                .iter()
                .map(|e| {
                    let action = ident(ACTIONS[e.action].variant);
                    let event = format!("{}.{}", r.name, ACTIONS[e.action].name);
                    let value = ident(e.value);
                    let i = proc_macro2::Literal::usize_unsuffixed(index);
                    index += 1;
                    quote!({ #action, #event, #value, #i })
                })
                .collect::<Vec<_>>();
            quote!({ #variant, #name, #doc, #value_enum, [ #(#events),* ] })
        })
        .collect::<Vec<_>>();
    let actions = ACTIONS.iter().map(|a| {
        let (variant, name, doc) = (ident(a.variant), a.name, a.doc);
        quote!({ #variant, #name, #doc })
    });
    let count = proc_macro2::Literal::usize_unsuffixed(index);
    quote! {
        #callback! {
            resources: [ #(#resources),* ],
            actions: [ #(#actions),* ],
            event_count: #count,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twenty_one_events_with_distinct_value_types() {
        let all: Vec<_> = events().collect();
        assert_eq!(all.len(), 21);
        let mut names: Vec<_> = all.iter().map(|e| e.value()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 21);
        assert!(names.iter().all(|n| is_value_type(n)));
        assert!(is_value_type("ThreadsValue") && is_value_type("AuthValue"));
        assert!(!is_value_type("ThreadValue") && !is_value_type("AuthContext"));
    }

    #[test]
    fn masks_and_scopes() {
        let threads = resource_named("threads").unwrap();
        let store = resource_named("store").unwrap();
        let put = action_named("put").unwrap();
        let read = action_named("read").unwrap();
        assert_eq!(Target::Global.mask().count_ones(), 21);
        assert_eq!(Target::Resource(threads).mask().count_ones(), 6);
        assert_eq!(Target::Action(read).mask().count_ones(), 3);
        assert_eq!(
            Target::Action(put).mask(),
            Target::Event(Event {
                resource: store,
                action: put
            })
            .mask()
        );
        assert_eq!(
            Scope::of(Target::Action(put).mask()),
            Scope::Event(Event {
                resource: store,
                action: put
            })
        );
        assert_eq!(Scope::of(Target::Action(read).mask()), Scope::Any);
        assert_eq!(
            Scope::of(Target::Resource(threads).mask()),
            Scope::Resource(threads)
        );
        assert_eq!(Scope::of(Target::Global.mask()), Scope::Any);
        assert_eq!(Scope::Resource(threads).marker(), "ThreadsValue");
        assert_eq!(
            Scope::Resource(threads).fitting(),
            ["ThreadsValue", "AuthValue"]
        );
        assert!(!has_action(threads, put) && has_action(store, put));
    }

    #[test]
    fn the_table_lists_every_event_once_with_its_index() {
        let out = table(quote!(cb)).to_string();
        assert!(
            out.starts_with("cb ! { resources : [{ Threads , \"threads\" ,"),
            "{out}"
        );
        assert!(
            out.contains("{ CreateRun , \"threads.create_run\" , RunsCreate , 5 }"),
            "{out}"
        );
        assert!(
            out.contains(
                "{ ListNamespaces , \"store.list_namespaces\" , StoreListNamespaces , 20 }"
            ),
            "{out}"
        );
        assert!(out.ends_with("event_count : 21 , }"), "{out}");
        assert_eq!(out.matches(", 0 }").count(), 1);
    }
}
