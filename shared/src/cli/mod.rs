//! The command line every tool shares: `--version`, argh parsing and the exit code.
//!
//! argh has no `--version`, and it parses before a tool sees any flag, so a tool
//! with a required subcommand (`ca-check`) would refuse `ca-check --version`.
//! [`main`] therefore answers `--version` from the raw arguments first, adds it to
//! argh's help, and only then lets argh parse. A writing tool ends its run
//! with [`finish`].
//!
//! argh's refusals come out as one line, `<tool>: error: ...`, with the near
//! miss of a mistyped flag or subcommand ([`refusal`]), and the top-level
//! flags of a tool with subcommands may also follow the subcommand
//! ([`Shape::hoist_top_level_flags`]).

use std::io::{self, Write as _};
use std::process::ExitCode;

use argh::{ArgsInfo, TopLevelCommand};

use crate::pki::error::{Result, stdout_result};
use crate::pki::text::one_line;

mod finish;
pub mod flags;
mod refusal;
mod shape;
mod suggest;

pub use finish::{Planned, finish};
use shape::Shape;

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
    /// Print this line to stderr and exit 1, or 2 for checks (arguments
    /// argh refused): `<tool>: error: ...`.
    Refuse(String),
}

/// Parses `args` (without the program name) for `tool`: `--version` anywhere
/// before a `--` wins, then argh, whose help gains the `--version` line, on
/// the arguments with top-level flags moved before the subcommand.
pub fn parse<T: TopLevelCommand + ArgsInfo>(tool: &str, args: &[&str]) -> Parsed<T> {
    if args
        .iter()
        .take_while(|arg| **arg != "--")
        .any(|arg| *arg == "--version")
    {
        return Parsed::Print(version_line(tool));
    }
    let shape = Shape::of::<T>();
    let args = shape.hoist_top_level_flags(args);
    match T::from_args(&[tool], &args) {
        Ok(parsed) => Parsed::Run(parsed),
        Err(exit) => match exit.status {
            Ok(()) => Parsed::Print(with_version_help(&exit.output)),
            Err(()) => Parsed::Refuse(format!(
                "{tool}: error: {}",
                one_line(&refusal::reword(tool, &shape, &args, &exit.output))
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
pub fn main<T: TopLevelCommand + ArgsInfo>(
    tool: &str,
    run: impl FnOnce(T) -> Result<bool>,
) -> ExitCode {
    main_with(tool, run, ExitCode::FAILURE)
}

/// A check's `main` (ripgrep's convention): 0 when the check ran clean, 1 when
/// it ran and found problems (`Ok(false)`), 2 when it could not run: bad
/// arguments, or an error such as an unreadable directory.
pub fn check_main<T: TopLevelCommand + ArgsInfo>(
    tool: &str,
    run: impl FnOnce(T) -> Result<bool>,
) -> ExitCode {
    main_with(tool, run, ExitCode::from(2))
}

/// [`main`] with the exit code for errors and refused arguments.
fn main_with<T: TopLevelCommand + ArgsInfo>(
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
                one_line(&arg.to_string_lossy())
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
    use argh::{ArgsInfo, FromArgs};

    /// a tool with a required subcommand, like ca-check
    #[derive(FromArgs, ArgsInfo, Debug)]
    #[argh(help_triggers("-h", "--help"))]
    struct Tool {
        /// be loud
        #[argh(switch)]
        loud: bool,
        /// a directory every subcommand reads
        #[argh(option)]
        data_dir: Option<String>,
        #[argh(subcommand)]
        command: Command,
    }

    /// Subcommands are an enum, as in ca-check: argh's `ArgsInfo` lists
    /// those of an enum only.
    #[derive(FromArgs, ArgsInfo, Debug)]
    #[argh(subcommand)]
    enum Command {
        Sub(Sub),
    }

    /// the only subcommand
    #[derive(FromArgs, ArgsInfo, Debug)]
    #[argh(subcommand, name = "sub")]
    struct Sub {
        /// a directory
        #[argh(positional)]
        dir: String,
        /// a number of days
        #[argh(option)]
        days: Option<u32>,
    }

    impl Tool {
        fn command_sub(&self) -> &Sub {
            let Command::Sub(sub) = &self.command;
            sub
        }
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
        assert_eq!(tool.command_sub().dir, "--version");
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

    fn refusal(args: &[&str]) -> String {
        match parse_tool(args) {
            Parsed::Refuse(text) => text,
            other => panic!("{args:?}: expected a refusal, got {other:?}"),
        }
    }

    /// Before, argh's own lines: `Unrecognized argument: --bogus`, a blank
    /// line, `Run tool --help for more information.`
    #[test]
    fn a_refusal_is_one_line_naming_the_tool_and_the_help() {
        let text = refusal(&["--bogus", "sub", "x"]);
        assert_eq!(
            text,
            "tool: error: unknown flag --bogus (see `tool --help`)"
        );
        let text = refusal(&["sub", "x", "y"]);
        assert_eq!(
            text,
            "tool: error: unexpected argument y (see `tool sub --help`)"
        );
    }

    #[test]
    fn a_near_miss_is_suggested_among_the_flags_in_reach() {
        assert_eq!(
            refusal(&["--data-dri", "/d", "sub", "x"]),
            "tool: error: unknown flag --data-dri: did you mean --data-dir?"
        );
        // After the subcommand: its own flags and the top level's.
        assert_eq!(
            refusal(&["sub", "x", "--dasy", "3"]),
            "tool: error: unknown flag --dasy: did you mean --days?"
        );
        assert_eq!(
            refusal(&["sub", "x", "--data-dri", "/d"]),
            "tool: error: unknown flag --data-dri: did you mean --data-dir?"
        );
        assert_eq!(
            refusal(&["sbu", "x"]),
            "tool: error: unknown subcommand sbu: did you mean sub?"
        );
        assert_eq!(
            refusal(&["--days", "3", "sub", "x"]),
            "tool: error: --days is a flag of `tool sub`: give it after the subcommand"
        );
    }

    #[test]
    fn missing_and_bad_values_are_said_in_one_line() {
        assert_eq!(
            refusal(&[]),
            "tool: error: missing subcommand, one of sub (see `tool --help`)"
        );
        assert_eq!(
            refusal(&["sub"]),
            "tool: error: missing argument <dir> (see `tool sub --help`)"
        );
        assert_eq!(
            refusal(&["sub", "x", "--days"]),
            "tool: error: --days needs a value"
        );
        assert_eq!(
            refusal(&["sub", "x", "--days", "many"]),
            "tool: error: --days 'many': invalid digit found in string"
        );
        // Control characters in what the user typed are escaped.
        assert_eq!(
            refusal(&["--bo\ngus", "sub", "x"]),
            "tool: error: unknown flag --bo\\ngus (see `tool --help`)"
        );
    }

    /// Before, `tool sub x --data-dir /d` was refused: argh reads the top
    /// level's flags only before the subcommand.
    #[test]
    fn top_level_flags_may_follow_the_subcommand() {
        let Parsed::Run(tool) =
            parse_tool(&["sub", "--days", "3", "x", "--data-dir", "/d", "--loud"])
        else {
            panic!("expected a run");
        };
        assert_eq!(tool.data_dir.as_deref(), Some("/d"));
        assert!(tool.loud);
        assert_eq!(
            (tool.command_sub().dir.as_str(), tool.command_sub().days),
            ("x", Some(3))
        );
        // After `--` everything is the subcommand's positional.
        assert!(matches!(
            parse_tool(&["sub", "--", "--loud"]),
            Parsed::Run(Tool { loud: false, .. })
        ));
    }
}
