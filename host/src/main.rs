//! The `oauth-callback` command: a thin user of the library's command line
//! ([`oauth_callback::cli`]).

fn main() -> std::process::ExitCode {
    oauth_callback::cli::main()
}
