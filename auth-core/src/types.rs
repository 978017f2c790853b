//! STUB
use crate::{Action, Resource};
use serde_json::{Map, Value};
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ThreadsCreate {
    pub thread_id: Option<String>,
    pub metadata: Option<Map<String, Value>>,
}
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ThreadsRead {
    pub thread_id: Option<String>,
}
#[derive(Debug, Clone, PartialEq)]
pub enum ThreadsValue {
    Create(ThreadsCreate),
    Read(ThreadsRead),
}
#[derive(Debug, Clone, PartialEq)]
pub enum StoreValue {}
#[derive(Debug, Clone, PartialEq)]
pub enum AuthValue {
    Threads(ThreadsValue),
}
impl StoreValue {
    pub fn namespace(&self) -> Option<Vec<String>> {
        None
    }
}
impl AuthValue {
    pub fn resource(&self) -> Resource {
        Resource::Threads
    }
    pub fn action(&self) -> Action {
        match self {
            AuthValue::Threads(ThreadsValue::Create(_)) => Action::Create,
            _ => Action::Read,
        }
    }
    pub fn event_index(&self) -> usize {
        crate::event_index(self.resource(), self.action()).unwrap()
    }
    pub fn metadata(&self) -> Option<&Map<String, Value>> {
        match self {
            AuthValue::Threads(ThreadsValue::Create(c)) => c.metadata.as_ref(),
            _ => None,
        }
    }
}
impl From<ThreadsCreate> for AuthValue {
    fn from(v: ThreadsCreate) -> Self {
        AuthValue::Threads(ThreadsValue::Create(v))
    }
}
impl From<ThreadsRead> for AuthValue {
    fn from(v: ThreadsRead) -> Self {
        AuthValue::Threads(ThreadsValue::Read(v))
    }
}
pub trait HandlerValue: Sized + Send + 'static {
    fn project_ref(v: &AuthValue) -> Option<&Self>;
    fn project_mut(v: &mut AuthValue) -> Option<&mut Self>;
}
impl HandlerValue for AuthValue {
    fn project_ref(v: &AuthValue) -> Option<&Self> {
        Some(v)
    }
    fn project_mut(v: &mut AuthValue) -> Option<&mut Self> {
        Some(v)
    }
}
impl HandlerValue for ThreadsCreate {
    fn project_ref(v: &AuthValue) -> Option<&Self> {
        match v {
            AuthValue::Threads(ThreadsValue::Create(c)) => Some(c),
            _ => None,
        }
    }
    fn project_mut(v: &mut AuthValue) -> Option<&mut Self> {
        match v {
            AuthValue::Threads(ThreadsValue::Create(c)) => Some(c),
            _ => None,
        }
    }
}
pub trait Fits<E> {}
pub mod ev {
    pub struct ThreadsCreate;
    pub struct Any;
}
impl Fits<ev::ThreadsCreate> for ThreadsCreate {}
impl Fits<ev::Any> for AuthValue {}
