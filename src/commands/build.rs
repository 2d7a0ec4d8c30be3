//! `herald build`: render every feed, then write them; on any error nothing is written.

use super::Ctx;
use super::show::Printer;
use crate::error::{ExitStatus, Result};
use crate::site::Site;

pub fn run(ctx: &Ctx) -> Result<ExitStatus> {
    let config = ctx.config()?;
    let printer = Printer::new(ctx.ui, &config);
    Site::new(&config, ctx.now).build(&printer)?;
    printer.printed()?;
    Ok(ExitStatus::Success)
}
