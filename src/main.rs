//! The `liverkit` command-line program: a thin layer over the library that
//! parses arguments, prints results and maps errors to exit codes.
//!
//! Exit status: 0 success; 1 a clinical check ran and failed (reserved for
//! the assessment commands); 2 an error (bad input, bad arguments). Results go
//! to stdout, messages to stderr prefixed `liverkit:`. A closed pipe on
//! stdout ends the program quietly with status 0.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    // A panic inside a decoder crate is caught and reported as an error on
    // the file; its message still passes through the hook, so say it the
    // way every other message is said.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("liverkit: internal error: {info}");
    }));
    let args = cli::parse();
    let command = args.command_name();
    match cli::run(args) {
        Ok(code) => code,
        Err(cli::Failure::BrokenPipe) => ExitCode::SUCCESS,
        Err(cli::Failure::Error(e)) => {
            eprintln!("liverkit: {}", cli::as_flags(e, command));
            ExitCode::from(2)
        }
    }
}
