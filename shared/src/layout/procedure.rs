//! Procedures as data: the steps a person follows to take a staged rotation
//! into a running cluster. Each layout builds its own from the real staged
//! and live paths ([`StagedPaths`]); [`crate::report`] prints them. Paths stay
//! paths until then and are quoted for a POSIX shell when printed, so that
//! every printed command can be pasted whatever a path holds.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

/// Sections, printed one after the other with a blank line between them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Procedure {
    /// The sections, in order.
    pub sections: Vec<Section>,
}

/// A paragraph and what follows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    /// The paragraph that opens it.
    pub heading: Text,
    /// Lines under the heading that belong to no step (k3s's one command).
    pub lines: Vec<Line>,
    /// Its steps, in order.
    pub steps: Vec<Step>,
}

impl Section {
    /// A section of `heading` alone.
    pub fn new(heading: Text) -> Self {
        Section {
            heading,
            lines: Vec::new(),
            steps: Vec::new(),
        }
    }

    /// The section with `line` under its heading.
    pub fn line(mut self, line: Line) -> Self {
        self.lines.push(line);
        self
    }

    /// The section with one more step.
    pub fn step(mut self, label: Label, lines: impl IntoIterator<Item = Line>) -> Self {
        self.steps.push(Step {
            label,
            lines: lines.into_iter().collect(),
        });
        self
    }
}

/// One step: its label, then its lines, the first on the label's line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// How it is numbered.
    pub label: Label,
    /// What it says and runs.
    pub lines: Vec<Line>,
}

/// A step's label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Label {
    /// `1.` to `11.`: the steps of the main procedure.
    Number(u8),
    /// A named step outside that count (`E1.`, kubeadm's etcd steps).
    Mark(&'static str),
}

/// One line of a step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Line {
    /// What to do, in words.
    Text(Text),
    /// `install` a staged file to its live path.
    Install(Install),
    /// A command to run.
    Command(Text),
}

/// A staged file installed to its live path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Install {
    /// The staged file.
    pub from: PathBuf,
    /// Where it goes.
    pub to: PathBuf,
    /// Whether it is a private key (installed with the mode of secrets).
    pub secret: bool,
}

/// Words and paths; the paths are quoted when printed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Text(pub Vec<Part>);

/// A piece of [`Text`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    /// Printed as they are.
    Words(Cow<'static, str>),
    /// Printed quoted for a shell.
    Path(PathBuf),
}

impl From<&'static str> for Part {
    fn from(words: &'static str) -> Self {
        Part::Words(Cow::Borrowed(words))
    }
}

impl From<String> for Part {
    fn from(words: String) -> Self {
        Part::Words(Cow::Owned(words))
    }
}

impl From<PathBuf> for Part {
    fn from(path: PathBuf) -> Self {
        Part::Path(path)
    }
}

impl From<&Path> for Part {
    fn from(path: &Path) -> Self {
        Part::Path(path.to_path_buf())
    }
}

/// [`Text`] of words and paths: `text!["cat ", file, " >> ", other]`.
macro_rules! text {
    ($($part:expr),* $(,)?) => {
        $crate::layout::procedure::Text(vec![$($crate::layout::procedure::Part::from($part)),*])
    };
}
pub(crate) use text;

/// Where a staged rotation lies and where its files go: what procedures are
/// built from.
#[derive(Clone, Debug)]
pub struct StagedPaths {
    /// `DATA_DIR`.
    pub data_dir: PathBuf,
    /// The staging directory (what `rotate-ca --path` takes).
    pub staging_dir: PathBuf,
    /// Its copy of the cert dir (`<staging>/tls`, `<staging>/pki`).
    pub staged_dir: PathBuf,
    /// The live cert dir, which the tools never write.
    pub live_dir: PathBuf,
}

impl StagedPaths {
    /// The staged file `name`.
    pub fn staged(&self, name: &str) -> PathBuf {
        self.staged_dir.join(name)
    }

    /// The live file `name`.
    pub fn live(&self, name: &str) -> PathBuf {
        self.live_dir.join(name)
    }

    /// Installs the staged file `name` to the live one.
    pub fn install(&self, name: &str, secret: bool) -> Line {
        Line::Install(Install {
            from: self.staged(name),
            to: self.live(name),
            secret,
        })
    }
}
