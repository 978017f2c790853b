//! Authorization-header handling: any header bytes → the tutorial's authenticate handler must
//! answer the right user for a valid token and otherwise 401/403, never panic.

#![no_main]

use std::sync::OnceLock;

use test_support::fuzz_checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    static AUTH: OnceLock<auth::Auth> = OnceLock::new();
    let auth = AUTH.get_or_init(fuzz_checks::tutorial_auth);
    fuzz_checks::check_authorization(auth, Some(data));
});
