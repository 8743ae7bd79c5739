//! kubeadm's partial kubeconfigs filled by signing, judged by kubectl: with or
//! without a final newline, LF or CRLF, trailing blanks, the filled file is one
//! `kubectl config view --raw` reads, holding the certificates we put in it.
//! And a short mutation run over kubeconfig lines: any mutant gives a value or
//! a one-line error, never a panic, never key material.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a panic is a failure"
)]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::process::Command;

use base64ct::Encoding as _;
use shared::layout::kubeconfig::Kubeconfig;
use shared::pki::cert::{Certificate, read_bundle};
use testkit::mutate::{Mutator, message_problem, secret_windows};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        testkit::workspace_root()
            .join("fixtures/k3s-default/server/tls")
            .join(name),
    )
    .unwrap()
}

fn cert(name: &str) -> Certificate {
    let path = testkit::workspace_root()
        .join("fixtures/k3s-default/server/tls")
        .join(name);
    read_bundle(&path).unwrap().swap_remove(0)
}

/// What `kubeadm certs generate-csr` writes (client-go's layout), with a real
/// client key; the server is closed at once, so kubectl never waits on it.
fn partial() -> String {
    let key = base64ct::Base64::encode_string(&fixture("client-admin.key"));
    format!(
        "apiVersion: v1\nclusters:\n- cluster:\n    server: https://127.0.0.1:9\n  name: kubernetes\n\
         contexts:\n- context:\n    cluster: kubernetes\n    user: kubernetes-admin\n  \
         name: kubernetes-admin@kubernetes\ncurrent-context: kubernetes-admin@kubernetes\n\
         kind: Config\npreferences: {{}}\nusers:\n- name: kubernetes-admin\n  user:\n    \
         client-key-data: {key}\n"
    )
}

/// Issue 19 item 7: a kubeconfig whose last line has no newline was filled
/// into invalid YAML (kubectl: "mapping values are not allowed"), exit 0.
#[test]
fn filled_kubeconfigs_stay_valid_for_kubectl_whatever_their_line_ends() {
    let (ca, client) = (cert("server-ca.crt"), cert("client-admin.crt"));
    let pem64 = |c: &Certificate| base64ct::Base64::encode_string(c.to_pem().as_bytes());
    let dir = testkit::scratch();
    let lf = partial();
    let variants = [
        ("lf", lf.clone()),
        ("lf-no-final-newline", lf.trim_end().to_string()),
        ("crlf", lf.replace('\n', "\r\n")),
        ("crlf-no-final-newline", lf.trim_end().replace('\n', "\r\n")),
        (
            "trailing-blanks",
            lf.replace('\n', "  \n").trim_end().to_string(),
        ),
    ];
    for (name, text) in variants {
        let path = dir.path().join(format!("{name}.conf"));
        let filled = Kubeconfig::parse(Path::new(name), text.into_bytes())
            .unwrap()
            .with_credentials(&ca, &client)
            .unwrap();
        std::fs::write(&path, &filled).unwrap();
        let view = testkit::json(
            Command::new("kubectl")
                .args(["config", "view", "--raw", "-o", "json", "--kubeconfig"])
                .arg(&path),
        );
        assert_eq!(
            view["clusters"][0]["cluster"]["certificate-authority-data"],
            pem64(&ca),
            "{name}"
        );
        assert_eq!(
            view["users"][0]["user"]["client-certificate-data"],
            pem64(&client),
            "{name}"
        );
        assert_eq!(
            view["users"][0]["user"]["client-key-data"],
            base64ct::Base64::encode_string(&fixture("client-admin.key")),
            "{name}"
        );
    }
}

/// Every way the tools read a kubeconfig, on `bytes`; the messages of the
/// errors met.
fn read_all_ways(bytes: &[u8], ca: &Certificate, client: &Certificate) -> Vec<String> {
    let mut messages = Vec::new();
    match Kubeconfig::parse(Path::new("admin.conf"), bytes.to_vec()) {
        Err(e) => messages.push(e.to_string()),
        Ok(config) => {
            for result in [
                config.client_key().map(|_| ()),
                config.client_certificates().map(|_| ()),
                config.with_credentials(ca, client).map(|_| ()),
            ] {
                if let Err(e) = result {
                    messages.push(e.to_string());
                }
            }
        }
    }
    messages
}

/// Issue 19: a mutation run per new parser, kubeconfig lines included.
#[test]
fn mutated_kubeconfigs_never_panic_nor_leak_key_material() {
    let (ca, client) = (cert("server-ca.crt"), cert("client-admin.crt"));
    let text = partial();
    let filled = Kubeconfig::parse(Path::new("f"), text.clone().into_bytes())
        .unwrap()
        .with_credentials(&ca, &client)
        .unwrap();
    let inputs = [text.into_bytes(), filled];
    let key = fixture("client-admin.key");
    let secrets = secret_windows([key.as_slice()]);
    let count: usize = std::env::var("MUTANTS").map_or(2000, |n| n.parse().unwrap());
    let seed: u64 = std::env::var("MUTATION_SEED").map_or(19, |s| s.parse().unwrap());
    let mut mutator = Mutator::new(seed);
    let mut failures = Vec::new();
    for i in 0..count {
        let input = &inputs[mutator.below(inputs.len())];
        let mutant = mutator.mutant(input);
        match catch_unwind(AssertUnwindSafe(|| read_all_ways(&mutant, &ca, &client))) {
            Err(_) => failures.push(format!("mutant {i} (seed {seed}): panic")),
            Ok(messages) => failures.extend(
                messages
                    .iter()
                    .filter_map(|m| message_problem(m, &secrets))
                    .map(|p| format!("mutant {i} (seed {seed}): {p}")),
            ),
        }
        if failures.len() > 10 {
            break;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
