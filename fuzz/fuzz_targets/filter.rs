//! Filter parsing and matching: bytes → `Filter::from_json` (before the first NUL) matched against
//! metadata (after it). The checks live in `test_support::fuzz_checks`.

#![no_main]

use test_support::fuzz_checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fuzz_checks::check_filter_bytes(data);
});
