//! kubeadm's kubeconfigs: the partial ones `kubeadm certs generate-csr` writes
//! (KUBEADM-K0S-CONTRACT.md section 3: one cluster, one user, `client-key-data`
//! only), which signing fills with `client-certificate-data` and
//! `certificate-authority-data`, and the complete ones whose embedded
//! certificates the expiry report reads (k0s's `admin.conf` is laid out alike).
//!
//! The file is edited in place, line by line, instead of being parsed and
//! re-serialised: kubeadm writes it through client-go, whose layout is fixed
//! (block style, two-space indents, list items at their parent's column, keys
//! sorted, every value on one line), and every byte we do not set stays as it
//! was, so a diff shows exactly the two values. A file laid out otherwise (a
//! hand-edited one with flow style, several clusters or users, multi-line
//! values) is refused with a message naming it rather than guessed at; the
//! tests check every filled file with `kubectl config view --raw`.

use std::path::{Path, PathBuf};

use base64ct::Encoding as _;
use zeroize::Zeroizing;

use crate::pki::cert::{Certificate, bundle_in};
use crate::pki::error::{Error, Kind, Result};
use crate::pki::keys::PrivateKey;
use crate::pki::pem::PemFile;

/// A kubeconfig as client-go writes it.
pub struct Kubeconfig {
    path: PathBuf,
    /// The lines, each with its line ending.
    lines: Vec<String>,
}

/// The children of one mapping: lines `start..end`, keys at `indent` spaces.
struct Mapping {
    start: usize,
    end: usize,
    indent: usize,
}

impl Kubeconfig {
    /// Reads the kubeconfig at `path`.
    pub fn read(path: &Path) -> Result<Self> {
        Self::parse(path, crate::pki::input::read(path)?)
    }

    /// Takes the text of a kubeconfig; `path` names it in errors.
    pub fn parse(path: &Path, bytes: Vec<u8>) -> Result<Self> {
        // The text holds the user's key: every copy of it is wiped when dropped.
        let text = Zeroizing::new(String::from_utf8(bytes).map_err(|e| {
            drop(Zeroizing::new(e.into_bytes()));
            Error::at(path, Kind::Inputs("not UTF-8 text".into()))
        })?);
        Ok(Kubeconfig {
            path: path.to_path_buf(),
            lines: text.split_inclusive('\n').map(str::to_string).collect(),
        })
    }

    /// The private key of the user's `client-key-data`.
    pub fn client_key(&self) -> Result<PrivateKey> {
        let pem = Zeroizing::new(self.data("users", "user", "client-key-data")?);
        PrivateKey::first_in(&PemFile::parse(&self.path, pem.to_vec())?)
    }

    /// The certificates of the user's `client-certificate-data`, the client's
    /// own first (what kubeadm's `certs check-expiration` reads).
    pub fn client_certificates(&self) -> Result<Vec<Certificate>> {
        let pem = self.data("users", "user", "client-certificate-data")?;
        bundle_in(&PemFile::parse(&self.path, pem)?)
    }

    /// Whether the user's client certificate is embedded
    /// (`client-certificate-data`) rather than named (`client-certificate`).
    pub fn embeds_client_certificate(&self) -> bool {
        self.mapping("users", "user")
            .ok()
            .and_then(|mapping| self.find(&mapping, "client-certificate-data"))
            .is_some_and(|(_, value)| !value.is_empty())
    }

    /// The cluster's `server` URL (what a user kubeconfig defaults to).
    pub fn server(&self) -> Result<String> {
        let mapping = self.mapping("clusters", "cluster")?;
        self.find(&mapping, "server")
            .map(|(_, value)| value)
            .filter(|value| !value.is_empty())
            .ok_or_else(|| self.error("the cluster has no server".into()))
    }

    /// The certificates of the cluster's `certificate-authority-data` (only the
    /// tests read them back).
    #[cfg(test)]
    pub fn certificate_authorities(&self) -> Result<Vec<Certificate>> {
        let pem = self.data("clusters", "cluster", "certificate-authority-data")?;
        bundle_in(&PemFile::parse(&self.path, pem)?)
    }

    /// The decoded base64 value of `field` in the `item` mapping of `section`
    /// (`users` / `user` / `client-key-data`); absent or empty is an error.
    fn data(&self, section: &str, item: &str, field: &str) -> Result<Vec<u8>> {
        let mapping = self.mapping(section, item)?;
        let value = self
            .find(&mapping, field)
            .map(|(_, value)| Zeroizing::new(value))
            .filter(|value| !value.is_empty())
            .ok_or_else(|| self.error(format!("the {item} has no {field}")))?;
        base64ct::Base64::decode_vec(&value)
            .map_err(|_| self.error(format!("{field} is not base64")))
    }

    /// The file with the cluster's `certificate-authority-data` set to `ca`
    /// and the user's `client-certificate-data` to `client` (each PEM, then
    /// base64, as kubectl's `--embed-certs` writes them); every other byte as read.
    pub fn with_credentials(&self, ca: &Certificate, client: &Certificate) -> Result<Vec<u8>> {
        let mut filled = Kubeconfig {
            path: self.path.clone(),
            lines: self.lines.clone(),
        };
        let encode = |cert: &Certificate| base64ct::Base64::encode_string(cert.to_pem().as_bytes());
        filled.set(
            "clusters",
            "cluster",
            "certificate-authority-data",
            &encode(ca),
        )?;
        filled.set("users", "user", "client-certificate-data", &encode(client))?;
        Ok(filled.lines.concat().into_bytes())
    }

    fn error(&self, problem: String) -> Error {
        Error::at(&self.path, Kind::Inputs(problem))
    }

    fn layout_error(&self, what: String) -> Error {
        self.error(format!(
            "{what}; only kubeconfigs laid out as kubeadm writes them are read and filled \
             (use kubectl config set-cluster/set-credentials --embed-certs for others)"
        ))
    }

    /// The mapping `item:` of the single entry of the top-level list `section:`.
    fn mapping(&self, section: &str, item: &str) -> Result<Mapping> {
        let header = format!("{section}:");
        let head = self
            .lines
            .iter()
            .position(|line| content(line) == header)
            .ok_or_else(|| self.layout_error(format!("no top-level `{header}` block list")))?;
        let end = (head + 1..self.lines.len())
            .find(|&i| !(self.lines[i].starts_with(' ') || self.lines[i].starts_with("- ")))
            .unwrap_or(self.lines.len());
        let entries = (head + 1..end)
            .filter(|&i| self.lines[i].starts_with("- "))
            .count();
        if entries != 1 {
            return Err(self.layout_error(format!(
                "`{section}` has {entries} entries where kubeadm writes one"
            )));
        }
        let key = (head + 1..end)
            .find(|&i| {
                let line = content(&self.lines[i]);
                line == format!("- {item}:") || line == format!("  {item}:")
            })
            .ok_or_else(|| self.layout_error(format!("no `{item}:` mapping in `{section}`")))?;
        let start = key + 1;
        let indent = self.lines.get(start).map_or(0, |line| indentation(line));
        if start >= end || indent <= 2 {
            return Err(self.layout_error(format!("`{section}` has an empty `{item}`")));
        }
        let end = (start..end)
            .find(|&i| indentation(&self.lines[i]) < indent)
            .unwrap_or(end);
        Ok(Mapping { start, end, indent })
    }

    /// The line and value of key `field` among the children of `mapping`.
    fn find(&self, mapping: &Mapping, field: &str) -> Option<(usize, String)> {
        (mapping.start..mapping.end)
            .filter(|&i| indentation(&self.lines[i]) == mapping.indent)
            .find_map(|i| {
                let (key, value) = content(&self.lines[i]).trim_start().split_once(':')?;
                (key == field).then(|| (i, unquote(value.trim()).to_string()))
            })
    }

    /// Sets `field` of the `item` mapping of `section` to `value`: replaces its
    /// line, or inserts one where client-go's sorted keys put it.
    fn set(&mut self, section: &str, item: &str, field: &str, value: &str) -> Result<()> {
        let mapping = self.mapping(section, item)?;
        // The file's own line ending (CRLF from Windows editors), as its first
        // line has it; a file whose only line has none gets LF.
        let line_ending = match self.lines.first() {
            Some(first) if first.ends_with("\r\n") => "\r\n",
            _ => "\n",
        };
        let line = format!(
            "{}{field}: {value}{line_ending}",
            " ".repeat(mapping.indent)
        );
        if let Some((at, _)) = self.find(&mapping, field) {
            if self
                .lines
                .get(at + 1)
                .is_some_and(|next| at + 1 < mapping.end && indentation(next) > mapping.indent)
            {
                return Err(self.layout_error(format!("`{field}` spans several lines")));
            }
            self.lines[at] = line;
            return Ok(());
        }
        let at = (mapping.start..mapping.end)
            .find(|&i| {
                indentation(&self.lines[i]) == mapping.indent
                    && content(&self.lines[i])
                        .trim_start()
                        .split_once(':')
                        .is_some_and(|(key, _)| key > field)
            })
            .unwrap_or(mapping.end);
        // A last line without its line ending (an editor that adds none) gets
        // one before a line goes after it: `key: value` and the new line
        // would otherwise run together, which kubectl refuses.
        if let Some(before) = at.checked_sub(1).and_then(|i| self.lines.get_mut(i)) {
            if !before.ends_with('\n') {
                before.push_str(line_ending);
            }
        }
        self.lines.insert(at, line);
        Ok(())
    }
}

/// A new kubeconfig with one cluster, one user and their context, current:
/// what `kubeadm kubeconfig user` writes.
pub struct UserKubeconfig<'a> {
    /// The cluster's name (`default`, `kubernetes`).
    pub cluster: &'a str,
    /// The API server's URL.
    pub server: &'a str,
    /// The certificates kubectl trusts for the server.
    pub trust: &'a [Certificate],
    /// The user's name (their certificate's CN).
    pub user: &'a str,
    /// The user's client certificate.
    pub certificate: &'a Certificate,
    /// The user's key; `None` when the user keeps it (signed from their CSR).
    pub key: Option<&'a PrivateKey>,
}

impl UserKubeconfig<'_> {
    /// The context's name, kubeadm's `<user>@<cluster>`.
    pub fn context(&self) -> String {
        format!("{}@{}", self.user, self.cluster)
    }

    /// The file as client-go writes it (keys sorted, block style, data
    /// embedded as `--embed-certs` does: PEM, then base64 on one line).
    pub fn to_bytes(&self) -> Result<Zeroizing<Vec<u8>>> {
        let b64 = |bytes: &[u8]| base64ct::Base64::encode_string(bytes);
        let trust = crate::pki::cert::bundle_pem(self.trust.iter());
        let (cluster, user, context) = (
            yaml_scalar(self.cluster),
            yaml_scalar(self.user),
            yaml_scalar(&self.context()),
        );
        let mut text = Zeroizing::new(format!(
            "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: {}\n    \
             server: {}\n  name: {cluster}\ncontexts:\n- context:\n    cluster: {cluster}\n    \
             user: {user}\n  name: {context}\ncurrent-context: {context}\nkind: Config\n\
             preferences: {{}}\nusers:\n- name: {user}\n  user:\n    client-certificate-data: {}\n",
            b64(trust.as_bytes()),
            yaml_scalar(self.server),
            b64(self.certificate.to_pem().as_bytes()),
        ));
        if let Some(key) = self.key {
            let pem = key.to_pem()?;
            let data = Zeroizing::new(b64(pem.as_bytes()));
            text.push_str("    client-key-data: ");
            text.push_str(&data);
            text.push('\n');
        }
        Ok(Zeroizing::new(text.as_bytes().to_vec()))
    }
}

/// `value` as a YAML scalar: plain when it cannot be read as anything else
/// (as client-go leaves names and URLs; a leading digit may make a number,
/// a date or YAML 1.1's `0x1F`), else double-quoted (a JSON string
/// is a YAML double-quoted scalar), so that no name can add keys or lines.
fn yaml_scalar(value: &str) -> String {
    let plain = value
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-@/:+=".contains(c))
        && !value.contains(": ")
        && !value.ends_with(':')
        && !matches!(
            value.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n"
        )
        && value.parse::<f64>().is_err();
    if plain {
        value.to_string()
    } else {
        serde_json::Value::from(value).to_string()
    }
}

/// The lines hold `client-key-data`: wiped when the kubeconfig is dropped.
impl Drop for Kubeconfig {
    fn drop(&mut self) {
        use zeroize::Zeroize as _;
        self.lines.iter_mut().for_each(String::zeroize);
    }
}

/// A line without its line ending and trailing blanks (insignificant in YAML).
fn content(line: &str) -> &str {
    line.trim_end_matches(['\n', '\r', ' ', '\t'])
}

/// The number of leading spaces; a list item's `- ` counts as indentation.
fn indentation(line: &str) -> usize {
    let spaces = line.len() - line.trim_start_matches(' ').len();
    if line[spaces..].starts_with("- ") {
        spaces + 2
    } else {
        spaces
    }
}

/// A scalar without the quotes client-go puts around an empty string.
fn unquote(value: &str) -> &str {
    for quote in ['"', '\''] {
        if let Some(inner) = value
            .strip_prefix(quote)
            .and_then(|v| v.strip_suffix(quote))
        {
            return inner;
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What client-go writes for `kubeadm certs generate-csr` (omitempty drops
    /// the two empty data fields), shortened.
    const PARTIAL: &str = "apiVersion: v1\nclusters:\n- cluster:\n    server: https://192.0.2.10:6443\n  name: kubernetes\ncontexts:\n- context:\n    cluster: kubernetes\n    user: kubernetes-admin\n  name: kubernetes-admin@kubernetes\ncurrent-context: kubernetes-admin@kubernetes\nkind: Config\npreferences: {}\nusers:\n- name: kubernetes-admin\n  user:\n    client-key-data: S0VZ\n";

    fn config(text: &str) -> Kubeconfig {
        Kubeconfig::parse(Path::new("admin.conf"), text.as_bytes().to_vec()).unwrap()
    }

    #[test]
    fn missing_fields_are_inserted_in_sorted_order_and_nothing_else_changes() {
        let mut kc = config(PARTIAL);
        kc.set("clusters", "cluster", "certificate-authority-data", "Q0E=")
            .unwrap();
        kc.set("users", "user", "client-certificate-data", "Q0VSVA==")
            .unwrap();
        let expected = PARTIAL
            .replace(
                "- cluster:\n",
                "- cluster:\n    certificate-authority-data: Q0E=\n",
            )
            .replace(
                "  user:\n",
                "  user:\n    client-certificate-data: Q0VSVA==\n",
            );
        assert_eq!(kc.lines.concat(), expected);
    }

    #[test]
    fn empty_fields_are_replaced_in_place() {
        let text = PARTIAL.replace(
            "    client-key-data",
            "    client-certificate-data: \"\"\n    client-key-data",
        );
        let mut kc = config(&text);
        assert_eq!(
            kc.find(&kc.mapping("users", "user").unwrap(), "client-key-data")
                .unwrap()
                .1,
            "S0VZ"
        );
        kc.set("users", "user", "client-certificate-data", "Q0VSVA==")
            .unwrap();
        assert_eq!(
            kc.lines.concat(),
            text.replace(
                "client-certificate-data: \"\"",
                "client-certificate-data: Q0VSVA=="
            )
        );
    }

    /// The expiry report reads what signing writes: both embedded values
    /// decode back to the certificates, and an absent one is named.
    #[test]
    fn embedded_certificates_are_read_back() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fixtures/k3s-default/server/tls/server-ca.crt");
        let bundle = bundle_in(&PemFile::read(&path).unwrap()).unwrap();
        let (ca, client) = (&bundle[0], &bundle[bundle.len() - 1]);
        let filled = config(PARTIAL).with_credentials(ca, client).unwrap();
        let filled = Kubeconfig::parse(Path::new("admin.conf"), filled).unwrap();
        assert_eq!(
            filled.client_certificates().unwrap()[0].to_pem(),
            client.to_pem()
        );
        assert_eq!(
            filled.certificate_authorities().unwrap()[0].to_pem(),
            ca.to_pem()
        );
        let err = config(PARTIAL)
            .client_certificates()
            .unwrap_err()
            .to_string();
        assert_eq!(err, "admin.conf: the user has no client-certificate-data");
    }

    /// Issue 19 item 7: a line inserted after a last line that has no line
    /// ending ran into it; CRLF files get CRLF lines.
    #[test]
    fn a_line_after_an_unterminated_last_line_starts_a_line_of_its_own() {
        let text = "users:\r\n- name: a\r\n  user:\r\n    as: nobody";
        let mut kc = config(text);
        kc.set("users", "user", "client-certificate-data", "Q0VSVA==")
            .unwrap();
        assert_eq!(
            kc.lines.concat(),
            format!("{text}\r\n    client-certificate-data: Q0VSVA==\r\n")
        );
    }

    /// A user kubeconfig reads back with the reader sign-csr fills files
    /// with: the server, the certificates and the key as written; names that
    /// YAML would read otherwise are quoted.
    #[test]
    fn a_user_kubeconfig_reads_back() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fixtures/k3s-default/server/tls/server-ca.crt");
        let bundle = bundle_in(&PemFile::read(&path).unwrap()).unwrap();
        let key = PrivateKey::generate(crate::pki::keys::KeyAlgorithm::EcdsaP256).unwrap();
        let config = UserKubeconfig {
            cluster: "default",
            server: "https://127.0.0.1:6443",
            trust: &bundle,
            user: "alice",
            certificate: &bundle[0],
            key: Some(&key),
        };
        let text = config.to_bytes().unwrap();
        let read = Kubeconfig::parse(Path::new("alice.conf"), text.to_vec()).unwrap();
        assert_eq!(read.server().unwrap(), "https://127.0.0.1:6443");
        assert_eq!(read.certificate_authorities().unwrap().len(), bundle.len());
        assert_eq!(
            read.client_certificates().unwrap()[0].to_pem(),
            bundle[0].to_pem()
        );
        assert_eq!(
            read.client_key().unwrap().public_key_der().unwrap(),
            key.public_key_der().unwrap()
        );
        assert!(String::from_utf8_lossy(&text).contains("current-context: alice@default\n"));
        assert_eq!(yaml_scalar("alice@corp.example"), "alice@corp.example");
        assert_eq!(yaml_scalar("a: b"), "\"a: b\"");
        assert_eq!(yaml_scalar("true"), "\"true\"");
        assert_eq!(yaml_scalar("x\ny: 1"), "\"x\\ny: 1\"");
        assert_eq!(yaml_scalar("#x"), "\"#x\"");
        assert_eq!(yaml_scalar("0x1F"), "\"0x1F\"");
        assert_eq!(yaml_scalar("2001-12-14"), "\"2001-12-14\"");
    }

    #[test]
    fn two_users_or_flow_style_are_refused() {
        let two = PARTIAL.to_string() + "- name: other\n  user:\n    token: x\n";
        let err = config(&two)
            .set("users", "user", "client-certificate-data", "x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("2 entries"), "{err}");
        let flow = "apiVersion: v1\nclusters: [{cluster: {server: x}, name: k}]\n";
        assert!(
            config(flow)
                .set("clusters", "cluster", "certificate-authority-data", "x")
                .is_err()
        );
    }
}
