//! herald status
use super::Ctx;
use crate::error::{ExitStatus, Result};
pub fn run(_ctx: &Ctx, _json: bool) -> Result<ExitStatus> { todo!() }
