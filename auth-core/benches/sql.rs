//! What rendering a filter as SQL costs: the tutorial's `Filter::eq("owner", id)` (budget: at most
//! 1 µs) and a larger filter, for PostgreSQL and SQLite, with and without writing out the SQL
//! text; and a metadata search.
//!
//! `cargo bench -p auth-core --features sql --bench sql` (figures: `BENCHMARKS.md`).

use std::hint::black_box;

use auth::Filter;
use auth::sql::Dialect;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;

fn render(c: &mut Criterion) {
    let id = String::from("user1");
    let tutorial = Filter::eq("owner", id.clone());
    let larger = Filter::eq("org", "acme")
        .and(Filter::or([
            Filter::eq("owner", id.clone()),
            Filter::contains("shared_with", id.clone()),
        ]))
        .and(Filter::eq("archived", false))
        .and(Filter::eq("version", 2));
    let search = json!({"tags": ["x"], "source": {"kind": "email"}});
    let search = search.as_object().unwrap();

    let mut g = c.benchmark_group("sql");
    for (name, d) in [("postgres", Dialect::Postgres), ("sqlite", Dialect::Sqlite)] {
        g.bench_function(format!("{name}/tutorial filter: render"), |b| {
            b.iter(|| d.filter(black_box(&tutorial), black_box("metadata")))
        });
        g.bench_function(format!("{name}/tutorial filter: render + sql text"), |b| {
            b.iter(|| {
                let p = d
                    .filter(black_box(&tutorial), black_box("metadata"))
                    .unwrap();
                (p.sql(2), p.into_binds())
            })
        });
        g.bench_function(format!("{name}/tutorial filter built and rendered"), |b| {
            b.iter(|| {
                let f = Filter::eq("owner", black_box(&id).clone());
                let p = d.filter(&f, black_box("metadata")).unwrap();
                (p.sql(2), p.into_binds())
            })
        });
        g.bench_function(format!("{name}/larger filter: render + sql text"), |b| {
            b.iter(|| {
                let p = d.filter(black_box(&larger), black_box("metadata")).unwrap();
                (p.sql(2), p.into_binds())
            })
        });
        g.bench_function(format!("{name}/search: render + sql text"), |b| {
            b.iter(|| {
                let p = d
                    .contains(black_box(search), black_box("metadata"))
                    .unwrap();
                (p.sql(2), p.into_binds())
            })
        });
    }
    g.finish();
}

criterion_group!(benches, render);
criterion_main!(benches);
