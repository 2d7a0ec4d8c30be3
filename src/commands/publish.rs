//! herald publish
use super::Ctx;
use crate::error::{ExitStatus, Result};
pub fn run(_ctx: &Ctx, _dry_run: bool) -> Result<ExitStatus> { todo!() }
pub fn preview(_ctx: &Ctx, _slug: &str, _list: Option<&str>, _to: Option<&str>) -> Result<ExitStatus> { todo!() }
