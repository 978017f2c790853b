#[auth::authenticate]
async fn get_user(path: &str) -> usize {
    path.len()
}

fn main() {}
