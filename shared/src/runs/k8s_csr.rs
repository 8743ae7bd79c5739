//! Kubernetes CertificateSigningRequest objects signed offline: the signer
//! an external-CA cluster lacks (kubeadm's external-CA mode has no CA key in
//! the cluster, so kubelet serving and client CSRs stay pending).
//!
//! `kubectl get csr -o json` (one object or a List) is carried to the CA.
//! Each approved object is judged as the signer its `spec.signerName` names
//! would judge it (the profile and identity rules of [`super::csr_policy`],
//! the usages that signer gives, the requesting user against the CN), then
//! written back with `status.certificate` set, for
//! `kubectl replace --raw <object>/status`. Each object is its own decision:
//! a refused one is named with its reason and not written, the others are.
//!
//! Only approved objects are signed, as Kubernetes' own signers do: the API
//! server keeps the approval in the conditions, and a status update that
//! lacks a condition the stored object has is rejected, so the object must
//! be exported after `kubectl certificate approve`.

use std::path::{Path, PathBuf};

use base64ct::Encoding as _;
use serde_json::Value;

use crate::pki::csr::Csr;
use crate::pki::error::{Error, Kind, Result};
use crate::pki::input;
use crate::runs::csr_policy::{NODE_USER_PREFIX, NODES_GROUP};
use crate::runs::sign_csr::CsrProfile;

/// The largest list read: about 25,000 requests.
pub const MAX_LIST_BYTES: u64 = 64 * 1024 * 1024;

/// The API version of the objects read and written.
pub const API_VERSION: &str = "certificates.k8s.io/v1";

/// The group of kubelets joining with a bootstrap token.
const BOOTSTRAPPERS: &str = "system:bootstrappers";
/// The user name prefix of bootstrap tokens.
const BOOTSTRAP_USER_PREFIX: &str = "system:bootstrap:";

/// A Kubernetes signer this tool signs for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signer {
    /// `kubernetes.io/kubelet-serving`.
    KubeletServing,
    /// `kubernetes.io/kube-apiserver-client-kubelet`.
    KubeletClient,
    /// `kubernetes.io/kube-apiserver-client`.
    ApiServerClient,
}

impl Signer {
    const ALL: [Signer; 3] = [
        Signer::KubeletServing,
        Signer::KubeletClient,
        Signer::ApiServerClient,
    ];

    /// Its `spec.signerName`.
    pub fn name(self) -> &'static str {
        match self {
            Signer::KubeletServing => "kubernetes.io/kubelet-serving",
            Signer::KubeletClient => "kubernetes.io/kube-apiserver-client-kubelet",
            Signer::ApiServerClient => "kubernetes.io/kube-apiserver-client",
        }
    }

    /// The profile its certificates are issued with.
    pub fn profile(self) -> CsrProfile {
        match self {
            Signer::KubeletServing => CsrProfile::KubeletServing,
            Signer::KubeletClient => CsrProfile::KubeletClient,
            Signer::ApiServerClient => CsrProfile::Client,
        }
    }

    /// The `spec.usages` it gives, and the one it requires (Kubernetes'
    /// documentation of the built-in signers).
    fn usages(self) -> (&'static [&'static str], &'static str) {
        match self {
            Signer::KubeletServing => (
                &["digital signature", "key encipherment", "server auth"],
                "server auth",
            ),
            Signer::KubeletClient | Signer::ApiServerClient => (
                &["digital signature", "key encipherment", "client auth"],
                "client auth",
            ),
        }
    }
}

/// One object to sign: its name, the object as read, and its request.
pub struct CsrObject {
    /// `metadata.name`.
    pub name: String,
    /// The signer that signs it.
    pub signer: Signer,
    /// The request, checked (signature, key, extensions).
    pub csr: Csr,
    /// The object as read, to be written back with its certificate.
    pub object: Value,
}

/// Reads `path`: one CertificateSigningRequest or a List of them. The outer
/// error refuses the file; each inner one refuses one object, naming it.
pub fn read(path: &Path) -> Result<Vec<Result<CsrObject>>> {
    let bytes = input::read_up_to(path, MAX_LIST_BYTES)?;
    let unusable = |why: String| Error::at(path, Kind::Inputs(why));
    let document: Value = serde_json::from_slice(&bytes)
        .map_err(|e| unusable(format!("not JSON (kubectl get csr -o json): {e}")))?;
    let items = match document.get("kind").and_then(Value::as_str) {
        Some("List" | "CertificateSigningRequestList") => document
            .get("items")
            .and_then(Value::as_array)
            .cloned()
            .ok_or_else(|| unusable("a List without items".into()))?,
        Some("CertificateSigningRequest") => vec![document],
        other => {
            return Err(unusable(format!(
                "kind {}: expected a CertificateSigningRequest or a List of them \
                 (kubectl get csr -o json)",
                other.unwrap_or("missing")
            )));
        }
    };
    Ok(items
        .into_iter()
        .enumerate()
        .map(|(index, object)| read_object(path, index, object))
        .collect())
}

/// Where messages about the object at `index` of `path` point.
fn object_location(path: &Path, index: usize, name: Option<&str>) -> PathBuf {
    let mut location = path.as_os_str().to_owned();
    match name {
        Some(name) => location.push(format!(" (CSR {name})")),
        None => location.push(format!(" (item {})", index + 1)),
    }
    PathBuf::from(location)
}

fn read_object(path: &Path, index: usize, object: Value) -> Result<CsrObject> {
    let field = |pointer: &str| object.pointer(pointer).and_then(Value::as_str);
    let name = field("/metadata/name").filter(|name| is_object_name(name));
    let location = object_location(path, index, name);
    let refuse = |why: String| Error::at(&location, Kind::Inputs(format!("refused: {why}")));
    let Some(name) = name else {
        return Err(refuse(
            "no metadata.name that is a Kubernetes object name".into(),
        ));
    };
    if field("/apiVersion") != Some(API_VERSION)
        || field("/kind") != Some("CertificateSigningRequest")
    {
        return Err(refuse(format!(
            "not a {API_VERSION} CertificateSigningRequest (v1beta1 went in Kubernetes 1.22)"
        )));
    }
    let conditions = object
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let has = |kind: &str| {
        conditions.iter().any(|condition| {
            condition.get("type").and_then(Value::as_str) == Some(kind)
                && condition.get("status").and_then(Value::as_str) != Some("False")
        })
    };
    if has("Denied") || has("Failed") {
        return Err(refuse("it was denied or failed in the cluster".into()));
    }
    if field("/status/certificate").is_some_and(|c| !c.is_empty()) {
        return Err(refuse("it already has a certificate".into()));
    }
    if !has("Approved") {
        return Err(refuse(format!(
            "it is not approved: approve it in the cluster (kubectl certificate approve {name}), \
             then export it again (kubectl get csr {name} -o json); the API server keeps a \
             certificate only for an approved request"
        )));
    }
    let signer_name = field("/spec/signerName").unwrap_or_default();
    let signer = Signer::ALL
        .into_iter()
        .find(|signer| signer.name() == signer_name)
        .ok_or_else(|| {
            refuse(format!(
                "signer \"{signer_name}\" is not one signed here ({}, {}, {})",
                Signer::KubeletServing.name(),
                Signer::KubeletClient.name(),
                Signer::ApiServerClient.name()
            ))
        })?;
    let request = field("/spec/request")
        .and_then(|encoded| base64ct::Base64::decode_vec(encoded).ok())
        .ok_or_else(|| refuse("spec.request is not base64".into()))?;
    let csr = Csr::parse(&location, request)?;
    check_usages(&object, signer).map_err(refuse)?;
    check_requester(&object, signer, &csr).map_err(refuse)?;
    Ok(CsrObject {
        name: name.to_string(),
        signer,
        csr,
        object,
    })
}

/// A DNS subdomain as Kubernetes names objects: it becomes a file name.
fn is_object_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && !name.starts_with(['-', '.'])
}

/// `spec.usages` within what `signer` gives, with the one it requires.
fn check_usages(object: &Value, signer: Signer) -> std::result::Result<(), String> {
    let (allowed, required) = signer.usages();
    let usages: Vec<&str> = object
        .pointer("/spec/usages")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if let Some(usage) = usages.iter().find(|usage| !allowed.contains(usage)) {
        return Err(format!(
            "requests the usage \"{usage}\", which {} does not give ({})",
            signer.name(),
            allowed.join(", ")
        ));
    }
    if !usages.contains(&required) {
        return Err(format!(
            "does not request \"{required}\", which {} requires",
            signer.name()
        ));
    }
    Ok(())
}

/// The kubelet signers sign a node's identity only for that node (or, for
/// its first client certificate, a bootstrap token): the requesting user
/// (`spec.username`, set by the API server) must be the CN asked for.
fn check_requester(object: &Value, signer: Signer, csr: &Csr) -> std::result::Result<(), String> {
    if signer == Signer::ApiServerClient {
        return Ok(());
    }
    let username = object
        .pointer("/spec/username")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let groups: Vec<&str> = object
        .pointer("/spec/groups")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let asked = csr.common_names().join(",");
    let node_itself = username.starts_with(NODE_USER_PREFIX)
        && username == asked
        && groups.contains(&NODES_GROUP);
    let bootstrap = signer == Signer::KubeletClient
        && username.starts_with(BOOTSTRAP_USER_PREFIX)
        && groups.contains(&BOOTSTRAPPERS);
    if node_itself || bootstrap {
        return Ok(());
    }
    Err(format!(
        "requested by \"{username}\", not by the node it names (\"{asked}\" in group {NODES_GROUP}{})",
        if signer == Signer::KubeletClient {
            ", or a bootstrap token"
        } else {
            ""
        }
    ))
}

/// `object` with `certificate` (PEM) as its `status.certificate`, as the
/// API server takes it on the status subresource.
pub fn with_certificate(object: &Value, certificate_pem: &str) -> Value {
    let mut signed = object.clone();
    let encoded = base64ct::Base64::encode_string(certificate_pem.as_bytes());
    if let Some(map) = signed.as_object_mut() {
        let status = map
            .entry("status")
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
        if let Some(status) = status.as_object_mut() {
            status.insert("certificate".into(), Value::String(encoded));
        }
    }
    signed
}

/// The command that loads the signed object `file` named `name`.
pub fn load_command(name: &str, file: &Path) -> String {
    format!(
        "kubectl replace --raw /apis/{API_VERSION}/certificatesigningrequests/{name}/status -f {}",
        crate::pki::text::shell_quote(file.as_os_str())
    )
}
