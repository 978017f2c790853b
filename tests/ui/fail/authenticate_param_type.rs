use auth::MinimalUser;

#[auth::authenticate]
async fn get_user(authorization: Option<String>) -> MinimalUser {
    MinimalUser::new(authorization.unwrap_or_default())
}

fn main() {}
