use auth::MinimalUser;

#[auth::authenticate]
async fn get_user(autorization: Option<&str>) -> MinimalUser {
    MinimalUser::new(autorization.unwrap_or("anonymous").to_owned())
}

fn main() {}
