//! herald serve
use super::Ctx;
use crate::error::{ExitStatus, Result};
pub fn run(_ctx: &Ctx, _listen: Option<String>) -> Result<ExitStatus> {
    todo!()
}
