//! Chain building against Go 1.26's crypto/x509 (gocheck): the signature-check
//! budget of its path builder, the chain it picks (and so k3s's token hash), and
//! how deep a chain it accepts.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a panic is a failure"
)]

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use shared::layout::k3s::token::k3s_ca_hash;
use shared::pki::cert::{Certificate, bundle_pem, read_bundle};
use shared::pki::issue::{IssueRequest, Issuer, Profile, days_after, issue};
use shared::pki::keys::{KeyAlgorithm, PrivateKey, SigningKey};
use shared::pki::names::subject_name;
use shared::pki::verify::{GoRefusal, MAX_SIGNATURE_CHECKS, go_verify};

fn ca(cn: &str, key: &PrivateKey, issuer: Issuer<'_>) -> Certificate {
    let now = SystemTime::now() - Duration::from_secs(3600);
    issue(
        &IssueRequest {
            subject: subject_name(cn, &[]).unwrap(),
            public_key: key.public_key_info().unwrap(),
            profile: Profile::Ca {
                path_len: None,
                permitted: Vec::new(),
                usages: Vec::new(),
            },
            not_before: now,
            not_after: days_after(now, 365),
        },
        issuer,
    )
    .unwrap()
}

/// Issue 19's mesh made with openssl (testkit::enterprise::mesh), read back:
/// (self-signed certificates, cross certificates).
fn mesh(dir: &Path, n: usize) -> (Vec<Certificate>, Vec<Certificate>) {
    let (selfs, cross) = testkit::enterprise::mesh(dir, n);
    let read = |paths: Vec<std::path::PathBuf>| -> Vec<Certificate> {
        paths
            .iter()
            .map(|p| read_bundle(p).unwrap().remove(0))
            .collect()
    };
    (read(selfs), read(cross))
}

fn gocheck(args: &[&str], file: &Path) -> (bool, String) {
    let out = testkit::gocheck().args(args).arg(file).output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn the_57_certificate_mesh_stops_at_gos_budget_with_gos_verdict() {
    let dir = testkit::scratch();
    let (selfs, cross) = mesh(dir.path(), 8);
    // An unrelated root: no chain exists, so only the budget ends the search.
    let other_key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let other = ca("Other root", &other_key, Issuer::SelfSigned(&other_key));
    let roots_file = dir.path().join("roots.pem");
    std::fs::write(&roots_file, other.to_pem()).unwrap();
    // The first certificate is signed by another key of the mesh, so every key
    // leads on to the others.
    let bundle: Vec<&Certificate> = cross.iter().chain(&selfs[..1]).collect();
    assert_eq!(bundle.len(), 57);
    let bundle_file = dir.path().join("server-ca.crt");
    std::fs::write(&bundle_file, bundle_pem(bundle.iter().copied())).unwrap();

    let started = Instant::now();
    let verdict = go_verify(bundle[0], &[&other], &bundle[1..], SystemTime::now());
    let took = started.elapsed();
    assert_eq!(verdict, Err(GoRefusal::Budget));
    assert!(took < Duration::from_millis(500), "took {took:?}");

    let roots_arg = roots_file.to_str().unwrap();
    let go_started = Instant::now();
    let (ok, text) = gocheck(
        &["verify", "--roots", roots_arg, "--usage", "server"],
        &bundle_file,
    );
    eprintln!(
        "57-certificate mesh: ours {took:?}, gocheck (a process, parsing included) {:?}",
        go_started.elapsed()
    );
    assert!(!ok, "Go accepted: {text}");
    assert!(text.contains("signature check attempts limit"), "{text}");
}

#[test]
fn in_the_mesh_the_chain_and_token_hash_are_gos() {
    let dir = testkit::scratch();
    let (selfs, cross) = mesh(dir.path(), 6);
    // k3s's bundle: the first certificate, then roots (self-signed) and
    // intermediates; two roots named alike, so which chain comes first matters.
    for (first, roots) in [(0, [4, 5]), (3, [5, 1]), (2, [0, 4])] {
        let mut certs: Vec<Certificate> = vec![cross[first].clone()];
        certs.extend(cross.iter().skip(first + 1).cloned());
        certs.extend(roots.iter().map(|r| selfs[*r].clone()));
        let file = dir.path().join(format!("bundle-{first}.crt"));
        let pem = bundle_pem(&certs);
        std::fs::write(&file, &pem).unwrap();
        let ours = k3s_ca_hash(pem.as_bytes(), &certs, SystemTime::now());
        let (ok, text) = gocheck(&["hashca"], &file);
        assert!(ok, "{text}");
        assert_eq!(ours, text.trim(), "bundle starting at cross[{first}]");
    }
}

/// A root, `depth` intermediates in a line, and a leaf: (root, intermediates
/// from the top, leaf).
fn line(depth: usize) -> (Certificate, Vec<Certificate>, Certificate) {
    let root_key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let root = ca("Root", &root_key, Issuer::SelfSigned(&root_key));
    let mut chain: Vec<(Certificate, PrivateKey)> = Vec::new();
    for i in 0..depth {
        let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let (cert, signer) = match chain.last() {
            Some((c, k)) => (c, k),
            None => (&root, &root_key),
        };
        let new = ca(
            &format!("Intermediate {i}"),
            &key,
            Issuer::Ca { cert, key: signer },
        );
        chain.push((new, key));
    }
    let leaf_key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let (cert, key) = chain.last().map(|(c, k)| (c, k)).unwrap();
    let leaf = ca("Leaf", &leaf_key, Issuer::Ca { cert, key });
    (root, chain.into_iter().map(|(c, _)| c).collect(), leaf)
}

#[test]
fn depth_limit_is_gos_on_both_sides() {
    let dir = testkit::scratch();
    // A leaf under n intermediates costs n+1 signature checks in a line.
    for depth in [MAX_SIGNATURE_CHECKS - 1, MAX_SIGNATURE_CHECKS] {
        let (root, inters, leaf) = line(depth);
        let refs: Vec<&Certificate> = inters.iter().rev().collect();
        let ours = go_verify(&leaf, &[&root], &refs, SystemTime::now());
        let roots_file = dir.path().join(format!("root-{depth}.pem"));
        std::fs::write(&roots_file, root.to_pem()).unwrap();
        let file = dir.path().join(format!("leaf-{depth}.pem"));
        let pem = bundle_pem(std::iter::once(&leaf).chain(refs.iter().copied()));
        std::fs::write(&file, pem).unwrap();
        let (go_ok, text) = gocheck(&["verify", "--roots", roots_file.to_str().unwrap()], &file);
        assert_eq!(
            ours.is_ok(),
            go_ok,
            "depth {depth}: ours {ours:?}, Go: {text}"
        );
        assert_eq!(go_ok, depth < MAX_SIGNATURE_CHECKS, "depth {depth}: {text}");
    }
}

/// Runs openssl, panicking with its stderr on failure.
fn openssl(args: &[&str], dir: &Path) {
    let out = testkit::openssl()
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const CA_CNF: &str = "[req]\ndistinguished_name=dn\nprompt=no\n[dn]\nCN=Corp\n\
    [ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n\
    subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n";

/// Signature algorithms as real PKIs write them with openssl: an RSA root (its
/// own signature RSA-PSS, which nobody checks) signs an intermediate with each
/// `sign_args`; our verdict on that signature and Go's on the chain must agree,
/// and a refusal names the algorithm in words.
#[test]
fn signature_algorithms_are_judged_as_go_judges_them() {
    let dir = testkit::scratch();
    let d = dir.path();
    std::fs::write(d.join("ca.cnf"), CA_CNF).unwrap();
    openssl(&["genrsa", "-out", "root.key", "2048"], d);
    openssl(
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "root.key",
            "-config",
            "ca.cnf",
            "-extensions",
            "ca",
            "-subj",
            "/CN=Corp Root",
            "-sha256",
            "-sigopt",
            "rsa_padding_mode:pss",
            "-out",
            "root.pem",
        ],
        d,
    );
    openssl(
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "sub.key",
        ],
        d,
    );
    openssl(
        &[
            "req",
            "-new",
            "-key",
            "sub.key",
            "-config",
            "ca.cnf",
            "-subj",
            "/CN=Corp Sub",
            "-out",
            "sub.csr",
        ],
        d,
    );
    let pss = |digest: &'static str, salt: &'static str| {
        vec![digest, "-sigopt", "rsa_padding_mode:pss", "-sigopt", salt]
    };
    // (openssl signing options, whether Go accepts, words our refusal must hold)
    let cases: Vec<(Vec<&str>, bool, &str)> = vec![
        (vec!["-sha256"], true, ""),
        (vec!["-sha512"], true, ""),
        (pss("-sha256", "rsa_pss_saltlen:digest"), true, ""),
        (pss("-sha384", "rsa_pss_saltlen:digest"), true, ""),
        (pss("-sha512", "rsa_pss_saltlen:digest"), true, ""),
        // openssl's default salt is the longest that fits: Go refuses it.
        (
            pss("-sha256", "rsa_pss_saltlen:max"),
            false,
            "222-byte salt over SHA-256",
        ),
        (pss("-sha256", "rsa_pss_saltlen:20"), false, "20-byte salt"),
        (
            vec!["-sha1"],
            false,
            "sha1WithRSAEncryption (1.2.840.113549.1.1.5): Go refuses SHA-1",
        ),
    ];
    let root = &shared::pki::cert::read_bundle(&d.join("root.pem")).unwrap()[0];
    for (i, (sign, go_accepts, words)) in cases.into_iter().enumerate() {
        let out = format!("sub-{i}.pem");
        let mut args = vec![
            "x509",
            "-req",
            "-in",
            "sub.csr",
            "-CA",
            "root.pem",
            "-CAkey",
            "root.key",
            "-extfile",
            "ca.cnf",
            "-extensions",
            "ca",
            "-days",
            "30",
            "-out",
            &out,
        ];
        args.extend(&sign);
        openssl(&args, d);
        let sub = &shared::pki::cert::read_bundle(&d.join(&out)).unwrap()[0];
        let ours = shared::pki::verify::check_signature(sub, root);
        let (go_ok, text) = gocheck(
            &["verify", "--roots", d.join("root.pem").to_str().unwrap()],
            &d.join(&out),
        );
        assert_eq!(go_ok, go_accepts, "{sign:?}: Go says {text}");
        assert_eq!(
            ours.is_ok(),
            go_accepts,
            "{sign:?}: ours {ours:?}, Go: {text}"
        );
        if let Err(message) = ours {
            assert!(message.contains(words), "{sign:?}: {message}");
        }
    }
}

/// RSA key sizes: Go 1.24+ refuses RSA keys under 1024 bits; the message says
/// so instead of calling the key "an unsupported type".
#[test]
fn rsa_keys_under_1024_bits_are_refused_naming_the_size() {
    let dir = testkit::scratch();
    let d = dir.path();
    openssl(&["genrsa", "-out", "small.key", "512"], d);
    openssl(
        &[
            "rsa",
            "-in",
            "small.key",
            "-pubout",
            "-outform",
            "DER",
            "-out",
            "small.der",
        ],
        d,
    );
    let der = std::fs::read(d.join("small.der")).unwrap();
    let Err(message) = shared::pki::keys::PublicKey::from_der(&der) else {
        panic!("an RSA-512 key was accepted");
    };
    assert!(
        message.contains("RSA-512") && message.contains("1024 to 8192 bits"),
        "{message}"
    );
}

/// A critical extension Go does not handle (openssl `1.2.3.4 = critical,
/// ASN1:NULL`): Go refuses the certificate in any chain, as leaf or as CA;
/// so do we, naming the extension.
#[test]
fn an_unhandled_critical_extension_is_refused_as_go_refuses_it() {
    let dir = testkit::scratch();
    let d = dir.path();
    std::fs::write(d.join("ca.cnf"), CA_CNF).unwrap();
    std::fs::write(
        d.join("odd.cnf"),
        format!("{CA_CNF}1.2.3.4 = critical,ASN1:NULL\n"),
    )
    .unwrap();
    openssl(
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "root.key",
        ],
        d,
    );
    openssl(
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "root.key",
            "-config",
            "ca.cnf",
            "-extensions",
            "ca",
            "-subj",
            "/CN=Corp Root",
            "-out",
            "root.pem",
        ],
        d,
    );
    openssl(
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "sub.key",
        ],
        d,
    );
    openssl(
        &[
            "req",
            "-new",
            "-key",
            "sub.key",
            "-config",
            "ca.cnf",
            "-subj",
            "/CN=Corp Sub",
            "-out",
            "sub.csr",
        ],
        d,
    );
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            "sub.csr",
            "-CA",
            "root.pem",
            "-CAkey",
            "root.key",
            "-extfile",
            "odd.cnf",
            "-extensions",
            "ca",
            "-days",
            "30",
            "-out",
            "sub.pem",
        ],
        d,
    );
    openssl(
        &[
            "req", "-new", "-key", "root.key", "-config", "ca.cnf", "-subj", "/CN=Leaf", "-out",
            "leaf.csr",
        ],
        d,
    );
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "sub.pem",
            "-CAkey",
            "sub.key",
            "-extfile",
            "ca.cnf",
            "-extensions",
            "ca",
            "-days",
            "20",
            "-out",
            "leaf.pem",
        ],
        d,
    );
    let read = |name: &str| read_bundle(&d.join(name)).unwrap().remove(0);
    let (root, sub, leaf) = (read("root.pem"), read("sub.pem"), read("leaf.pem"));
    let roots = d.join("root.pem");
    let roots = roots.to_str().unwrap();
    let (go_ok, text) = gocheck(&["verify", "--roots", roots], &d.join("sub.pem"));
    assert!(
        !go_ok && text.contains("unhandled critical extension"),
        "{text}"
    );
    let ours = go_verify(&sub, &[&root], &[], SystemTime::now());
    assert_eq!(ours, Err(GoRefusal::UnhandledCritical("1.2.3.4".into())));
    let both = d.join("leaf-chain.pem");
    std::fs::write(&both, bundle_pem([&leaf, &sub])).unwrap();
    let (go_ok, text) = gocheck(&["verify", "--roots", roots], &both);
    assert!(!go_ok, "{text}");
    let ours = go_verify(&leaf, &[&root], &[&sub], SystemTime::now());
    let Err(GoRefusal::UnknownAuthority(Some(why))) = ours else {
        panic!("{ours:?}");
    };
    assert!(
        why.contains("critical extension Go does not handle (1.2.3.4)"),
        "{why}"
    );
}
