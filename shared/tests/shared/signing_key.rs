//! The signing seam, from outside the crate as a PKCS#11 signer would use it:
//! a key that is not an in-memory `PrivateKey` issues a CA and a leaf, signs
//! pre-flight's leaves and sign-csr's certificates. The key is a double that
//! delegates to a `PrivateKey` and counts its signatures, so each test also
//! fails if issuance goes around it; what it signs is checked with our
//! verification and with `openssl verify`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a panic is a failure"
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::SystemTime;

use shared::checks::preflight;
use shared::layout::kubeadm;
use shared::pki::cert::{Certificate, bundle_in};
use shared::pki::constraints::{Usage, check_path};
use shared::pki::error::Error;
use shared::pki::issue::{
    CaRequest, IssueRequest, Issuer, Profile, SERVER_AUTH, days_after, issue, issue_ca,
};
use shared::pki::keys::{KeyAlgorithm, PrivateKey, SigningKey};
use shared::pki::names::{San, subject_name};
use shared::pki::verify::check_signature;
use shared::runs::csr_policy::Policy;
use shared::runs::sign_csr::{self, CsrProfile, GenericTargets};

/// A key held "elsewhere": it signs through an in-memory key it keeps to
/// itself and counts every signature (shared, to be read once it is boxed).
struct CountingKey {
    key: PrivateKey,
    signatures: Arc<AtomicUsize>,
}

impl CountingKey {
    fn generate(algorithm: KeyAlgorithm) -> Self {
        CountingKey {
            key: PrivateKey::generate(algorithm).unwrap(),
            signatures: Arc::new(AtomicUsize::new(0)),
        }
    }
}

impl SigningKey for CountingKey {
    fn algorithm(&self) -> KeyAlgorithm {
        self.key.algorithm()
    }

    fn public_key_der(&self) -> Result<Vec<u8>, Error> {
        self.key.public_key_der()
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        self.signatures.fetch_add(1, Ordering::SeqCst);
        SigningKey::sign(&self.key, message)
    }
}

/// A self-signed CA over `key`, valid ten years from `now`.
fn self_signed_ca(key: &CountingKey, now: SystemTime) -> Certificate {
    let request = CaRequest {
        common_name: "signing-key test CA",
        key,
        not_before: now,
        not_after: days_after(now, 3650),
    };
    issue_ca(&request, Issuer::SelfSigned(key)).unwrap()
}

fn write(dir: &Path, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

/// `openssl verify` of `leaf` as a TLS server certificate, trusting only `root`.
fn openssl_verifies(root: &Path, leaf: &Path) {
    testkit::ok(
        testkit::openssl()
            .args(["verify", "-x509_strict", "-purpose", "sslserver", "-CAfile"])
            .arg(root)
            .arg(leaf),
    );
}

#[test]
fn a_key_that_is_not_a_private_key_issues_a_ca_and_a_leaf() {
    let dir = testkit::scratch();
    let now = SystemTime::now();
    for algorithm in [
        KeyAlgorithm::EcdsaP256,
        KeyAlgorithm::Rsa(2048),
        KeyAlgorithm::Ed25519,
    ] {
        let key = CountingKey::generate(algorithm);
        let root = self_signed_ca(&key, now);
        let leaf_key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let leaf = issue(
            &IssueRequest {
                subject: subject_name("leaf.example", &[]).unwrap(),
                public_key: leaf_key.public_key_info().unwrap(),
                profile: Profile::Leaf {
                    usages: vec![SERVER_AUTH],
                    sans: vec![San::parse("leaf.example")],
                },
                not_before: now,
                not_after: days_after(now, 30),
            },
            Issuer::Ca {
                cert: &root,
                key: &key,
            },
        )
        .unwrap();
        assert_eq!(key.signatures.load(Ordering::SeqCst), 2, "{algorithm}");
        assert_eq!(root.public_key(), &key.public_key_info().unwrap());

        check_signature(&root, &root).unwrap();
        check_signature(&leaf, &root).unwrap();
        let findings = check_path(&[&leaf, &root], Usage::ServerAuth, now);
        assert!(findings.is_empty(), "{algorithm}: {findings:?}");
        openssl_verifies(
            &write(dir.path(), &format!("{algorithm}-root.crt"), root.to_pem()),
            &write(dir.path(), &format!("{algorithm}-leaf.crt"), leaf.to_pem()),
        );
    }
}

#[test]
fn preflight_signs_through_a_key_that_is_not_a_private_key() {
    let now = SystemTime::now();
    let key = CountingKey::generate(KeyAlgorithm::EcdsaP256);
    let ca = self_signed_ca(&key, now);
    let layout = &kubeadm::LAYOUT;
    let leaves = layout.leaves(&layout.cluster_names());
    let from_ca = leaves.iter().filter(|leaf| leaf.ca == "ca").count();
    assert!(from_ca > 0);

    let report = preflight::run(
        layout.name(),
        None,
        &[],
        &[preflight::SigningCa {
            stem: "ca".into(),
            cert: &ca,
            key: &key,
            source: "the test CA".into(),
        }],
        &leaves,
        now,
    )
    .unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    // The CA itself, then one leaf per kind kubeadm issues from `ca`.
    assert_eq!(key.signatures.load(Ordering::SeqCst), 1 + from_ca);
}

#[test]
fn sign_csr_signs_through_a_key_that_is_not_a_private_key() {
    let dir = testkit::scratch();
    let now = SystemTime::now();
    let key = CountingKey::generate(KeyAlgorithm::EcdsaP256);
    let signatures = Arc::clone(&key.signatures);
    let root = self_signed_ca(&key, now);
    let root_path = write(dir.path(), "ca.crt", root.to_pem());
    let csrs = dir.path().join("csrs");
    std::fs::create_dir(&csrs).unwrap();
    // Several CSRs: the run signs them on every core, through one key.
    let names = ["one", "two", "three"];
    for name in names {
        testkit::ok(
            testkit::openssl()
                .args(["req", "-new", "-newkey", "ec"])
                .args(["-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"])
                .args(["-subj", &format!("/CN={name}")])
                .args(["-addext", &format!("subjectAltName=DNS:{name}.example")])
                .arg("-keyout")
                .arg(csrs.join(format!("{name}.key")))
                .arg("-out")
                .arg(csrs.join(format!("{name}.csr"))),
        );
    }
    let ca = sign_csr::SigningCa::new("ca", &root_path, root.clone(), key);

    let targets = GenericTargets::resolve(&csrs, None).unwrap();
    let run = sign_csr::plan_generic(
        &targets,
        &ca,
        CsrProfile::Server,
        &Policy::default(),
        30,
        now,
        None,
    )
    .unwrap();
    assert!(run.refused.is_empty(), "{:?}", run.refused);
    assert_eq!(run.signed.len(), names.len());
    assert_eq!(signatures.load(Ordering::SeqCst), 1 + names.len());

    for name in names {
        let cert_path = csrs.join(format!("{name}.crt"));
        let cert = bundle_in(&run.plan.planned_pem(&cert_path).unwrap())
            .unwrap()
            .swap_remove(0);
        let csr_key = PrivateKey::read_first(&csrs.join(format!("{name}.key"))).unwrap();
        assert!(csr_key.matches(cert.public_key()).unwrap(), "{name}");
        check_signature(&cert, &root).unwrap();
        let findings = check_path(&[&cert, &root], Usage::ServerAuth, now);
        assert!(findings.is_empty(), "{name}: {findings:?}");
        openssl_verifies(
            &root_path,
            &write(&csrs, &format!("{name}.crt"), cert.to_pem()),
        );
    }
}
