//! What the workspace's tests, benchmarks and fuzz targets share (not published):
//!
//! - [`database`] (feature `database`): a database per test server or test, on the backend the
//!   environment names: a PostgreSQL database created on `TEST_DATABASE_URL` and dropped after, a
//!   SQLite file removed after; PostgreSQL unreachable skips the test locally and fails it when
//!   `CI` is set. It hands out URLs: the tests open them with their own driver or storage.
//! - [`fuzz_checks`] (feature `fuzz`): the checks of the cargo-fuzz targets (`fuzz/`), also fed
//!   generated inputs by the server's `tests/it/fuzz_inputs.rs` in a normal `cargo test`.

#[cfg(feature = "database")]
pub mod database;
#[cfg(feature = "database")]
pub use database::{Backend, TestDatabase};

#[cfg(feature = "fuzz")]
pub mod fuzz_checks;
