//! A crate of handlers that the binary names only through `auth::link!` is linked in, and its
//! handlers are in the registry. (`unlinked.rs` shows what happens without it.)

auth::link!(auth_tests_policy);

#[test]
fn linked_crate_registers_its_handlers() {
    let names: Vec<_> = auth::registry().map(|r| r.name()).collect();
    assert_eq!(names, ["no_crons"]);
    let auth = auth::Auth::from_registry().unwrap();
    let handler = auth
        .handler_for(auth::Resource::Crons, auth::Action::Delete)
        .unwrap();
    assert_eq!(handler.module_path(), "auth_tests_policy");
    assert!(handler.file().ends_with("policy/src/lib.rs"));
}
