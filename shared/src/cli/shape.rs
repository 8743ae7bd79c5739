//! A command line's shape as argh declares it ([`argh::ArgsInfo`]): which
//! flags a command has, which take a value, and its subcommands. Read from
//! the same derive that parses, so it cannot drift from the flags.

use argh::{CommandInfoWithArgs, FlagInfo, FlagInfoKind};

/// The help flag every command has; it is argh's, at every level.
const HELP: &str = "--help";

/// A command's flags and subcommands.
pub struct Shape {
    info: CommandInfoWithArgs,
}

/// Where the subcommand of a command line is.
pub struct SubcommandAt<'a> {
    /// Its index among the arguments.
    pub index: usize,
    /// Its name.
    pub name: &'a str,
    /// Its flags and their kinds.
    flags: &'a [FlagInfo<'static>],
}

impl Shape {
    /// The shape of the command `T`.
    pub fn of<T: argh::ArgsInfo>() -> Self {
        Shape {
            info: T::get_args_info(),
        }
    }

    /// The top level's long flag names.
    pub fn flags(&self) -> Vec<&'static str> {
        names(self.info.flags)
    }

    /// Subcommand names, as declared.
    pub fn subcommands(&self) -> Vec<&'static str> {
        self.info.commands.iter().map(|sub| sub.name).collect()
    }

    /// The subcommand whose flags include `flag`, if any.
    pub fn subcommand_with_flag(&self, flag: &str) -> Option<&'static str> {
        self.info
            .commands
            .iter()
            .find(|sub| kind_of(sub.command.flags, flag).is_some())
            .map(|sub| sub.name)
    }

    /// The subcommand named in `args`: the first argument before `--` that is
    /// neither a top-level flag nor its value.
    pub fn subcommand_at<'s>(&'s self, args: &[&str]) -> Option<SubcommandAt<'s>> {
        let mut index = 0;
        while let Some(arg) = args.get(index) {
            if *arg == "--" {
                return None;
            }
            match kind_of(self.info.flags, arg) {
                Some(FlagInfoKind::Option { .. }) => index += 2,
                Some(FlagInfoKind::Switch) => index += 1,
                None if arg.starts_with('-') => index += 1,
                None => {
                    let sub = self.info.commands.iter().find(|sub| sub.name == *arg)?;
                    return Some(SubcommandAt {
                        index,
                        name: sub.name,
                        flags: sub.command.flags,
                    });
                }
            }
        }
        None
    }

    /// `args` with the top-level flags given after the subcommand (and their
    /// values) moved before it, where argh looks for them: `ca-check expiry
    /// --data-dir X` reads as `ca-check --data-dir X expiry`. A flag the
    /// subcommand has itself, `--help`, and anything after `--` stay put.
    pub fn hoist_top_level_flags<'a>(&self, args: &[&'a str]) -> Vec<&'a str> {
        let Some(sub) = self.subcommand_at(args) else {
            return args.to_vec();
        };
        let (mut hoisted, mut rest) = (Vec::new(), Vec::new());
        let mut tail = args[sub.index + 1..].iter();
        while let Some(&arg) = tail.next() {
            if arg == "--" {
                rest.push(arg);
                rest.extend(tail.by_ref());
                break;
            }
            let (to, kind) = match kind_of(sub.flags, arg) {
                Some(kind) => (&mut rest, Some(kind)),
                None if arg != HELP => match kind_of(self.info.flags, arg) {
                    Some(kind) => (&mut hoisted, Some(kind)),
                    None => (&mut rest, None),
                },
                None => (&mut rest, None),
            };
            to.push(arg);
            if let Some(FlagInfoKind::Option { .. }) = kind {
                to.extend(tail.next());
            }
        }
        let mut ordered = args[..sub.index].to_vec();
        ordered.extend(hoisted);
        ordered.push(args[sub.index]);
        ordered.extend(rest);
        ordered
    }
}

impl SubcommandAt<'_> {
    /// The subcommand's long flag names.
    pub fn flags(&self) -> Vec<&'static str> {
        names(self.flags)
    }
}

/// Every flag's long name (short ones are too short to tell a slip by).
fn names(flags: &[FlagInfo<'static>]) -> Vec<&'static str> {
    flags.iter().map(|flag| flag.long).collect()
}

/// The kind of `arg` among `flags` (by long name or `-c` short name), if it is one.
fn kind_of<'f>(flags: &'f [FlagInfo<'static>], arg: &str) -> Option<&'f FlagInfoKind<'static>> {
    flags
        .iter()
        .find(|flag| {
            flag.long == arg
                || flag.short.is_some_and(|short| {
                    let mut chars = arg.chars();
                    chars.next() == Some('-')
                        && chars.next() == Some(short)
                        && chars.next().is_none()
                })
        })
        .map(|flag| &flag.kind)
}
