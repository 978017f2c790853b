use auth::MinimalUser;

#[auth::authenticate(threads)]
async fn get_user() -> MinimalUser {
    MinimalUser::new("anonymous")
}

fn main() {}
