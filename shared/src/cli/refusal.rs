//! argh's refusals of a command line, said on one line with the way out: the
//! flag or subcommand a slip was meant to be, or where the help is.
//!
//! argh words its refusals for humans only (`Unrecognized argument: --x`,
//! lists over several lines); each form is recognised by its opening words
//! and reworded. A form argh adds later still comes out on one line, its own
//! lines joined.

use super::shape::{Shape, SubcommandAt};
use super::suggest::near_miss;

/// The one line to print for argh's refusal `refused` of `args` (the process
/// arguments after the program name, as given to argh), without the
/// `<tool>: error: ` in front.
pub fn reword(tool: &str, shape: &Shape, args: &[&str], refused: &str) -> String {
    let refused = refused.trim_end();
    let sub = shape.subcommand_at(args);
    // argh refuses the first argument it cannot place, left to right: one
    // before the subcommand was refused by the top level.
    let refused_arg = refused.strip_prefix("Unrecognized argument: ");
    let at_top_level =
        |sub: &SubcommandAt<'_>| refused_arg.is_some_and(|arg| args[..sub.index].contains(&arg));
    let sub = sub.filter(|sub| !at_top_level(sub));
    let command = match &sub {
        Some(sub) => format!("{tool} {}", sub.name),
        None => tool.to_owned(),
    };
    let see_help = format!("see `{command} --help`");
    if let Some(arg) = refused_arg {
        return if arg.starts_with('-') {
            let mut flags = shape.flags();
            flags.push("--version");
            if let Some(sub) = &sub {
                flags.extend(sub.flags());
            }
            unknown_flag(tool, shape, arg, &flags, sub.is_none(), &see_help)
        } else if sub.is_none() && !shape.subcommands().is_empty() {
            unknown_subcommand(arg, &shape.subcommands())
        } else {
            format!("unexpected argument {arg} ({see_help})")
        };
    }
    if let Some(flag) = refused
        .strip_prefix("No value provided for option '")
        .and_then(|rest| rest.strip_suffix("'."))
    {
        return format!("{flag} needs a value");
    }
    if let Some((what, value, problem)) = parsing_error(refused, "option ", args) {
        return bad_value(what, value, problem);
    }
    if let Some((name, value, problem)) = parsing_error(refused, "positional argument ", args) {
        return bad_value(&format!("<{name}>"), value, problem);
    }
    if refused.starts_with("Required ") || refused.starts_with("One of the following") {
        return format!("{} ({see_help})", missing(refused));
    }
    if refused.starts_with("Trailing arguments are not allowed after") {
        return format!("nothing may follow --help ({see_help})");
    }
    let lines: Vec<&str> = refused
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    format!("{} ({see_help})", lines.join("; "))
}

/// An unknown flag: the near miss among `flags`, or the subcommand that has
/// it when the top level refused it (`ca-check --warn-days 1 expiry`).
fn unknown_flag(
    tool: &str,
    shape: &Shape,
    flag: &str,
    flags: &[&str],
    at_top_level: bool,
    see_help: &str,
) -> String {
    if let Some(sub) = shape.subcommand_with_flag(flag).filter(|_| at_top_level) {
        return format!("{flag} is a flag of `{tool} {sub}`: give it after the subcommand");
    }
    match near_miss(flag, flags) {
        Some(meant) => format!("unknown flag {flag}: did you mean {meant}?"),
        None => format!("unknown flag {flag} ({see_help})"),
    }
}

/// An argument where a subcommand was expected.
fn unknown_subcommand(given: &str, subcommands: &[&str]) -> String {
    match near_miss(given, subcommands) {
        Some(meant) => format!("unknown subcommand {given}: did you mean {meant}?"),
        None => format!("unknown subcommand {given}: use {}", subcommands.join(", ")),
    }
}

/// argh's `Error parsing <kind>'<what>' with value '<value>': <problem>`,
/// in its parts.
fn parsing_error<'r>(
    refused: &'r str,
    kind: &str,
    args: &[&str],
) -> Option<(&'r str, &'r str, &'r str)> {
    let rest = refused.strip_prefix("Error parsing ")?.strip_prefix(kind)?;
    let (what, rest) = rest.strip_prefix('\'')?.split_once("' with value '")?;
    let (value, problem) = value_and_problem(rest, args)?;
    Some((what, value, problem))
}

/// Splits `<value>': <problem>` where the value is one of `args` (a value
/// may hold `': ` itself, so it is matched, not searched for).
fn value_and_problem<'r>(rest: &'r str, args: &[&str]) -> Option<(&'r str, &'r str)> {
    args.iter()
        .filter_map(|arg| {
            let problem = rest.strip_prefix(arg)?.strip_prefix("': ")?;
            Some((&rest[..arg.len()], problem))
        })
        .max_by_key(|(value, _)| value.len())
}

/// A value its flag or positional argument does not take. The problem often
/// quotes the value already; then it is not said twice.
fn bad_value(what: &str, value: &str, problem: &str) -> String {
    if problem.contains(value) {
        format!("{what}: {problem}")
    } else {
        format!("{what} '{value}': {problem}")
    }
}

/// argh's lists of what is missing (a heading, then one indented line per
/// item), as one clause per heading.
fn missing(refused: &str) -> String {
    let mut clauses: Vec<(&str, Vec<&str>)> = Vec::new();
    for line in refused.lines() {
        if let Some(item) = line.strip_prefix("    ") {
            if let Some((_, items)) = clauses.last_mut() {
                // argh lists `help` among the subcommands; it is a flag here.
                if item != "help" {
                    items.push(item);
                }
            }
            continue;
        }
        let what = match line {
            "Required positional arguments not provided:" => "missing argument",
            "Required options not provided:" => "missing option",
            "One of the following subcommands must be present:" => "missing subcommand, one of",
            other => other.trim_end_matches(':'),
        };
        clauses.push((what, Vec::new()));
    }
    clauses
        .iter()
        .map(|(what, items)| {
            let items: Vec<String> = items
                .iter()
                .map(|item| {
                    if what.starts_with("missing argument") {
                        format!("<{item}>")
                    } else {
                        (*item).to_owned()
                    }
                })
                .collect();
            format!("{what} {}", items.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}
