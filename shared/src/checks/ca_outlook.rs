//! What comes next for each CA of a layout: when it ends, and whether a
//! renewal that keeps its key (`rotate-default-ca --renew`) will do, or only
//! a rotation will. A renewal keeps trust everywhere at no cost, so it is the
//! answer whenever the key is here, is the certificate's, and is strong
//! enough; a key that may have been exposed is a reason to rotate that no
//! file shows, so the report says so once for every CA.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::layout::DataDir;
use crate::pki::cert::{Certificate, read_bundle};
use crate::pki::keys::{PrivateKey, check_ca_key_size};
use crate::pki::pem::PemFile;
use crate::pki::text::shell_quote;
use crate::pki::verify::check_issued_by;

/// One CA and its next step.
#[derive(Debug)]
pub struct CaOutlook {
    /// The CA's certificate file.
    pub file: PathBuf,
    /// The CN of the certificate that signs (the file's first).
    pub subject: String,
    /// When it ends.
    pub not_after: SystemTime,
    /// What to do before then.
    pub next: NextStep,
}

/// The right next step for a CA.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NextStep {
    /// Renew it with its key: the command to run.
    Renew {
        /// The command (`rotate-default-ca --data-dir ... --renew`).
        command: String,
        /// The CN of the CA whose key must be given with `--issuer-key`,
        /// when it is not in the CA's key file.
        issuer_key: Option<String>,
    },
    /// Its key is not on this node (kubeadm's external-CA mode): renew it
    /// where the key is, or rotate.
    KeyElsewhere,
    /// A renewal would not keep trust, or would keep a key that should go:
    /// why, in words.
    Rotate(String),
}

/// Each CA of `data_dir`'s layout found under `cert_dir`, in the layout's
/// order; CAs whose certificate is missing or unreadable are left out (the
/// expiry report names those files).
pub fn outlook(data_dir: &DataDir, cert_dir: &Path) -> Vec<CaOutlook> {
    let layout = data_dir.layout();
    let command = renew_command(data_dir);
    layout
        .cas
        .iter()
        .filter_map(|ca| {
            let file = cert_dir.join(layout.cert_file(ca));
            let bundle = read_bundle(&file).ok()?;
            let key_file = cert_dir.join(layout.key_file(ca));
            let first = bundle.first()?;
            Some(CaOutlook {
                subject: first.subject_cn(),
                not_after: first.not_after(),
                next: next_step(&bundle, &key_file, &command),
                file,
            })
        })
        .collect()
}

/// The command that renews the CAs of `data_dir`.
fn renew_command(data_dir: &DataDir) -> String {
    format!(
        "rotate-default-ca --product {} --data-dir {} --renew",
        data_dir.product.name(),
        shell_quote(data_dir.root.as_os_str())
    )
}

fn next_step(bundle: &[Certificate], key_file: &Path, command: &str) -> NextStep {
    let cert = &bundle[0];
    if let Err(why) = check_ca_key_size(cert.public_key()) {
        return NextStep::Rotate(why);
    }
    if !key_file.exists() {
        return NextStep::KeyElsewhere;
    }
    let keys: Vec<PrivateKey> = match PemFile::read(key_file) {
        Ok(file) => file
            .blocks
            .iter()
            .filter(|b| b.label.ends_with("PRIVATE KEY"))
            .filter_map(|b| PrivateKey::from_block(key_file, b).ok())
            .collect(),
        Err(_) => Vec::new(),
    };
    let holds = |c: &Certificate| {
        keys.iter()
            .any(|k| k.matches(c.public_key()).unwrap_or(false))
    };
    if !keys
        .first()
        .is_some_and(|k| k.matches(cert.public_key()).unwrap_or(false))
    {
        return NextStep::Rotate(format!(
            "the first key of {} is not this certificate's",
            key_file.display()
        ));
    }
    let issuer_key = match bundle
        .iter()
        .chain(std::iter::once(cert))
        .find(|c| check_issued_by(cert, c).is_ok())
    {
        Some(issuer) if holds(issuer) => None,
        Some(issuer) => Some(issuer.subject_cn()),
        None => Some(cert.issuer_cn()),
    };
    NextStep::Renew {
        command: match &issuer_key {
            Some(_) => format!("{command} --issuer-key <its issuer's key>"),
            None => command.to_string(),
        },
        issuer_key,
    }
}
