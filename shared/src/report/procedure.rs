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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::procedure::{Install, Section, text};
    use std::path::Path;

    /// The layout the binaries have always printed: dots aligned past 9,
    /// text under the step's first word, commands at one column, paths quoted.
    #[test]
    fn steps_line_up_and_paths_are_quoted() {
        let odd = Path::new("/a b'c");
        let procedure = Procedure {
            sections: vec![
                Section::new(text!["Load it from ", odd, ":"]).line(Line::Command(text![
                    "k3s certificate rotate-ca --path=",
                    odd
                ])),
                Section::new(text!["Steps:"])
                    .step(
                        Label::Number(9),
                        [
                            Line::Text(text!["first"]),
                            Line::Install(Install {
                                from: odd.join("k"),
                                to: "/x/k".into(),
                                secret: true,
                            }),
                            Line::Text(text!["then"]),
                        ],
                    )
                    .step(Label::Number(10), [Line::Text(text!["last"])])
                    .step(
                        Label::Mark("E1"),
                        [
                            Line::Text(text!["etcd"]),
                            Line::Command(text!["cat ", Path::new("/y")]),
                            Line::Text(text!["done"]),
                        ],
                    ),
            ],
        };
        let mut out = Vec::new();
        write(&mut out, &procedure).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "Load it from '/a b'\\''c':\n\
             \x20 k3s certificate rotate-ca --path='/a b'\\''c'\n\
             \n\
             Steps:\n\
             \x20 9. first\n\
             \x20      install -m 0600 '/a b'\\''c/k' /x/k\n\
             \x20    then\n\
             \x2010. last\n\
             \x20 E1. etcd\n\
             \x20      cat /y\n\
             \x20     done\n"
        );
    }
}
