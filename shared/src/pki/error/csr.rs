//! Why a certificate signing request is refused: beside the other kinds, so
//! that the error type needs nothing of the CSR reader (`pki::csr`).

use std::fmt;
use std::path::PathBuf;

/// Why a CSR is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CsrProblem {
    /// The file holds no CSR we can decode.
    Malformed(String),
    /// The self-signature does not verify: whoever made the request may not
    /// hold the key.
    BadSignature(String),
    /// A signature algorithm outside the algorithm table.
    UnsupportedSignature(String),
    /// A key type outside the algorithm table, or one the product cannot read.
    KeyType(String),
    /// An RSA key below the smallest size signed for.
    WeakRsa {
        /// Its size.
        bits: usize,
        /// The smallest size signed for.
        min: usize,
    },
    /// basicConstraints CA:TRUE requested.
    AsksForCa,
    /// keyUsage keyCertSign requested.
    AsksForKeyCertSign,
    /// A subject alternative name of a type leaves do not carry here.
    SanType(&'static str),
    /// A DNS name outside the preferred name syntax (see
    /// [`crate::pki::names::dns_name_problem`]).
    DnsName {
        /// The name as the request holds it.
        name: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A subject attribute longer than RFC 5280's upper bound.
    SubjectTooLong {
        /// The attribute's short name (`CN`, `O`, ...).
        attribute: &'static str,
        /// Its length in characters.
        length: usize,
        /// The bound.
        max: usize,
    },
    /// The subject is empty.
    EmptySubject,
    /// The subject is not the one the file must carry.
    Subject {
        /// What it must be.
        expected: String,
        /// What the request says.
        found: String,
    },
    /// Names outside what the certificate may hold.
    NamesOutside {
        /// The names refused, as written in certificates (`DNS:x`, `IP:y`).
        names: Vec<String>,
        /// How to allow them.
        hint: &'static str,
    },
    /// The request's key is not the private key kept beside it.
    NotItsKey(PathBuf),
    /// No CA to sign it with.
    NoCa(PathBuf),
    /// A file name no tool writes as a CSR of this layout.
    UnknownFile(&'static str),
    /// A serving certificate asked for without any name.
    NoNames,
    /// Names the signer's allow-list does not hold.
    NotAllowed {
        /// The names refused, as written in certificates (`DNS x`, `IP y`).
        names: Vec<String>,
        /// What the list allows, for the message.
        allowed: String,
    },
    /// A group that bypasses authorisation, without the flag that allows it.
    SuperUser {
        /// The group (`system:masters`).
        group: String,
        /// What it grants.
        grants: &'static str,
    },
}

impl fmt::Display for CsrProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CsrProblem::Malformed(why) => write!(f, "not a certificate signing request: {why}"),
            CsrProblem::BadSignature(why) => write!(
                f,
                "its signature does not verify with its own key (no proof of possession): {why}"
            ),
            CsrProblem::UnsupportedSignature(oid) => {
                write!(f, "signed with an unsupported algorithm {oid}")
            }
            CsrProblem::KeyType(why) => write!(f, "{why}"),
            CsrProblem::WeakRsa { bits, min } => {
                write!(f, "an RSA-{bits} key: keys under RSA-{min} are refused")
            }
            CsrProblem::AsksForCa => write!(f, "asks for basicConstraints CA:TRUE"),
            CsrProblem::AsksForKeyCertSign => write!(f, "asks for keyUsage keyCertSign"),
            CsrProblem::SanType(kind) => write!(
                f,
                "asks for a {kind} subject alternative name; only DNS names and IP addresses are issued"
            ),
            // The error's Display escapes the control characters in `name`.
            CsrProblem::DnsName { name, why } => write!(
                f,
                "asks for the DNS name \"{name}\", which is not a host name: {why}"
            ),
            CsrProblem::SubjectTooLong {
                attribute,
                length,
                max,
            } => write!(
                f,
                "its subject's {attribute} is {length} characters long; RFC 5280 allows {max}"
            ),
            CsrProblem::EmptySubject => write!(f, "has an empty subject"),
            CsrProblem::Subject { expected, found } => {
                write!(f, "subject is \"{found}\", expected \"{expected}\"")
            }
            CsrProblem::NamesOutside { names, hint } => write!(
                f,
                "asks for {} outside the cluster's names ({hint})",
                names.join(", ")
            ),
            CsrProblem::NotItsKey(key) => write!(
                f,
                "its public key is not the key in {}: the certificate would not match it",
                key.display()
            ),
            CsrProblem::NoCa(cert) => write!(
                f,
                "no CA to sign it with: {} and its .key are needed",
                cert.display()
            ),
            CsrProblem::UnknownFile(what) => write!(f, "{what}"),
            CsrProblem::NoNames => write!(
                f,
                "asks for a serving certificate without a subject alternative name: clients \
                 (Go since 1.15, browsers) ignore the CN; ask for the names clients connect to"
            ),
            CsrProblem::NotAllowed { names, allowed } => write!(
                f,
                "asks for {}, not in what this signer allows ({allowed}); \
                 if they are the requester's, add them with --allow-san",
                names.join(", ")
            ),
            CsrProblem::SuperUser { group, grants } => write!(
                f,
                "asks for O={group}, which {grants}: refused without --allow-super-user \
                 (give people their own groups and RBAC bindings instead)"
            ),
        }
    }
}
