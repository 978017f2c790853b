//! Why `auth::link!` exists: the package depends on `auth-tests-policy`, but this test binary
//! never names it, so the linker drops it and its handler is silently missing from the registry.
//! If this test ever fails, the toolchain started keeping unreferenced crates: `link!` is then
//! harmless, and this test can go.

#[test]
fn unreferenced_crate_is_not_linked() {
    assert_eq!(auth::registry().count(), 0);
    let auth = auth::Auth::from_registry().unwrap();
    assert_eq!(auth.handlers().count(), 0);
    assert_eq!(auth.uncovered().len(), auth::events().count());
}
