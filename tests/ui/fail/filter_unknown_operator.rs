//! An operator `filter!` does not know is an error at the operator, not a filter that fails at
//! run time.

fn main() {
    let me = "u1";
    let _ = auth::filter!({"owner": {"$ne": me}});
}
