//! `ca-check token`: the k3s CA hash of the join CA's bundle, which an agent
//! compares with the hash its token carries, and what each join-token file
//! carries.
//!
//! `runs::rotation`'s `TokenUpdate` reads the same files, to carry them over
//! to a new hash.

use std::path::PathBuf;
use std::time::SystemTime;

use crate::checks::{TOOL, recover};
use crate::layout::DataDir;
use crate::layout::k3s::{
    self,
    token::{TokenFile, k3s_ca_hash_of},
};
use crate::pki::error::{Error, Result};
use crate::pki::pem::PemFile;

/// The join CA's hash and what each token file carries.
pub struct TokenReport {
    /// The join CA's bundle (`server-ca.crt`).
    pub join_ca: PathBuf,
    /// Its k3s CA hash: what every token has to carry.
    pub hash: String,
    /// Each token file and what it carries.
    pub tokens: Vec<(PathBuf, TokenState)>,
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

impl TokenReport {
    /// Whether every token file there is carries the join CA's hash.
    pub fn passed(&self) -> bool {
        self.tokens
            .iter()
            .all(|(_, state)| matches!(state, TokenState::Missing | TokenState::Current))
    }
}

/// The join tokens of `data_dir` (k3s and RKE2 only) against its join CA,
/// judged at `now`; an error when the join CA cannot be read.
pub fn check(data_dir: &DataDir, now: SystemTime) -> Result<TokenReport> {
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
    Ok(TokenReport {
        join_ca,
        hash,
        tokens,
    })
}
