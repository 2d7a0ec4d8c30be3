use std::process::ExitCode;

use clap::Parser;

// A build allocates and frees many small strings on every core at once; with mimalloc's
// per-thread heaps a 10k-post build takes about a quarter less time than with glibc's malloc
// (bench/). Built without transparent huge pages (`no_thp`), which would add some 80 MB of
// resident memory to that build.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
