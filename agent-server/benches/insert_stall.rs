//! Whether one insert into the in-memory thread store stalls as the store grows: a table that
//! grows by doubling, under the store's write lock, holds every other request for as long as it
//! takes to move every row (the `POST /threads` p99 of `bench/load.sh`, BENCHMARKS.md).
//!
//! Inserts `STALL_THREADS` threads (default 1,000,000) of one owner, as `POST /threads` does
//! under load, timing each insert alone, and prints the distribution of those times: the
//! slowest inserts, and how many took over 1 ms and over 5 ms. Not a criterion bench: what it
//! looks for is the worst case, which a mean hides. Each insert is timed twice: by the clock on
//! the wall, and by the CPU time of the thread (on Linux and other Unix systems), which is what
//! the insert costs whatever else runs on the machine: a stall of the store shows in both, a
//! pause of the process by the scheduler only in the first.
//!
//! `cargo bench -p private-conversations --bench insert_stall`

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use agent_server::Storage;
use agent_server::authz::Scope;
use agent_server::testing::IfExists;
use agent_server::testing::Object;
use agent_server::testing::new_thread;

/// The in-memory store answers at once: poll its future once, without a runtime.
fn ready<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the in-memory store waited"),
    }
}

/// The CPU time of the calling thread (zero where there is no such clock).
fn thread_cpu() -> Duration {
    #[cfg(unix)]
    {
        let mut t = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `t` is a valid, writable timespec; the clock id is a constant of the system.
        if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) } == 0 {
            return Duration::new(t.tv_sec as u64, t.tv_nsec as u32);
        }
    }
    Duration::ZERO
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

/// The distribution of `times` (one per insert), and the slowest inserts.
fn report(what: &str, times: &[Duration]) {
    let n = times.len();
    let mut sorted = times.to_vec();
    sorted.sort_unstable();
    let at = |q: f64| sorted[((n as f64 * q) as usize).min(n - 1)];
    let over = |limit: Duration| times.iter().filter(|t| **t > limit).count();
    let spent: Duration = times.iter().sum();
    println!(
        "{what}: mean {:.2} µs, p50 {}, p99 {}, p99.9 {}, max {}; over 1 ms: {}, over 5 ms: {}",
        spent.as_secs_f64() * 1e6 / n as f64,
        ms(at(0.50)),
        ms(at(0.99)),
        ms(at(0.999)),
        ms(sorted[n - 1]),
        over(Duration::from_millis(1)),
        over(Duration::from_millis(5))
    );
    let mut slowest: Vec<(Duration, usize)> = times.iter().copied().zip(0..).collect();
    slowest.sort_unstable_by(|a, b| b.cmp(a));
    let worst: Vec<String> = slowest
        .iter()
        .take(6)
        .map(|(t, i)| format!("{} (insert {i})", ms(*t)))
        .collect();
    println!("  slowest: {}", worst.join(", "));
}

fn main() {
    let n: usize = match std::env::var("STALL_THREADS") {
        Ok(v) => v.parse().expect("STALL_THREADS is a number of threads"),
        Err(_) => 1_000_000,
    };
    assert!(n > 0, "STALL_THREADS is at least 1");
    let storage = Storage::in_memory();
    let scope = Scope::system_for_tests("insert_stall bench");
    let mut wall = Vec::with_capacity(n);
    let mut cpu = Vec::with_capacity(n);
    let started = Instant::now();
    for _ in 0..n {
        let mut metadata = Object::new();
        metadata.insert("owner".into(), "user1".into());
        let thread = new_thread(uuid::Uuid::new_v4().to_string(), metadata);
        let (at, at_cpu) = (Instant::now(), thread_cpu());
        ready(storage.threads().insert(thread, IfExists::Raise, &scope)).expect("a new id");
        cpu.push(thread_cpu().saturating_sub(at_cpu));
        wall.push(at.elapsed());
    }
    println!(
        "{n} inserts of one owner's threads into an empty in-memory store, {:.2?} in all",
        started.elapsed()
    );
    report("per insert, wall clock", &wall);
    report("per insert, thread CPU time", &cpu);
}
