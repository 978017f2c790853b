//! Handlers in a library crate that the test binary never names except through `auth::link!`.

use auth::types::CronsValue;
use auth::{AuthContext, HttpException};

/// Refuses every cron operation.
#[auth::on(crons)]
pub async fn no_crons(_ctx: &AuthContext, _value: &mut CronsValue) -> Result<(), HttpException> {
    Err(HttpException::new(403).with_detail("crons are disabled"))
}
