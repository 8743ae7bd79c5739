//! The join tokens an operator configured on a node, beside the
//! `server/token` and `server/agent-token` k3s rewrites itself: what a CA
//! change leaves stale (the k3s docs: "the .env file, the systemd unit or
//! config.yaml").
//!
//! Where they live, as k3s and RKE2 read them (k3s-io/k3s, read 2026-12):
//! - `config.yaml` and its drop-ins: `/etc/rancher/<p>/config.yaml`, then every
//!   `config.yaml.d/*.yaml` or `*.yml` in name order, a later value of a key
//!   replacing an earlier one (pkg/configfilearg `readConfigFile`, `dotDFiles`);
//!   the keys are the flag names: `token` (`t`), `agent-token`, `token-file`,
//!   `agent-token-file`.
//! - the environment files of the service: k3s's install.sh writes
//!   `K3S_*` variables to `/etc/systemd/system/<service>.service.env` (under
//!   OpenRC `/etc/rancher/k3s/<service>.env`), and its unit also reads
//!   `/etc/default/<service>` and `/etc/sysconfig/<service>`; RKE2's units
//!   read `/etc/default`, `/etc/sysconfig` and `<unit dir>/rke2-<role>.env`,
//!   with `RKE2_*` variables.
//! - the flags of the unit's `ExecStart` (install.sh's `INSTALL_K3S_EXEC`):
//!   `--token`, `-t`, `--agent-token`, `--token-file`, `--agent-token-file`.
//!
//! The values are secrets: they are held in [`Zeroizing`] strings and never
//! shown; findings name the file, the line and the key.

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::RKE2;
use crate::layout::Layout;

/// Where one distribution keeps the files that may hold tokens, relative to
/// the node's root (`/`).
#[derive(Debug)]
pub struct NodeFiles {
    /// The config file; its drop-ins are in `<config>.d/`.
    pub config: &'static str,
    /// The environment files of the server and agent services.
    pub env_files: &'static [&'static str],
    /// The prefix of the environment variables (`K3S_`, `RKE2_`).
    pub env_prefix: &'static str,
    /// The service definitions whose command lines may carry `--token`.
    pub units: &'static [&'static str],
}

/// k3s's (install.sh: systemd, then OpenRC, and the unit's EnvironmentFile=).
static K3S_NODE: NodeFiles = NodeFiles {
    config: "etc/rancher/k3s/config.yaml",
    env_files: &[
        "etc/systemd/system/k3s.service.env",
        "etc/systemd/system/k3s-agent.service.env",
        "etc/rancher/k3s/k3s.env",
        "etc/rancher/k3s/k3s-agent.env",
        "etc/default/k3s",
        "etc/default/k3s-agent",
        "etc/sysconfig/k3s",
        "etc/sysconfig/k3s-agent",
    ],
    env_prefix: "K3S_",
    units: &[
        "etc/systemd/system/k3s.service",
        "etc/systemd/system/k3s-agent.service",
        "etc/init.d/k3s",
        "etc/init.d/k3s-agent",
    ],
};

/// RKE2's (its bundled units: tarball installs under /usr/local/lib, RPMs
/// under /usr/lib).
static RKE2_NODE: NodeFiles = NodeFiles {
    config: "etc/rancher/rke2/config.yaml",
    env_files: &[
        "etc/default/rke2-server",
        "etc/default/rke2-agent",
        "etc/sysconfig/rke2-server",
        "etc/sysconfig/rke2-agent",
        "usr/local/lib/systemd/system/rke2-server.env",
        "usr/local/lib/systemd/system/rke2-agent.env",
        "usr/lib/systemd/system/rke2-server.env",
        "usr/lib/systemd/system/rke2-agent.env",
    ],
    env_prefix: "RKE2_",
    units: &[
        "etc/systemd/system/rke2-server.service",
        "etc/systemd/system/rke2-agent.service",
        "usr/local/lib/systemd/system/rke2-server.service",
        "usr/local/lib/systemd/system/rke2-agent.service",
        "usr/lib/systemd/system/rke2-server.service",
        "usr/lib/systemd/system/rke2-agent.service",
    ],
};

/// The node files of `layout`, one of k3s's two (see [`super::require`]):
/// both are built by one function, so they are told apart by identity.
pub fn node_files(layout: &Layout) -> &'static NodeFiles {
    if std::ptr::eq(layout, &RKE2) {
        &RKE2_NODE
    } else {
        &K3S_NODE
    }
}

impl NodeFiles {
    /// The config file under the node root `root`.
    pub fn config_at(&self, root: &Path) -> PathBuf {
        root.join(self.config)
    }

    /// The environment files under `root`.
    pub fn env_files_at(&self, root: &Path) -> Vec<PathBuf> {
        self.env_files.iter().map(|f| root.join(f)).collect()
    }

    /// The service definitions under `root`.
    pub fn units_at(&self, root: &Path) -> Vec<PathBuf> {
        self.units.iter().map(|f| root.join(f)).collect()
    }
}

/// The drop-in directory of a config file (`config.yaml.d`) or a systemd
/// unit (`k3s.service.d`).
pub fn dropin_dir(config: &Path) -> PathBuf {
    let mut dir = config.as_os_str().to_owned();
    dir.push(".d");
    PathBuf::from(dir)
}

/// Whether k3s reads the config drop-in named `name` (`.yaml` or `.yml`, any
/// case, as k3s's `dotDFiles`).
pub fn is_dropin(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".yaml") || lower.ends_with(".yml")
}

/// Whether systemd reads the unit drop-in named `name` (`<unit>.d/*.conf`).
pub fn is_unit_dropin(name: &str) -> bool {
    name.ends_with(".conf")
}

/// Which setting a key sets: k3s's flag, whatever the spelling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    /// `--token` (`-t`, `token:`, `K3S_TOKEN`).
    Token,
    /// `--agent-token`.
    AgentToken,
    /// `--token-file`.
    TokenFile,
    /// `--agent-token-file`.
    AgentTokenFile,
}

/// What one line sets.
pub enum Value {
    /// A token, as written.
    Token(Zeroizing<String>),
    /// The file that holds the token, as written.
    File(PathBuf),
    /// A value this reader does not take apart (a YAML block or flow value).
    Unread(&'static str),
}

/// One setting found: where, under which key, and its value.
pub struct Setting {
    /// 1-based line of the value.
    pub line: usize,
    /// The key as written (`token`, `K3S_TOKEN`, `--token`).
    pub key: String,
    /// Which flag it sets.
    pub which: Which,
    /// Its value.
    pub value: Value,
}

impl Setting {
    fn new(line: usize, key: &str, which: Which, value: Zeroizing<String>) -> Option<Self> {
        if value.is_empty() {
            return None;
        }
        let value = match which {
            Which::Token | Which::AgentToken => Value::Token(value),
            Which::TokenFile | Which::AgentTokenFile => Value::File(PathBuf::from(value.as_str())),
        };
        Some(Setting {
            line,
            key: key.to_string(),
            which,
            value,
        })
    }
}

/// The setting of a flag name (`token`, `t`, ...), if it is one of the four.
fn flag(name: &str) -> Option<Which> {
    match name {
        "token" | "t" => Some(Which::Token),
        "agent-token" => Some(Which::AgentToken),
        "token-file" => Some(Which::TokenFile),
        "agent-token-file" => Some(Which::AgentTokenFile),
        _ => None,
    }
}

/// The token settings of a k3s config file: top-level `key: value` lines,
/// the value plain, 'single' or "double" quoted, a plain one ended by ` #`.
pub fn config_settings(text: &str) -> Vec<Setting> {
    let mut found = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.starts_with([' ', '\t', '#', '-']) {
            continue;
        }
        let Some((key, rest)) = line.split_once(':') else {
            continue;
        };
        let name = key.trim().trim_matches(|c| c == '"' || c == '\'');
        let name = name.strip_suffix('+').unwrap_or(name);
        let Some(which) = flag(name) else {
            continue;
        };
        let rest = rest.trim();
        if rest.starts_with(['|', '>', '[', '{', '&', '*', '!']) {
            found.push(Setting {
                line: index + 1,
                key: name.to_string(),
                which,
                value: Value::Unread("a YAML block, flow, anchor or tagged value"),
            });
            continue;
        }
        let value = match rest.chars().next() {
            Some('\'') => single_quoted(&rest[1..]),
            Some('"') => double_quoted(&rest[1..]),
            _ => {
                let end = rest.find(" #").unwrap_or(rest.len());
                Zeroizing::new(rest[..end].trim_end().to_string())
            }
        };
        found.extend(Setting::new(index + 1, name, which, value));
    }
    found
}

/// The token settings of an environment file (`K3S_TOKEN=...`, `export`
/// allowed, the value quoted or not), for variables starting with `prefix`.
pub fn env_settings(text: &str, prefix: &str) -> Vec<Setting> {
    let mut found = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim_start();
        let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let Some(name) = key.strip_prefix(prefix) else {
            continue;
        };
        let Some(which) = variable(name) else {
            continue;
        };
        let words = words(value.trim());
        let value = words
            .into_iter()
            .next()
            .map_or_else(|| Zeroizing::new(String::new()), |(_, word)| word);
        found.extend(Setting::new(index + 1, key, which, value));
    }
    found
}

/// The setting of an environment variable, named without its prefix.
fn variable(name: &str) -> Option<Which> {
    match name {
        "TOKEN" => Some(Which::Token),
        "AGENT_TOKEN" => Some(Which::AgentToken),
        "TOKEN_FILE" => Some(Which::TokenFile),
        "AGENT_TOKEN_FILE" => Some(Which::AgentTokenFile),
        _ => None,
    }
}

/// The token flags of a service definition's command line (`--token X`,
/// `--token=X`, `-t X`), wherever they are in the file, and its variables
/// starting with `prefix` (systemd's `Environment="K3S_TOKEN=X"`, an OpenRC
/// script's `export K3S_TOKEN=X`); the line is the value's.
pub fn unit_settings(text: &str, prefix: &str) -> Vec<Setting> {
    let mut all = Vec::new();
    for (index, line) in text.lines().enumerate() {
        // systemd's comment lines, and the shell's in an OpenRC script.
        if line.trim_start().starts_with(['#', ';']) {
            continue;
        }
        all.extend(words(line).into_iter().map(|(_, word)| (index + 1, word)));
    }
    let mut found = Vec::new();
    let mut words = all.into_iter();
    while let Some((line, word)) = words.next() {
        let assignment = word.strip_prefix("Environment=").unwrap_or(&word);
        if let Some((key, value)) = assignment.split_once('=') {
            if let Some(which) = key.strip_prefix(prefix).and_then(variable) {
                found.extend(Setting::new(line, key, which, Zeroizing::new(value.into())));
                continue;
            }
        }
        let Some(name) = word.strip_prefix("--").or_else(|| word.strip_prefix('-')) else {
            continue;
        };
        if let Some((name, value)) = name.split_once('=') {
            if let Some(which) = flag(name) {
                let key = format!("--{name}");
                found.extend(Setting::new(
                    line,
                    &key,
                    which,
                    Zeroizing::new(value.into()),
                ));
            }
        } else if let Some(which) = flag(name) {
            if let Some((line, value)) = words.next() {
                found.extend(Setting::new(line, &word, which, value));
            }
        }
    }
    found
}

/// A line split as a shell would: words apart at blanks, 'single' and
/// "double" quotes removed, a backslash escaping the next character (a lone
/// one at the end, a line continuation, dropped); with each word's start.
fn words(line: &str) -> Vec<(usize, Zeroizing<String>)> {
    let mut words = Vec::new();
    let mut current: Option<(usize, Zeroizing<String>)> = None;
    let mut chars = line.char_indices();
    while let Some((at, c)) = chars.next() {
        if c.is_whitespace() {
            words.extend(current.take());
            continue;
        }
        let (_, word) = current.get_or_insert_with(|| (at, Zeroizing::new(String::new())));
        match c {
            '\'' => {
                for (_, c) in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    word.push(c);
                }
            }
            '"' => {
                while let Some((_, c)) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => word.extend(chars.next().map(|(_, c)| c)),
                        _ => word.push(c),
                    }
                }
            }
            '\\' => word.extend(chars.next().map(|(_, c)| c)),
            _ => word.push(c),
        }
    }
    words.extend(current.filter(|(_, word)| !word.is_empty()));
    words
}

/// A YAML single-quoted scalar after its opening quote (`''` is a quote).
fn single_quoted(rest: &str) -> Zeroizing<String> {
    let mut value = Zeroizing::new(String::new());
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            if chars.peek() == Some(&'\'') {
                chars.next();
            } else {
                break;
            }
        }
        value.push(c);
    }
    value
}

/// A YAML double-quoted scalar after its opening quote (a backslash escapes
/// the next character).
fn double_quoted(rest: &str) -> Zeroizing<String> {
    let mut value = Zeroizing::new(String::new());
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => break,
            '\\' => value.extend(chars.next()),
            _ => value.push(c),
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(settings: &[Setting]) -> Vec<(usize, String, String)> {
        settings
            .iter()
            .map(|s| {
                let value = match &s.value {
                    Value::Token(t) => t.to_string(),
                    Value::File(f) => format!("file {}", f.display()),
                    Value::Unread(_) => "unread".into(),
                };
                (s.line, s.key.clone(), value)
            })
            .collect()
    }

    #[test]
    fn config_values_plain_quoted_and_commented() {
        let text = "write-kubeconfig-mode: 644\ntoken: K10ab::server:x # the token\n\
                    agent-token: 'it''s'\n  token: nested\n\"t\": \"a\\\"b\"\n\
                    token-file: /etc/k3s-token\nagent-token: |\n";
        assert_eq!(
            shown(&config_settings(text)),
            [
                (2, "token".into(), "K10ab::server:x".into()),
                (3, "agent-token".into(), "it's".into()),
                (5, "t".into(), "a\"b".into()),
                (6, "token-file".into(), "file /etc/k3s-token".into()),
                (7, "agent-token".into(), "unread".into()),
            ]
        );
    }

    #[test]
    fn env_files_as_install_sh_writes_them() {
        let text = "K3S_TOKEN='K10ab::server:x'\nK3S_URL=https://a:6443\n\
                    export K3S_AGENT_TOKEN=\"y\"\nRKE2_TOKEN=z\nK3S_TOKEN=\n";
        assert_eq!(
            shown(&env_settings(text, "K3S_")),
            [
                (1, "K3S_TOKEN".into(), "K10ab::server:x".into()),
                (3, "K3S_AGENT_TOKEN".into(), "y".into()),
            ]
        );
    }

    #[test]
    fn unit_flags_on_continued_lines() {
        let text = "[Service]\n# --token old\nExecStart=/usr/local/bin/k3s \\\n    server \\\n\t'--token' \\\n\
                    \t'K10ab::server:x' \\\n\t--agent-token=b -t c --tls-san x\n\
                    Environment=\"K3S_AGENT_TOKEN=d\" K3S_URL=e\n";
        assert_eq!(
            shown(&unit_settings(text, "K3S_")),
            [
                (6, "--token".into(), "K10ab::server:x".into()),
                (7, "--agent-token".into(), "b".into()),
                (7, "-t".into(), "c".into()),
                (8, "K3S_AGENT_TOKEN".into(), "d".into()),
            ]
        );
    }

    #[test]
    fn rke2_has_its_own_files() {
        assert_eq!(node_files(&RKE2).env_prefix, "RKE2_");
        assert_eq!(node_files(&super::super::K3S).env_prefix, "K3S_");
        assert_eq!(
            dropin_dir(Path::new("/etc/rancher/k3s/config.yaml")),
            Path::new("/etc/rancher/k3s/config.yaml.d")
        );
        assert!(is_dropin("10-A.YML") && !is_dropin("x.yaml.bak"));
    }
}
