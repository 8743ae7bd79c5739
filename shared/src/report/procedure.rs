//! A [`Procedure`] as text: numbered steps whose dots line up, the text of a
//! step under its first word, commands and `install` lines at one column, and
//! every path quoted for a POSIX shell so that commands can be pasted.

use std::io::{self, Write};

use crate::layout::procedure::{Label, Line, Part, Procedure, Text};
use crate::pki::text::shell_quote;
use crate::store::plan::{PUBLIC_MODE, SECRET_MODE};

/// Where lines that belong to no step start.
const MARGIN: usize = 2;
/// Where the commands and `install` lines of a step start.
const COMMAND_COLUMN: usize = 7;

/// Writes `procedure`, its sections apart by a blank line.
pub fn write(out: &mut impl Write, procedure: &Procedure) -> io::Result<()> {
    for (index, section) in procedure.sections.iter().enumerate() {
        if index > 0 {
            writeln!(out)?;
        }
        writeln!(out, "{}", render(&section.heading))?;
        for line in &section.lines {
            writeln!(out, "{:MARGIN$}{}", "", render_line(line))?;
        }
        for step in &section.steps {
            let label = match step.label {
                Label::Number(number) => format!("{number:>3}. "),
                Label::Mark(mark) => format!("{:MARGIN$}{mark}. ", ""),
            };
            for (index, line) in step.lines.iter().enumerate() {
                if index == 0 {
                    write!(out, "{label}")?;
                } else {
                    let indent = match line {
                        Line::Text(_) => label.len(),
                        Line::Install(_) | Line::Command(_) => COMMAND_COLUMN,
                    };
                    write!(out, "{:indent$}", "")?;
                }
                writeln!(out, "{}", render_line(line))?;
            }
        }
    }
    Ok(())
}

/// One line, without its indent.
fn render_line(line: &Line) -> String {
    match line {
        Line::Text(text) | Line::Command(text) => render(text),
        Line::Install(install) => {
            let mode = if install.secret {
                SECRET_MODE
            } else {
                PUBLIC_MODE
            };
            format!(
                "install -m {mode:04o} {} {}",
                shell_quote(install.from.as_os_str()),
                shell_quote(install.to.as_os_str())
            )
        }
    }
}

/// Words as they are, paths quoted.
fn render(text: &Text) -> String {
    text.0
        .iter()
        .map(|part| match part {
            Part::Words(words) => words.to_string(),
            Part::Path(path) => shell_quote(path.as_os_str()),
        })
        .collect()
}
