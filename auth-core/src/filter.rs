//! STUB
use serde_json::{Map, Value};
#[derive(Debug, Clone, PartialEq)]
pub struct Filter(Vec<(String, Value)>);
#[derive(Debug, Clone, PartialEq)]
pub struct FilterError(String);
impl std::fmt::Display for FilterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl Filter {
    pub fn eq(k: impl Into<String>, v: impl Into<Value>) -> Filter {
        Filter(vec![(k.into(), v.into())])
    }
    pub fn error(&self) -> Option<&FilterError> {
        None
    }
    pub fn matches(&self, m: &Map<String, Value>) -> bool {
        self.0.iter().all(|(k, v)| m.get(k) == Some(v))
    }
}
