#[auth::on(threads.create)]
struct Policy;

fn main() {}
