//! `#[auth::authenticate]`: each parameter name (with or without a leading `_`), in any order,
//! none at all, and each return form.

use auth::{Auth, AuthUser, Headers, HttpException, MinimalUser, Params, Request};
use serde_json::{Value, json};

mod none {
    #[auth::authenticate]
    async fn anyone() -> &'static str {
        "anonymous"
    }
}

mod every_name {
    use super::*;

    #[auth::authenticate]
    async fn every(
        authorization: Option<&str>,
        headers: &Headers<'_>,
        query_params: &Params,
        path_params: &Params,
        method: &str,
        path: &str,
        body: Option<&Value>,
        request: &Request<'_>,
    ) -> String {
        format!(
            "{} {method} {path} q={} p={} body={} h={} same={}",
            authorization.unwrap_or("-"),
            query_params.get("q").unwrap_or("-"),
            path_params.get("id").unwrap_or("-"),
            body.is_some(),
            headers.get("x-test").unwrap_or("-"),
            std::ptr::eq(request.path(), path),
        )
    }
}

mod underscored {
    use super::*;

    #[auth::authenticate]
    async fn ignores(_request: &Request<'_>, _body: Option<&Value>) -> MinimalUser {
        MinimalUser::new("u").with_display_name("You")
    }
}

mod required_header {
    use super::*;

    #[auth::authenticate]
    async fn bearer(authorization: &str) -> Result<AuthUser, HttpException> {
        match authorization.strip_prefix("Bearer ") {
            Some(token) => Ok(AuthUser::new(token.to_owned())),
            None => Err(HttpException::new(401).with_detail("bad scheme")),
        }
    }
}

mod json_user {
    use super::*;

    #[auth::authenticate]
    async fn from_json(method: &str) -> Result<Value, HttpException> {
        Ok(json!({"identity": method.to_lowercase(), "permissions": ["read"]}))
    }
}

mod ensures {
    use super::*;

    #[auth::authenticate]
    async fn strict(authorization: Option<&str>) -> Result<MinimalUser, HttpException> {
        auth::ensure!(authorization.is_some(), "Missing authorization header");
        Ok(MinimalUser::new("x"))
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let root = module_path!();
    let run = |module: &str, request: &Request<'_>| {
        let auth = Auth::builder()
            .module(&format!("{root}::{module}"))
            .build()
            .unwrap();
        assert_eq!(auth.handlers().count(), 1);
        rt.block_on(auth.authenticate(request))
    };
    let plain = Request::new("GET", "/threads");

    assert_eq!(run("none", &plain).unwrap().identity(), "anonymous");

    let headers = [("authorization", "Bearer t"), ("x-test", "yes")];
    let body = json!({"a": 1});
    let path_params: Params = [("id", "42")].into_iter().collect();
    let request = Request::new("POST", "/threads/42")
        .with_query("q=search")
        .with_headers(&headers)
        .with_body(Some(&body))
        .with_path_params(&path_params);
    assert_eq!(
        run("every_name", &request).unwrap().identity(),
        "Bearer t POST /threads/42 q=search p=42 body=true h=yes same=true"
    );

    let user = run("underscored", &plain).unwrap();
    assert_eq!((user.identity(), user.display_name()), ("u", "You"));

    assert_eq!(run("required_header", &request).unwrap().identity(), "t");
    // `authorization: &str` without the header: 401 before the function runs
    assert_eq!(run("required_header", &plain).unwrap_err().status(), 401);

    let user = run("json_user", &plain).unwrap();
    assert_eq!(
        (user.identity(), user.permissions()),
        ("get", &["read".to_owned()][..])
    );

    let error = run("ensures", &plain).unwrap_err();
    assert_eq!(
        (error.status(), error.detail()),
        (401, "Missing authorization header")
    );
}
