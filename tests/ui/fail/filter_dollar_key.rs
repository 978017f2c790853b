//! A key starting with `$` (other than `$or`/`$and`) is an operator in the JSON form, never a
//! metadata key.

fn main() {
    let _ = auth::filter!({"owner": "u1", "$where": "1 == 1"});
}
