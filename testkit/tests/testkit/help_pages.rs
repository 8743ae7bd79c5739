//! The tools' pages in docs/ hold their `--help` as the tools print it: each
//! `<!-- help: TOOL [SUBCOMMAND] --help -->` line is followed by a ```text
//! block that must equal that command's output, and every tool and every
//! subcommand its help lists must have one.
//!
//! After changing a help text, `K3S_PKI_UPDATE_HELP=1 cargo test -p testkit
//! --test testkit help_pages` writes the new outputs into the existing blocks
//! (and fails, so that the change is looked at); a missing block is still
//! added by hand.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a panic is a failure"
)]

use std::collections::BTreeMap;
use std::fs;
use std::process::Command;

use testkit::{TOOLS, ok, tool_binaries, workspace_root};

const MARKER: &str = "<!-- help: ";

/// Each documented command line (as in its marker) and the help text the page
/// shows for it, from the page `docs/<tool>.md`.
fn documented(tool: &str) -> BTreeMap<String, String> {
    let path = workspace_root().join("docs").join(format!("{tool}.md"));
    let page = fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}: every tool has a page", path.display()));
    let mut shown = BTreeMap::new();
    let mut lines = page.lines();
    while let Some(line) = lines.next() {
        let Some(command) = line.strip_prefix(MARKER) else {
            continue;
        };
        let command = command
            .strip_suffix(" -->")
            .expect("a marker ends with -->");
        assert_eq!(
            lines.next(),
            Some("```text"),
            "{}: a ```text block must follow `{line}`",
            path.display()
        );
        let text: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
        shown.insert(command.to_owned(), text.join("\n"));
    }
    shown
}

/// What `command` (`tool [subcommand] --help`) prints, without the last line break.
fn help(command: &str) -> String {
    let mut words = command.split(' ');
    let tool = words.next().unwrap();
    let out = ok(Command::new(tool_binaries().join(tool)).args(words));
    out.strip_suffix('\n').unwrap_or(&out).to_owned()
}

/// The subcommands a help text lists under `Commands:`.
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|line| *line != "Commands:")
        .skip(1)
        .take_while(|line| !line.is_empty())
        .filter(|line| !line.starts_with("   "))
        .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
        .collect()
}

#[test]
fn each_tools_page_shows_its_help_as_printed() {
    for tool in TOOLS {
        let shown = documented(tool);
        let top = format!("{tool} --help");
        let mut wanted = vec![top.clone()];
        wanted.extend(
            subcommands(&help(&top))
                .into_iter()
                .map(|sub| format!("{tool} {sub} --help")),
        );
        if std::env::var_os("K3S_PKI_UPDATE_HELP").is_some() {
            update(tool, &shown);
        }
        for command in &wanted {
            let text = shown
                .get(command)
                .unwrap_or_else(|| panic!("docs/{tool}.md: no `{MARKER}{command} -->` block"));
            assert_eq!(
                *text,
                help(command),
                "docs/{tool}.md: the block for `{command}` differs from its output; paste it again"
            );
        }
        for command in shown.keys() {
            assert!(
                wanted.contains(command),
                "docs/{tool}.md documents `{command}`, which is not one of {wanted:?}"
            );
        }
    }
}

/// Writes each documented command's current output into its block of
/// `docs/<tool>.md`.
fn update(tool: &str, shown: &BTreeMap<String, String>) {
    let path = workspace_root().join("docs").join(format!("{tool}.md"));
    let mut page = fs::read_to_string(&path).unwrap();
    for (command, text) in shown {
        let old = format!("{MARKER}{command} -->\n```text\n{text}\n```");
        let new = format!("{MARKER}{command} -->\n```text\n{}\n```", help(command));
        page = page.replacen(&old, &new, 1);
    }
    fs::write(&path, page).unwrap();
}

#[test]
fn subcommands_are_read_from_the_commands_list() {
    let help = "Usage: t\n\nOptions:\n  --x  y\n\nCommands:\n  staged  a\n            wrapped\n  expiry  b\n\nNotes:\n  z";
    assert_eq!(subcommands(help), ["staged", "expiry"]);
}
