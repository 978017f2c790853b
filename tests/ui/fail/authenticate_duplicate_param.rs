use auth::{MinimalUser, Request};

#[auth::authenticate]
async fn get_user(request: &Request<'_>, _request: &Request<'_>) -> MinimalUser {
    MinimalUser::new(request.path().to_owned())
}

fn main() {}
