//! The command line every tool shares: `--version`, argh parsing and the exit code.
//!
//! argh has no `--version`, and it parses before a tool sees any flag, so a tool
//! with a required subcommand (`ca-check`) would refuse `ca-check --version`.
//! [`main`] therefore answers `--version` from the raw arguments first, adds it to
//! argh's help, and only then lets argh parse. A writing tool ends its run
//! with [`finish`].

use std::io::{self, Write as _};
use std::process::ExitCode;

use argh::TopLevelCommand;

use crate::pki::error::{Result, stdout_result};
use crate::pki::text::one_line;

mod finish;
pub mod flags;

pub use finish::{Planned, finish};

/// The workspace version: every tool is versioned with the workspace, so this
/// crate's version is each tool's.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The short git commit the tools were built from (see `build.rs`), or `None`
/// when they were not built from a git checkout.
pub const COMMIT: Option<&str> = option_env!("K3S_PKI_GIT_COMMIT");

/// The help line added to argh's options, aligned to argh's description column.
const VERSION_HELP: &str = "  --version         print the name, version and git commit, then exit";

/// What `--version` prints: `<tool> <version>`, then `(commit <hash>)` when built
/// from a git checkout.
pub fn version_line(tool: &str) -> String {
    match COMMIT {
        Some(commit) => format!("{tool} {VERSION} (commit {commit})"),
        None => format!("{tool} {VERSION}"),
    }
}

/// What a command line asks for.
#[derive(Debug)]
pub enum Parsed<T> {
    /// A run with these arguments.
    Run(T),
    /// Print this to stdout and exit 0 (`--version`, `--help`).
    Print(String),
    /// Print this to stderr and exit 1 (arguments argh refused).
    Refuse(String),
}

/// Parses `args` (without the program name) for `tool`: `--version` anywhere
/// before a `--` wins, then argh, whose help gains the `--version` line.
pub fn parse<T: TopLevelCommand>(tool: &str, args: &[&str]) -> Parsed<T> {
    if args
        .iter()
        .take_while(|arg| **arg != "--")
        .any(|arg| *arg == "--version")
    {
        return Parsed::Print(version_line(tool));
    }
    match T::from_args(&[tool], args) {
        Ok(parsed) => Parsed::Run(parsed),
        Err(exit) => match exit.status {
            Ok(()) => Parsed::Print(with_version_help(&exit.output)),
            Err(()) => Parsed::Refuse(format!(
                "{}\nRun {tool} --help for more information.",
                exit.output
            )),
        },
    }
}

/// argh's help with [`VERSION_HELP`] after its own help flag, the last option.
fn with_version_help(help: &str) -> String {
    let mut lines: Vec<&str> = help.lines().collect();
    if let Some(at) = lines
        .iter()
        .position(|line| line.ends_with("display usage information"))
    {
        lines.insert(at + 1, VERSION_HELP);
    }
    lines.join("\n")
}

/// A tool's `main`: parses the process arguments (see [`parse`]), runs `run` and
/// maps its outcome to the exit code: 0 when it succeeded and its checks passed
/// (`Ok(true)`), 1 otherwise, with an error printed once as `<tool>: error: ...`.
pub fn main<T: TopLevelCommand>(tool: &str, run: impl FnOnce(T) -> Result<bool>) -> ExitCode {
    main_with(tool, run, ExitCode::FAILURE)
}

/// A check's `main` (ripgrep's convention): 0 when the check ran clean, 1 when
/// it ran and found problems (`Ok(false)`), 2 when it could not run: bad
/// arguments, or an error such as an unreadable directory.
pub fn check_main<T: TopLevelCommand>(tool: &str, run: impl FnOnce(T) -> Result<bool>) -> ExitCode {
    main_with(tool, run, ExitCode::from(2))
}

/// [`main`] with the exit code for errors and refused arguments.
fn main_with<T: TopLevelCommand>(
    tool: &str,
    run: impl FnOnce(T) -> Result<bool>,
    could_not_run: ExitCode,
) -> ExitCode {
    let args: Vec<String> = match std::env::args_os()
        .skip(1)
        .map(|arg| arg.into_string())
        .collect()
    {
        Ok(args) => args,
        Err(arg) => {
            eprintln!(
                "{tool}: error: argument is not valid UTF-8: {}",
                arg.to_string_lossy()
            );
            return could_not_run;
        }
    };
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let outcome = match parse(tool, &args) {
        Parsed::Run(args) => run(args),
        Parsed::Print(text) => stdout_result(writeln!(io::stdout(), "{text}")).map(|()| true),
        Parsed::Refuse(text) => {
            eprintln!("{text}");
            return could_not_run;
        }
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            // One line, whatever a path in the message holds.
            eprintln!("{tool}: error: {}", one_line(&error.to_string()));
            could_not_run
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argh::FromArgs;

    /// a tool with a required subcommand, like ca-check
    #[derive(FromArgs, Debug)]
    #[argh(help_triggers("-h", "--help"))]
    struct Tool {
        /// be loud
        #[argh(switch)]
        loud: bool,
        #[argh(subcommand)]
        command: Sub,
    }

    /// the only subcommand
    #[derive(FromArgs, Debug)]
    #[argh(subcommand, name = "sub")]
    struct Sub {
        /// a directory
        #[argh(positional)]
        dir: String,
    }

    fn parse_tool(args: &[&str]) -> Parsed<Tool> {
        parse("tool", args)
    }

    #[test]
    fn version_wins_even_without_the_required_subcommand() {
        for args in [
            &["--version"][..],
            &["--loud", "--version"],
            &["sub", "--version"],
        ] {
            let Parsed::Print(text) = parse_tool(args) else {
                panic!("{args:?}: expected the version");
            };
            assert_eq!(text, version_line("tool"));
        }
        // After `--` it is a positional argument like any other.
        let Parsed::Run(tool) = parse_tool(&["sub", "--", "--version"]) else {
            panic!("expected a run");
        };
        assert_eq!(tool.command.dir, "--version");
        assert!(!tool.loud);
    }

    #[test]
    fn version_line_names_tool_version_and_commit() {
        let line = version_line("gen-custom-ca");
        assert!(
            line.starts_with(&format!("gen-custom-ca {VERSION}")),
            "{line}"
        );
        if let Some(commit) = COMMIT {
            assert!(line.ends_with(&format!("(commit {commit})")), "{line}");
        }
    }

    #[test]
    fn help_lists_version_after_help() {
        let Parsed::Print(help) = parse_tool(&["--help"]) else {
            panic!("expected the help");
        };
        let lines: Vec<&str> = help.lines().collect();
        let at = lines
            .iter()
            .position(|l| l.starts_with("  -h, --help"))
            .unwrap();
        assert_eq!(lines[at + 1], VERSION_HELP, "{help}");
        // Aligned with argh's descriptions.
        assert_eq!(VERSION_HELP.find("print"), lines[at].find("display"));
    }

    #[test]
    fn refused_arguments_point_to_help() {
        let Parsed::Refuse(text) = parse_tool(&["--bogus", "sub", "x"]) else {
            panic!("expected a refusal");
        };
        assert!(text.contains("--bogus"), "{text}");
        assert!(
            text.ends_with("Run tool --help for more information."),
            "{text}"
        );
    }
}
