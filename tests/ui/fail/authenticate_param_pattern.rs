use auth::MinimalUser;

#[auth::authenticate]
async fn get_user(_: Option<&str>) -> MinimalUser {
    MinimalUser::new("anonymous")
}

fn main() {}
