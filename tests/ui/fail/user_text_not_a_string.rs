use auth::{HttpException, MinimalUser};

#[auth::authenticate]
async fn get_user(path: &str) -> Result<MinimalUser, HttpException> {
    // The identity must be a string: a number is refused where it is passed.
    Ok(MinimalUser::new(path.len()))
}

fn main() {}
