//! Compile tests of `#[auth::on]` and `#[auth::authenticate]` (trybuild): every accepted form
//! compiles and runs (`ui/pass`), and every mistake is one error at the token to change
//! (`ui/fail`, checked against the `.stderr` snapshots next to each case; regenerate them with
//! `TRYBUILD=overwrite cargo test -p auth-tests --test ui` on the pinned toolchain, then read
//! the diff).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("ui/pass/*.rs");
    t.compile_fail("ui/fail/*.rs");
}
