//! `$or` (and `$and`) needs at least two branches; several mistakes are reported together.

fn main() {
    let _ = auth::filter!({"$or": [{"owner": "u1"}]});
    let _ = auth::filter!({"$and": [], "tags": {"$in": ["x"]}});
}
