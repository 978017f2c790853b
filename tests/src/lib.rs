//! Cross-crate tests of `auth` live in `tests/`; this library is empty.
