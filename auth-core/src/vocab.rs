//! The vocabulary of authorization events: [`Resource`]s, [`Action`]s and the [`Target`] a
//! handler is registered for.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Defines [`Resource`], [`Action`], their names, [`Resource::actions`] and the dense event
/// index from the vocabulary table of `auth-macros` (`__vocabulary!`), the one the macros check
/// handlers against: the runtime and the macros cannot disagree on a name or an event.
macro_rules! define_vocabulary {
    (
        resources: [$({
            $Res:ident, $res_name:literal, $res_doc:literal, $Enum:ident,
            [$({ $Act:ident, $event:literal, $Struct:ident, $idx:literal }),*]
        }),*],
        actions: [$({ $Action:ident, $act_name:literal, $act_doc:literal }),*],
        event_count: $count:literal,
    ) => {
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
            $(
                #[doc = $res_doc]
                $Res,
            )*
        }

        /// An operation on a [`Resource`].
        ///
        /// Spelled as LangGraph spells it (`create`, `read`, …, `create_run`,
        /// `list_namespaces`). Not every action exists for every resource: see
        /// [`Resource::actions`].
        ///
        /// ```
        /// use auth::Action;
        /// assert_eq!(Action::CreateRun.to_string(), "create_run");
        /// assert_eq!("list_namespaces".parse::<Action>().unwrap(), Action::ListNamespaces);
        /// ```
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum Action {
            $(
                #[doc = $act_doc]
                $Action,
            )*
        }

        impl Resource {
            /// Every resource, in LangGraph's order.
            pub const ALL: &'static [Resource] = &[$(Resource::$Res),*];

            /// The resource's name as LangGraph spells it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Resource::$Res => $res_name,)*
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
                match self {
                    $(Resource::$Res => &[$(Action::$Act),*],)*
                }
            }
        }

        impl Action {
            /// Every action.
            pub const ALL: &'static [Action] = &[$(Action::$Action),*];

            /// The action's name as LangGraph spells it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Action::$Action => $act_name,)*
                }
            }
        }

        /// The number of valid (resource, action) pairs: the events a server emits.
        pub(crate) const EVENT_COUNT: usize = $count;

        /// The dense index of a valid (resource, action) pair, or `None` for a pair that does
        /// not exist (such as `threads.put`). Used to build the dispatcher's fixed table.
        pub(crate) const fn event_index(resource: Resource, action: Action) -> Option<usize> {
            match (resource, action) {
                $($((Resource::$Res, Action::$Act) => Some($idx),)*)*
                _ => None,
            }
        }

        /// The vocabulary as the macros see it: `(event name, value struct name, index)` per
        /// event, for the test that the runtime agrees.
        #[cfg(test)]
        pub(crate) const MACRO_VIEW: &[(&str, &str, usize)] = &[
            $($(($event, stringify!($Struct), $idx),)*)*
        ];
    };
}

auth_macros::__vocabulary!(define_vocabulary);

impl Resource {
    /// Whether `action` exists for this resource.
    pub const fn has(self, action: Action) -> bool {
        event_index(self, action).is_some()
    }
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

    /// The macros and the runtime read one table; this checks that what the runtime derives
    /// from it (names, actions per resource, dense index, the value struct of each event) is
    /// what the macros check handlers against.
    #[test]
    fn the_macro_crate_and_the_runtime_agree() {
        use crate::types::AuthValue;
        let runtime: Vec<_> = events().collect();
        assert_eq!(runtime.len(), MACRO_VIEW.len());
        assert_eq!(EVENT_COUNT, MACRO_VIEW.len());
        for (i, (&(event, value, index), (r, a))) in MACRO_VIEW.iter().zip(&runtime).enumerate() {
            assert_eq!(index, i);
            assert_eq!(event, format!("{r}.{a}"));
            assert_eq!(event.parse::<Target>().unwrap(), Target::Event(*r, *a));
            assert_eq!(event_index(*r, *a), Some(i));
            // The value the runtime builds for this event is the struct the macros name.
            let built = AuthValue::from_json(*r, *a, serde_json::json!({})).ok();
            let json = match r {
                Resource::Store => serde_json::json!({"namespace": [], "key": "k"}),
                _ => serde_json::json!({"assistant_id": "a"}),
            };
            let built = built
                .or_else(|| AuthValue::from_json(*r, *a, json).ok())
                .unwrap();
            assert_eq!((built.resource(), built.action()), (*r, *a));
            assert_eq!(built.event_index(), i);
            assert!(
                format!("{built:?}").contains(&format!("({value} {{")),
                "{event}: {built:?} is not a {value}"
            );
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
