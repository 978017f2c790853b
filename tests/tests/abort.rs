//! Under `panic = "abort"`, a refused `ensure!` is a 403 and the process lives.
//!
//! Builds and runs `tests/abort-fixture`, a crate of its own whose profile aborts on panic (a
//! profile applies to a whole build, so it cannot be a target of this crate), in its own target
//! directory under this workspace's.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn refused_ensure_answers_403_under_panic_abort() {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let manifest = here.join("abort-fixture/Cargo.toml");
    let target_dir = here.join("../target/abort-fixture");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["run", "--quiet", "--manifest-path"])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .expect("cargo runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the fixture died ({:?}):\n{stdout}\n{stderr}",
        out.status
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "403 only alice reads threads",
            r#"200 {"owner":"alice"}"#,
            "403 only alice reads threads",
            "alive",
        ],
        "{stderr}"
    );
}
