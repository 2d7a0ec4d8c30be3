use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = herald::cli::Cli::parse();
    match herald::run(cli) {
        Ok(status) => ExitCode::from(status.code()),
        Err(err) => {
            herald::commands::report_error(&err);
            ExitCode::from(err.exit_status().code())
        }
    }
}
