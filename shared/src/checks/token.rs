//! `ca-check token`: the k3s CA hash of the join CA's bundle, which an agent
//! compares with the hash its token carries, and what each join-token file
//! carries: `server/token` and `server/agent-token`, which k3s rewrites at
//! start, and the tokens an operator configured on the node
//! ([`crate::layout::k3s::configured`]), which nothing rewrites.
//!
//! `runs::rotation`'s `TokenUpdate` reads the same files, to carry them over
//! to a new hash.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use zeroize::Zeroizing;

use crate::checks::{TOOL, recover};
use crate::layout::k3s::configured::{
    self, NodeFiles, Setting, Value, Which, config_settings, env_settings, unit_settings,
};
use crate::layout::k3s::token::TOKEN_PREFIX;
use crate::layout::k3s::{
    self,
    token::{TokenFile, k3s_ca_hash_of},
};
use crate::layout::{DataDir, Layout};
use crate::pki::error::{Error, Kind, Result};
use crate::pki::pem::PemFile;

/// At most this many drop-ins are read from a `config.yaml.d`: far more
/// than a node holds, and a bound on the work.
pub const MAX_DROPINS: usize = 100;

/// At most this many entries of a `config.yaml.d`, drop-ins or not, are looked at.
const MAX_DIR_ENTRIES: usize = 10 * MAX_DROPINS;

/// The join CA's hash and what each token file carries.
pub struct TokenReport {
    /// The join CA's bundle (`server-ca.crt`).
    pub join_ca: PathBuf,
    /// Its k3s CA hash: what every token has to carry.
    pub hash: String,
    /// Each token file and what it carries.
    pub tokens: Vec<(PathBuf, TokenState)>,
    /// The tokens configured on the node, and the pasted one, in the order read.
    pub configured: Vec<ConfiguredToken>,
    /// Files that could not be read, or named files that do not exist.
    pub problems: Vec<Error>,
}

/// What one token file carries.
pub enum TokenState {
    /// There is no such file.
    Missing,
    /// The join CA's hash.
    Current,
    /// Another hash: agents joining with this token refuse the server CA.
    Stale(TokenFile),
    /// Not readable, or not a k3s token.
    Unusable(Error),
}

/// Where to look for the tokens an operator configured, and a pasted one.
#[derive(Default)]
pub struct Configured {
    /// The node's root: the default files are looked for under it (`/`, or a
    /// mounted node image), and so are the files `token-file` keys name.
    pub root: Option<PathBuf>,
    /// Config files to read instead of the default one, each with its drop-ins.
    pub configs: Vec<PathBuf>,
    /// Environment files to read instead of the default ones.
    pub env_files: Vec<PathBuf>,
    /// Service definitions to read instead of the default ones.
    pub units: Vec<PathBuf>,
    /// A token given on the command line.
    pub pasted: Option<Zeroizing<String>>,
}

/// One configured token: where it is and what it carries.
pub struct ConfiguredToken {
    /// Where.
    pub place: Place,
    /// What it carries.
    pub state: Judged,
}

/// Where a configured token is: what a person edits.
pub enum Place {
    /// A line of a file that sets `key`.
    Line {
        /// The file.
        file: PathBuf,
        /// Its 1-based line.
        line: usize,
        /// The key as written there.
        key: String,
    },
    /// A file named by a `token-file` setting, which holds the token itself.
    TokenFile {
        /// The file holding the token.
        file: PathBuf,
        /// The file and line that name it.
        named_by: PathBuf,
        /// Its line there.
        line: usize,
        /// The key there.
        key: String,
    },
    /// The token given with `--token`.
    Pasted,
}

/// What a configured token carries.
pub enum Judged {
    /// The join CA's hash.
    Current,
    /// Another hash (the one it carries): agents refuse the server CA.
    Stale(String),
    /// A bare password, no `K10<hash>::` prefix: it carries no CA hash, so
    /// nothing here can be checked against the CA (nor is it stale).
    NoHash,
    /// A later setting of the same key replaces it (k3s reads the config
    /// file, then its drop-ins in name order): this file and line.
    Overridden(PathBuf, usize),
    /// Starts as a secure token but is not one.
    Malformed(Error),
    /// A value this check does not read (what it is).
    Unread(&'static str),
    /// The token file it names could not be read.
    Unusable(Error),
}

impl Judged {
    /// Whether a token in this state needs no change.
    pub fn passed(&self) -> bool {
        matches!(
            self,
            Judged::Current | Judged::NoHash | Judged::Overridden(..)
        )
    }
}

impl TokenReport {
    /// Whether every token there is carries the join CA's hash (or none, a
    /// bare password) and every file that should be read was.
    pub fn passed(&self) -> bool {
        self.tokens
            .iter()
            .all(|(_, state)| matches!(state, TokenState::Missing | TokenState::Current))
            && self.configured.iter().all(|token| token.state.passed())
            && self.problems.is_empty()
    }
}

/// The join tokens of `data_dir` (k3s and RKE2 only) and those `configured`
/// on the node, against its join CA, judged at `now`; an error when the join
/// CA cannot be read.
pub fn check(data_dir: &DataDir, configured: &Configured, now: SystemTime) -> Result<TokenReport> {
    recover(data_dir, None)?;
    let layout = data_dir.layout();
    k3s::require(layout, TOOL)?;
    let join_ca = data_dir.tls_dir().join(format!("{}.crt", layout.join_ca));
    let hash = k3s_ca_hash_of(&PemFile::read(&join_ca)?, now)?;
    let tokens = data_dir
        .token_files()
        .into_iter()
        .map(|path| {
            let state = if !path.exists() {
                TokenState::Missing
            } else {
                match TokenFile::read(&path) {
                    Ok(token) if token.ca_hash() == hash => TokenState::Current,
                    Ok(token) => TokenState::Stale(token),
                    Err(error) => TokenState::Unusable(error),
                }
            };
            (path, state)
        })
        .collect();
    let mut node = Node {
        root: configured
            .root
            .clone()
            .unwrap_or_else(|| PathBuf::from("/")),
        hash: &hash,
        found: Vec::new(),
        problems: Vec::new(),
    };
    node.read_all(layout, configured);
    if let Some(pasted) = &configured.pasted {
        let state = judge(pasted, &hash, Path::new("the token given with --token"));
        node.found.push(ConfiguredToken {
            place: Place::Pasted,
            state,
        });
    }
    let (configured, problems) = (node.found, node.problems);
    Ok(TokenReport {
        join_ca,
        hash,
        tokens,
        configured,
        problems,
    })
}

/// What the node's files hold, as they are read.
struct Node<'a> {
    root: PathBuf,
    hash: &'a str,
    found: Vec<ConfiguredToken>,
    problems: Vec<Error>,
}

impl Node<'_> {
    /// Reads the config files, the environment files and the units: those
    /// named, else the layout's under the root (missing ones skipped).
    fn read_all(&mut self, layout: &Layout, configured: &Configured) {
        let files: &NodeFiles = configured::node_files(layout);
        let (configs, named) = if configured.configs.is_empty() {
            (vec![files.config_at(&self.root)], false)
        } else {
            (configured.configs.clone(), true)
        };
        let mut settings = Vec::new();
        for config in configs {
            self.config_files(&config, named, &mut settings);
        }
        self.judge_configs(settings);
        let (env_files, named) = if configured.env_files.is_empty() {
            (files.env_files_at(&self.root), false)
        } else {
            (configured.env_files.clone(), true)
        };
        for file in env_files {
            if let Some(text) = self.text(&file, named) {
                for setting in env_settings(&text, files.env_prefix) {
                    self.judge_setting(&file, setting, None);
                }
            }
        }
        let (units, named) = if configured.units.is_empty() {
            (files.units_at(&self.root), false)
        } else {
            (configured.units.clone(), true)
        };
        for unit in units {
            // `systemctl edit` writes overrides to <unit>.d/*.conf.
            let dropins =
                match self.dropins(&configured::dropin_dir(&unit), configured::is_unit_dropin) {
                    Ok(dropins) => dropins,
                    Err(error) => {
                        self.problems.push(error);
                        Vec::new()
                    }
                };
            for (file, required) in
                std::iter::once((unit, named)).chain(dropins.into_iter().map(|d| (d, true)))
            {
                if let Some(text) = self.text(&file, required) {
                    for setting in unit_settings(&text, files.env_prefix) {
                        self.judge_setting(&file, setting, None);
                    }
                }
            }
        }
    }

    /// The settings of `config` and its drop-ins, in the order k3s reads
    /// them. A named config may be missing when it has drop-ins, as in k3s.
    fn config_files(&mut self, config: &Path, named: bool, out: &mut Vec<(PathBuf, Setting)>) {
        let dir = configured::dropin_dir(config);
        let dropins = match self.dropins(&dir, configured::is_dropin) {
            Ok(dropins) => dropins,
            Err(error) => {
                self.problems.push(error);
                Vec::new()
            }
        };
        let required = named && dropins.is_empty();
        for file in std::iter::once(config.to_path_buf()).chain(dropins) {
            if let Some(text) = self.text(&file, required) {
                out.extend(
                    config_settings(&text)
                        .into_iter()
                        .map(|s| (file.clone(), s)),
                );
            }
        }
    }

    /// The drop-ins of `dir` that are read (`wanted` by name), by name; none
    /// when it does not exist.
    fn dropins(&self, dir: &Path, wanted: fn(&str) -> bool) -> Result<Vec<PathBuf>> {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(Error::io(dir, "reading directory", error)),
        };
        let too_many = || {
            Error::at(
                dir,
                Kind::Inputs(format!(
                    "holds more than {MAX_DROPINS} drop-ins: not read; name the ones to check with \
                     --config or --unit"
                )),
            )
        };
        let mut dropins = Vec::new();
        // Other files are skipped, but every entry counts towards the bound.
        for (count, entry) in entries.enumerate() {
            if count >= MAX_DIR_ENTRIES {
                return Err(too_many());
            }
            let entry = entry.map_err(|e| Error::io(dir, "reading directory", e))?;
            let path = entry.path();
            let name = entry.file_name();
            if path.is_dir() || !wanted(&name.to_string_lossy()) {
                continue;
            }
            if dropins.len() == MAX_DROPINS {
                return Err(too_many());
            }
            dropins.push(path);
        }
        dropins.sort();
        Ok(dropins)
    }

    /// The settings of every config file in order: the last of each key is
    /// the one k3s uses, the earlier ones are overridden.
    fn judge_configs(&mut self, settings: Vec<(PathBuf, Setting)>) {
        // From the end: the first of each key seen there is the one k3s uses.
        let mut later: Vec<(Which, PathBuf, usize)> = Vec::new();
        let mut overridden = vec![None; settings.len()];
        for (index, (file, setting)) in settings.iter().enumerate().rev() {
            match later.iter().find(|(which, ..)| *which == setting.which) {
                Some((_, by, line)) => overridden[index] = Some((by.clone(), *line)),
                None => later.push((setting.which, file.clone(), setting.line)),
            }
        }
        for ((file, setting), overridden) in settings.into_iter().zip(overridden) {
            self.judge_setting(&file, setting, overridden);
        }
    }

    /// Judges one setting of `file`.
    fn judge_setting(
        &mut self,
        file: &Path,
        setting: Setting,
        overridden: Option<(PathBuf, usize)>,
    ) {
        let at_line = PathBuf::from(format!("{}:{}", file.display(), setting.line));
        let place = self.line(file, &setting);
        let (place, state) = match setting.value {
            Value::File(named) => {
                let path = self.on_node(&named);
                let state = match read_token_file(&path) {
                    Ok(token) => judge(&token, self.hash, &path),
                    Err(error) => Judged::Unusable(error),
                };
                let place = Place::TokenFile {
                    file: path,
                    named_by: file.to_path_buf(),
                    line: setting.line,
                    key: setting.key.clone(),
                };
                (place, state)
            }
            Value::Token(token) => (place, judge(&token, self.hash, &at_line)),
            Value::Unread(what) => (place, Judged::Unread(what)),
        };
        let state = match overridden {
            Some((by, line)) => Judged::Overridden(by, line),
            None => state,
        };
        self.found.push(ConfiguredToken { place, state });
    }

    fn line(&self, file: &Path, setting: &Setting) -> Place {
        Place::Line {
            file: file.to_path_buf(),
            line: setting.line,
            key: setting.key.clone(),
        }
    }

    /// A path written on the node, under the root this check reads it from.
    fn on_node(&self, path: &Path) -> PathBuf {
        self.root.join(path.strip_prefix("/").unwrap_or(path))
    }

    /// The text of `file`; `None` when it is missing and `required` is not
    /// set, or when it cannot be read (a problem).
    fn text(&mut self, file: &Path, required: bool) -> Option<Zeroizing<String>> {
        if !required && !file.exists() {
            return None;
        }
        match crate::pki::input::read(file) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => Some(Zeroizing::new(text)),
                Err(error) => {
                    drop(Zeroizing::new(error.into_bytes()));
                    self.problems.push(Error::at(
                        file,
                        Kind::Inputs("not UTF-8 text: its tokens could not be read".into()),
                    ));
                    None
                }
            },
            Err(error) => {
                self.problems.push(error);
                None
            }
        }
    }
}

/// A token file's token (`token-file`): its text, trimmed.
fn read_token_file(path: &Path) -> Result<Zeroizing<String>> {
    let bytes = Zeroizing::new(crate::pki::input::read(path)?);
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        Error::at(
            path,
            Kind::Inputs("not a k3s token (not UTF-8 text)".into()),
        )
    })?;
    Ok(Zeroizing::new(text.trim().to_string()))
}

/// What `token` carries against `hash`; `place` names it in errors.
fn judge(token: &str, hash: &str, place: &Path) -> Judged {
    let token = token.trim();
    if !token.starts_with(TOKEN_PREFIX) {
        return Judged::NoHash;
    }
    match TokenFile::parse(place, token) {
        Ok(parsed) if parsed.ca_hash() == hash => Judged::Current,
        Ok(parsed) => Judged::Stale(parsed.ca_hash().to_string()),
        Err(error) => Judged::Malformed(error),
    }
}
