use auth::MinimalUser;

#[auth::authenticate]
fn get_user() -> MinimalUser {
    MinimalUser::new("anonymous")
}

fn main() {}
