//! The `oauth-callback` command: a thin user of the library.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    match cli::Cli::parse().run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("oauth-callback: {}", e.report());
            ExitCode::from(e.exit_code())
        }
    }
}
