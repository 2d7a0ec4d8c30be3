//! herald subscribers
use super::Ctx;
use crate::cli::SubscribersCommand;
use crate::error::{ExitStatus, Result};
pub fn run(_ctx: &Ctx, _cmd: SubscribersCommand) -> Result<ExitStatus> { todo!() }
pub fn unsubscribe(_ctx: &Ctx, _token: &str) -> Result<ExitStatus> { todo!() }
