//! The vocabulary of authorization events: [`Resource`]s, [`Action`]s and the [`Target`] a
//! handler is registered for.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A kind of resource that LangGraph's server guards.
///
/// Spelled as LangGraph spells it (`threads`, `assistants`, `crons`, `store`) in
/// [`Display`](fmt::Display), [`FromStr`] and serde.
///
/// ```
/// use auth::Resource;
/// assert_eq!(Resource::Threads.to_string(), "threads");
/// assert_eq!("store".parse::<Resource>().unwrap(), Resource::Store);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Resource {
    /// Conversations (threads) and the runs inside them.
    Threads,
    /// Assistants: configured instances of a graph.
    Assistants,
    /// Scheduled runs.
    Crons,
    /// The long-term key-value store.
    Store,
}

/// An operation on a [`Resource`].
///
/// Spelled as LangGraph spells it (`create`, `read`, …, `create_run`, `list_namespaces`).
/// Not every action exists for every resource: see [`Resource::actions`].
///
/// ```
/// use auth::Action;
/// assert_eq!(Action::CreateRun.to_string(), "create_run");
/// assert_eq!("list_namespaces".parse::<Action>().unwrap(), Action::ListNamespaces);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Action {
    /// Create a thread, assistant or cron.
    Create,
    /// Read one thread, assistant or cron.
    Read,
    /// Update one thread, assistant or cron.
    Update,
    /// Delete one thread, assistant or cron.
    Delete,
    /// Search (and count) threads, assistants or crons.
    Search,
    /// Create a run on a thread.
    CreateRun,
    /// Put an item into the store.
    Put,
    /// Get an item from the store.
    Get,
    /// List the store's namespaces.
    ListNamespaces,
}

impl Resource {
    /// Every resource, in LangGraph's order.
    pub const ALL: &'static [Resource] = &[
        Resource::Threads,
        Resource::Assistants,
        Resource::Crons,
        Resource::Store,
    ];

    /// The resource's name as LangGraph spells it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Resource::Threads => "threads",
            Resource::Assistants => "assistants",
            Resource::Crons => "crons",
            Resource::Store => "store",
        }
    }

    /// The actions that exist for this resource, in LangGraph's order.
    ///
    /// ```
    /// use auth::{Action, Resource};
    /// assert!(Resource::Threads.actions().contains(&Action::CreateRun));
    /// assert!(!Resource::Threads.actions().contains(&Action::Put));
    /// ```
    pub const fn actions(self) -> &'static [Action] {
        use Action::*;
        match self {
            Resource::Threads => &[Create, Read, Update, Delete, Search, CreateRun],
            Resource::Assistants | Resource::Crons => &[Create, Read, Update, Delete, Search],
            Resource::Store => &[Put, Get, Search, Delete, ListNamespaces],
        }
    }

    /// Whether `action` exists for this resource.
    pub const fn has(self, action: Action) -> bool {
        event_index(self, action).is_some()
    }
}

impl Action {
    /// Every action.
    pub const ALL: &'static [Action] = &[
        Action::Create,
        Action::Read,
        Action::Update,
        Action::Delete,
        Action::Search,
        Action::CreateRun,
        Action::Put,
        Action::Get,
        Action::ListNamespaces,
    ];

    /// The action's name as LangGraph spells it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Read => "read",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::Search => "search",
            Action::CreateRun => "create_run",
            Action::Put => "put",
            Action::Get => "get",
            Action::ListNamespaces => "list_namespaces",
        }
    }
}

/// The number of valid (resource, action) pairs: the events a server emits.
pub(crate) const EVENT_COUNT: usize = 21;

/// The dense index of a valid (resource, action) pair, or `None` for a pair that does not exist
/// (such as `threads.put`). Used to build the dispatcher's fixed table.
pub(crate) const fn event_index(resource: Resource, action: Action) -> Option<usize> {
    use Action::*;
    let i = match (resource, action) {
        (Resource::Threads, Create) => 0,
        (Resource::Threads, Read) => 1,
        (Resource::Threads, Update) => 2,
        (Resource::Threads, Delete) => 3,
        (Resource::Threads, Search) => 4,
        (Resource::Threads, CreateRun) => 5,
        (Resource::Assistants, Create) => 6,
        (Resource::Assistants, Read) => 7,
        (Resource::Assistants, Update) => 8,
        (Resource::Assistants, Delete) => 9,
        (Resource::Assistants, Search) => 10,
        (Resource::Crons, Create) => 11,
        (Resource::Crons, Read) => 12,
        (Resource::Crons, Update) => 13,
        (Resource::Crons, Delete) => 14,
        (Resource::Crons, Search) => 15,
        (Resource::Store, Put) => 16,
        (Resource::Store, Get) => 17,
        (Resource::Store, Search) => 18,
        (Resource::Store, Delete) => 19,
        (Resource::Store, ListNamespaces) => 20,
        _ => return None,
    };
    Some(i)
}

/// Every valid (resource, action) pair: the events a server emits, resource by resource in
/// LangGraph's order.
///
/// ```
/// assert_eq!(auth::events().count(), 21);
/// assert!(auth::events().any(|e| e == (auth::Resource::Store, auth::Action::ListNamespaces)));
/// ```
pub fn events() -> impl Iterator<Item = (Resource, Action)> {
    Resource::ALL
        .iter()
        .copied()
        .flat_map(|r| r.actions().iter().map(move |a| (r, *a)))
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing a [`Resource`] or an [`Action`] from an unknown name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownName {
    kind: &'static str,
    name: String,
}

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown {} `{}`", self.kind, self.name)
    }
}

impl std::error::Error for UnknownName {}

impl FromStr for Resource {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Resource::ALL
            .iter()
            .copied()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownName {
                kind: "resource",
                name: s.to_owned(),
            })
    }
}

impl FromStr for Action {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Action::ALL
            .iter()
            .copied()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| UnknownName {
                kind: "action",
                name: s.to_owned(),
            })
    }
}

macro_rules! serde_by_name {
    ($ty:ty) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let name = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                name.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

serde_by_name!(Resource);
serde_by_name!(Action);
serde_by_name!(Target);

/// What an authorization handler is registered for, from the most specific to the least.
///
/// | level | macro form | precedence |
/// |---|---|---|
/// | [`Target::Event`] | `#[auth::on(threads.create)]` | 1 (first) |
/// | [`Target::Resource`] | `#[auth::on(threads)]` | 2 |
/// | [`Target::Action`] | `#[auth::on(*.create)]` | 3 |
/// | [`Target::Global`] | `#[auth::on]` | 4 (last) |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Target {
    /// One action of one resource.
    Event(Resource, Action),
    /// Every action of one resource.
    Resource(Resource),
    /// One action of every resource that has it.
    Action(Action),
    /// Every event.
    Global,
}

impl Target {
    /// The precedence level: 0 is the most specific.
    pub(crate) const fn level(self) -> usize {
        match self {
            Target::Event(..) => 0,
            Target::Resource(_) => 1,
            Target::Action(_) => 2,
            Target::Global => 3,
        }
    }

    /// Whether some event matches this target: `false` for an event that does not exist, such
    /// as `Target::Event(Resource::Threads, Action::Put)`.
    ///
    /// ```
    /// use auth::{Action, Resource, Target};
    /// assert!(Target::Event(Resource::Store, Action::Put).fires());
    /// assert!(!Target::Event(Resource::Threads, Action::Put).fires());
    /// assert!(Target::Action(Action::Put).fires());
    /// ```
    pub fn fires(self) -> bool {
        crate::events().any(|(r, a)| self.covers(r, a))
    }

    /// Whether this target covers the event `(resource, action)`.
    pub fn covers(self, resource: Resource, action: Action) -> bool {
        match self {
            Target::Event(r, a) => r == resource && a == action,
            Target::Resource(r) => r == resource,
            Target::Action(a) => a == action,
            Target::Global => true,
        }
    }
}

impl fmt::Display for Target {
    /// Written as in the macro: `threads.create`, `threads`, `*.create`, `*`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Event(r, a) => write!(f, "{r}.{a}"),
            Target::Resource(r) => write!(f, "{r}"),
            Target::Action(a) => write!(f, "*.{a}"),
            Target::Global => f.write_str("*"),
        }
    }
}

impl FromStr for Target {
    type Err = UnknownName;

    /// Reads a target as the macro writes it: `threads.create`, `threads`, `*.create` or `*`. A
    /// pair that is not an event (`threads.put`) is an error.
    ///
    /// ```
    /// use auth::{Action, Resource, Target};
    /// assert_eq!("threads.create".parse::<Target>()?, Target::Event(Resource::Threads, Action::Create));
    /// assert_eq!("*.read".parse::<Target>()?, Target::Action(Action::Read));
    /// assert_eq!("store".parse::<Target>()?, Target::Resource(Resource::Store));
    /// assert_eq!("*".parse::<Target>()?, Target::Global);
    /// assert!("threads.put".parse::<Target>().is_err());
    /// assert_eq!(serde_json::to_string(&Target::Action(Action::Read)).unwrap(), r#""*.read""#);
    /// # Ok::<(), auth::UnknownName>(())
    /// ```
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let unknown = || UnknownName {
            kind: "target",
            name: s.to_owned(),
        };
        let target = match s.split_once('.') {
            None if s == "*" => Target::Global,
            None => Target::Resource(s.parse().map_err(|_| unknown())?),
            Some(("*", action)) => Target::Action(action.parse().map_err(|_| unknown())?),
            Some((resource, action)) => Target::Event(
                resource.parse().map_err(|_| unknown())?,
                action.parse().map_err(|_| unknown())?,
            ),
        };
        if target.fires() {
            Ok(target)
        } else {
            Err(unknown())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for &r in Resource::ALL {
            assert_eq!(r.to_string().parse::<Resource>().unwrap(), r);
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(serde_json::from_str::<Resource>(&json).unwrap(), r);
        }
        for &a in Action::ALL {
            assert_eq!(a.to_string().parse::<Action>().unwrap(), a);
            let json = serde_json::to_string(&a).unwrap();
            assert_eq!(serde_json::from_str::<Action>(&json).unwrap(), a);
        }
        assert!("thread".parse::<Resource>().is_err());
        assert!("createRun".parse::<Action>().is_err());
        assert!(serde_json::from_str::<Action>("\"Create\"").is_err());
    }

    #[test]
    fn event_index_is_dense_and_matches_the_table() {
        let all: Vec<_> = events().collect();
        assert_eq!(all.len(), EVENT_COUNT);
        for (i, (r, a)) in all.iter().enumerate() {
            assert_eq!(event_index(*r, *a), Some(i));
        }
        let mut valid = 0;
        for &r in Resource::ALL {
            for &a in Action::ALL {
                if r.has(a) {
                    valid += 1;
                } else {
                    assert_eq!(event_index(r, a), None);
                }
            }
        }
        assert_eq!(valid, EVENT_COUNT);
        assert!(!Resource::Threads.has(Action::Put));
        assert!(Resource::Store.has(Action::ListNamespaces));
    }

    #[test]
    fn targets_round_trip_through_their_names() {
        let mut all = vec![Target::Global];
        all.extend(Resource::ALL.iter().map(|&r| Target::Resource(r)));
        all.extend(Action::ALL.iter().map(|&a| Target::Action(a)));
        all.extend(events().map(|(r, a)| Target::Event(r, a)));
        for t in all {
            assert_eq!(t.to_string().parse::<Target>().unwrap(), t);
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(serde_json::from_str::<Target>(&json).unwrap(), t);
        }
        for bad in [
            "threads.put",
            "*.nothing",
            "thread",
            "",
            "threads.",
            ".create",
            "*.*",
        ] {
            assert!(bad.parse::<Target>().is_err(), "{bad}");
        }
    }

    #[test]
    fn target_display_and_cover() {
        assert_eq!(
            Target::Event(Resource::Threads, Action::Create).to_string(),
            "threads.create"
        );
        assert_eq!(Target::Action(Action::Read).to_string(), "*.read");
        assert!(Target::Action(Action::Read).covers(Resource::Crons, Action::Read));
        assert!(!Target::Resource(Resource::Store).covers(Resource::Crons, Action::Read));
    }
}
