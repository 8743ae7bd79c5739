//! `ca-check expiry` on kubeadm and k0s trees made by the test (CAs and leaves
//! from gocheck and openssl, kubeconfigs in client-go's layout): kubeadm's rows
//! and its own JSON (`-o kubeadm-json`, output.kubeadm.k8s.io/v1alpha3), with
//! residual times checked against openssl's notAfter; k0s's pki/ with the
//! client certificate of its admin.conf.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a panic is a failure"
)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{SystemTime, UNIX_EPOCH};

use base64ct::Encoding as _;
use testkit::enterprise::{CaExt, KeyKind, root};
use testkit::{Json, gocheck, ok, openssl, scratch};

/// kubeadm's names in `check-expiration`, sorted as it sorts them.
const CERTIFICATE_NAMES: [&str; 11] = [
    "admin.conf",
    "apiserver",
    "apiserver-etcd-client",
    "apiserver-kubelet-client",
    "controller-manager.conf",
    "etcd-healthcheck-client",
    "etcd-peer",
    "etcd-server",
    "front-proxy-client",
    "scheduler.conf",
    "super-admin.conf",
];

fn ca_check(product: &str, data_dir: &Path) -> Command {
    let mut cmd = testkit::tool(env!("CARGO_BIN_EXE_ca-check"), data_dir);
    cmd.args(["--product", product]);
    cmd
}

/// A CA made by `gocheck mkca`: `<dir>/<stem>.crt` + `.key`, valid `days`.
fn ca(pki: &Path, stem: &str, cn: &str, days: u32) {
    ok(gocheck()
        .args(["mkca", "--cn", cn, "--days", &days.to_string()])
        .arg("--out-cert")
        .arg(pki.join(format!("{stem}.crt")))
        .arg("--out-key")
        .arg(pki.join(format!("{stem}.key"))));
}

/// A leaf made by `gocheck issue` under the CA `<pki>/<ca>.crt`: written as
/// `<pki>/<base>.crt` + `.key`, valid `days` from now.
fn leaf(pki: &Path, ca: &str, base: &str, cn: &str, usage: &str, days: u32) -> PathBuf {
    dated_leaf(pki, ca, base, cn, usage, &["--days", &days.to_string()])
}

/// [`leaf`] with the validity given as `gocheck issue` flags.
fn dated_leaf(pki: &Path, ca: &str, base: &str, cn: &str, usage: &str, dates: &[&str]) -> PathBuf {
    let cert = pki.join(format!("{base}.crt"));
    ok(gocheck()
        .args(["issue", "--cn", cn, "--usage", usage])
        .args(dates)
        .arg("--ca-cert")
        .arg(pki.join(format!("{ca}.crt")))
        .arg("--ca-key")
        .arg(pki.join(format!("{ca}.key")))
        .arg("--out-cert")
        .arg(&cert)
        .arg("--out-key")
        .arg(pki.join(format!("{base}.key"))));
    cert
}

fn base64_of(path: &Path) -> String {
    base64ct::Base64::encode_string(&fs::read(path).unwrap())
}

/// A kubeconfig as client-go writes it (kubeadm's layout: sorted keys, block
/// style, two-space indents), embedding `ca`, `cert` and `key`.
fn kubeconfig(out: &Path, user: &str, ca: &Path, cert: &Path, key: &Path) {
    let text = format!(
        "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: {}\n    \
         server: https://192.0.2.10:6443\n  name: kubernetes\ncontexts:\n- context:\n    \
         cluster: kubernetes\n    user: {user}\n  name: {user}@kubernetes\n\
         current-context: {user}@kubernetes\nkind: Config\npreferences: {{}}\nusers:\n\
         - name: {user}\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\n",
        base64_of(ca),
        base64_of(cert),
        base64_of(key),
    );
    fs::write(out, text).unwrap();
}

/// The notAfter of `cert` as openssl reads it, in seconds since 1970.
pub(crate) fn openssl_not_after(cert: &Path) -> i64 {
    let line = ok(openssl()
        .args(["x509", "-noout", "-enddate", "-dateopt", "iso_8601", "-in"])
        .arg(cert));
    // notAfter=2027-01-02 15:04:05Z
    let date = line.trim().trim_start_matches("notAfter=");
    let epoch = ok(Command::new("date").args(["-u", "-d", date, "+%s"]));
    epoch.trim().parse().unwrap()
}

fn rfc3339(epoch: i64) -> String {
    let at = UNIX_EPOCH + std::time::Duration::from_secs(u64::try_from(epoch).unwrap());
    shared::pki::cert::format_time(at)
}

fn now_epoch() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

/// A kubeadm data dir: the three CAs (front-proxy-ca external: no key), the
/// seven pki/ leaves, admin.conf, controller-manager.conf and scheduler.conf
/// (scheduler's expiring in 10 days), no super-admin.conf (kubeadm writes it
/// only on the init node), and a kubelet.conf kubeadm does not list.
/// Returns the data dir and the certificate behind each kubeadm name.
fn kubeadm_tree(work: &Path) -> (PathBuf, Vec<(&'static str, PathBuf)>) {
    let data = work.join("kubernetes");
    let pki = data.join("pki");
    fs::create_dir_all(pki.join("etcd")).unwrap();
    ca(&pki, "ca", "kubernetes", 3650);
    ca(&pki, "front-proxy-ca", "front-proxy-ca", 3650);
    ca(&pki, "etcd/ca", "etcd-ca", 3650);
    let mut certs = vec![
        (
            "apiserver",
            leaf(&pki, "ca", "apiserver", "kube-apiserver", "server", 365),
        ),
        (
            "apiserver-kubelet-client",
            leaf(
                &pki,
                "ca",
                "apiserver-kubelet-client",
                "kube-apiserver-kubelet-client",
                "client",
                365,
            ),
        ),
        (
            "front-proxy-client",
            leaf(
                &pki,
                "front-proxy-ca",
                "front-proxy-client",
                "front-proxy-client",
                "client",
                365,
            ),
        ),
        (
            "apiserver-etcd-client",
            leaf(
                &pki,
                "etcd/ca",
                "apiserver-etcd-client",
                "kube-apiserver-etcd-client",
                "client",
                365,
            ),
        ),
        (
            "etcd-server",
            leaf(&pki, "etcd/ca", "etcd/server", "cp-1", "both", 365),
        ),
        (
            "etcd-peer",
            leaf(&pki, "etcd/ca", "etcd/peer", "cp-1", "both", 365),
        ),
        (
            "etcd-healthcheck-client",
            leaf(
                &pki,
                "etcd/ca",
                "etcd/healthcheck-client",
                "kube-etcd-healthcheck-client",
                "client",
                365,
            ),
        ),
    ];
    // External-CA mode for the front proxy: its certificate without its key.
    fs::remove_file(pki.join("front-proxy-ca.key")).unwrap();
    let clients = work.join("clients");
    fs::create_dir_all(&clients).unwrap();
    for (conf, cn, days) in [
        ("admin.conf", "kubernetes-admin", 365),
        (
            "controller-manager.conf",
            "system:kube-controller-manager",
            365,
        ),
        ("scheduler.conf", "system:kube-scheduler", 10),
        ("kubelet.conf", "system:node:cp-1", 1),
    ] {
        let cert = leaf(
            &pki,
            "ca",
            &format!("../../clients/{conf}"),
            cn,
            "client",
            days,
        );
        let key = clients.join(format!("{conf}.key"));
        kubeconfig(&data.join(conf), cn, &pki.join("ca.crt"), &cert, &key);
        if conf != "kubelet.conf" {
            certs.push((conf, cert));
        }
    }
    certs.push(("ca", pki.join("ca.crt")));
    certs.push(("front-proxy-ca", pki.join("front-proxy-ca.crt")));
    certs.push(("etcd-ca", pki.join("etcd/ca.crt")));
    (data, certs)
}

fn run(cmd: &mut Command) -> (Output, String) {
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (out, stdout)
}

/// The test: kubeadm's schema, names, CA names, residual times within
/// a few seconds of openssl's notAfter, missing and externallyManaged.
#[test]
fn kubeadm_json_is_kubeadms_check_expiration_output() {
    let work = scratch();
    let (data, certs) = kubeadm_tree(work.path());
    let before = now_epoch();
    let (out, stdout) = run(ca_check("kubeadm", &data).args(["expiry", "-o", "kubeadm-json"]));
    let after = now_epoch();
    // WARNING (scheduler.conf within 120 days) and a missing file keep exit 0.
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with("{\n    \"kind\": \"CertificateExpirationInfo\",\n"),
        "Go's MarshalIndent layout:\n{stdout}"
    );
    let info: Json = serde_json::from_str(&stdout).unwrap();
    assert_eq!(info["apiVersion"], "output.kubeadm.k8s.io/v1alpha3");
    assert_eq!(info["kind"], "CertificateExpirationInfo");
    let names = |list: &Json| -> Vec<String> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|item| item["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&info["certificates"]), CERTIFICATE_NAMES);
    assert_eq!(
        names(&info["certificateAuthorities"]),
        ["ca", "etcd-ca", "front-proxy-ca"]
    );
    let items: Vec<&Json> = info["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .chain(info["certificateAuthorities"].as_array().unwrap())
        .collect();
    let find = |name: &str| *items.iter().find(|item| item["name"] == name).unwrap();
    for (name, cert) in &certs {
        let item = find(name);
        let keys: Vec<&str> = item
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let not_after = openssl_not_after(cert);
        assert_eq!(item["expirationDate"], rfc3339(not_after), "{name}");
        let residual = item["residualTime"].as_i64().unwrap();
        assert!(
            (not_after - after - 1..=not_after - before).contains(&residual),
            "{name}: residualTime {residual} for notAfter {not_after} checked at {before}..{after}"
        );
        assert_eq!(item["missing"], false, "{name}");
        let external = matches!(*name, "front-proxy-client" | "front-proxy-ca");
        assert_eq!(item["externallyManaged"], external, "{name}");
        let ca_name = match *name {
            "ca" | "etcd-ca" | "front-proxy-ca" => None,
            "front-proxy-client" => Some("front-proxy-ca"),
            n if n.starts_with("etcd-") || n == "apiserver-etcd-client" => Some("etcd-ca"),
            _ => Some("ca"),
        };
        assert_eq!(item["caName"].as_str(), ca_name, "{name}: {keys:?}");
    }
    // Missing: kubeadm sets only the name and `missing` (a zero time is null).
    let missing = find("super-admin.conf");
    assert_eq!(
        *missing,
        serde_json::json!({"name": "super-admin.conf", "expirationDate": null,
            "residualTime": 0, "externallyManaged": false, "missing": true})
    );
}

#[test]
fn the_kubeadm_table_names_rows_as_kubeadm_does() {
    let work = scratch();
    let (data, _) = kubeadm_tree(work.path());
    let (out, stdout) = run(ca_check("kubeadm", &data).arg("expiry"));
    assert!(out.status.success(), "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    let columns = |line: &str| -> Vec<String> {
        line.split("   ")
            .map(str::trim)
            .filter(|cell| !cell.is_empty())
            .map(str::to_string)
            .collect()
    };
    assert_eq!(
        columns(lines[0]),
        [
            "CERTIFICATE",
            "EXPIRES",
            "RESIDUAL TIME",
            "CERTIFICATE AUTHORITY",
            "EXTERNALLY MANAGED",
            "STATUS"
        ],
        "{stdout}"
    );
    let first_words: Vec<&str> = lines
        .iter()
        .map(|line| line.split_whitespace().next().unwrap_or(""))
        .collect();
    assert_eq!(
        first_words,
        [
            &["CERTIFICATE"][..],
            &CERTIFICATE_NAMES[..10],
            &[
                "!MISSING!",
                "",
                "CERTIFICATE",
                "ca",
                "etcd-ca",
                "front-proxy-ca"
            ],
        ]
        .concat(),
        "{stdout}"
    );
    assert_eq!(lines[11], "!MISSING! super-admin.conf", "{stdout}");
    let row = |name: &str| {
        *lines
            .iter()
            .find(|line| line.split_whitespace().next() == Some(name))
            .unwrap()
    };
    let words = |name: &str| row(name).split_whitespace().collect::<Vec<_>>();
    // NAME Mon DD, YYYY HH:MM UTC RESIDUAL [CA] EXTERNAL STATUS
    assert_eq!(
        words("apiserver")[6..],
        ["364d", "ca", "no", "OK"],
        "{stdout}"
    );
    assert_eq!(
        words("etcd-peer")[6..],
        ["364d", "etcd-ca", "no", "OK"],
        "{stdout}"
    );
    assert_eq!(
        words("front-proxy-client")[6..],
        ["364d", "front-proxy-ca", "yes", "OK"],
        "{stdout}"
    );
    assert_eq!(
        words("scheduler.conf")[6..],
        ["9d", "ca", "no", "WARNING"],
        "{stdout}"
    );
    assert_eq!(words("ca")[6..], ["9y", "no", "OK"], "{stdout}");
    assert_eq!(
        words("front-proxy-ca")[6..],
        ["9y", "yes", "OK"],
        "{stdout}"
    );
    assert_eq!(columns(lines[13])[0], "CERTIFICATE AUTHORITY", "{stdout}");
    assert!(!stdout.contains("kubelet.conf"), "{stdout}");

    // Our JSON carries the same names beside the usual row fields.
    let document: Json =
        serde_json::from_str(&run(ca_check("kubeadm", &data).args(["expiry", "-o", "json"])).1)
            .unwrap();
    let scheduler = document["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["name"] == "scheduler.conf")
        .unwrap();
    assert_eq!(scheduler["status"], "WARNING");
    assert_eq!(scheduler["subject"], "system:kube-scheduler");
    assert_eq!(scheduler["ca_name"], "ca");
    assert_eq!(
        document["certificate_authorities"][0]["ca_name"],
        Json::Null
    );
}

/// A kubeconfig the reader cannot follow is one line naming it, and exit 1
/// like any unreadable certificate file; an expired certificate is exit 1.
#[test]
fn a_malformed_kubeconfig_or_an_expired_certificate_fails_the_kubeadm_report() {
    let work = scratch();
    let (data, _) = kubeadm_tree(work.path());
    let admin = data.join("admin.conf");
    let text = fs::read_to_string(&admin).unwrap();
    fs::write(
        &admin,
        format!("{text}- name: other\n  user:\n    token: x\n"),
    )
    .unwrap();
    let (out, stdout) = run(ca_check("kubeadm", &data).arg("expiry"));
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let complaints: Vec<&str> = stdout
        .lines()
        .filter(|line| line.contains("cannot read"))
        .collect();
    assert_eq!(complaints.len(), 1, "{stdout}");
    assert!(
        complaints[0].starts_with(&format!("{}: cannot read: ", admin.display()))
            && complaints[0].contains("`users` has 2 entries"),
        "{stdout}"
    );
    assert!(row_has(&stdout, "admin.conf", "UNREADABLE"), "{stdout}");
    // kubeadm's JSON still parses; the problem goes to stderr, naming the file.
    let (out, stdout) = run(ca_check("kubeadm", &data).args(["expiry", "-o", "kubeadm-json"]));
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with(&admin.display().to_string()), "{stderr}");
    let info: Json = serde_json::from_str(&stdout).unwrap();
    assert_eq!(info["certificates"][0]["missing"], false);

    // Garbage in the client-certificate-data: still one line.
    fs::write(
        &admin,
        text.replace("client-certificate-data: ", "client-certificate-data: %%"),
    )
    .unwrap();
    let (out, stdout) = run(ca_check("kubeadm", &data).arg("expiry"));
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "{}: cannot read: client-certificate-data is not base64",
            admin.display()
        )),
        "{stdout}"
    );

    // An expired apiserver certificate.
    fs::write(&admin, text).unwrap();
    dated_leaf(
        &data.join("pki"),
        "ca",
        "apiserver",
        "kube-apiserver",
        "server",
        &["--not-before", "2020-01-01T00:00:00Z", "--days", "30"],
    );
    let (out, stdout) = run(ca_check("kubeadm", &data).arg("expiry"));
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(row_has(&stdout, "apiserver", "<invalid>"), "{stdout}");
    assert!(row_has(&stdout, "apiserver", "EXPIRED"), "{stdout}");
}

fn row_has(table: &str, name: &str, word: &str) -> bool {
    table.lines().any(|line| {
        let words: Vec<&str> = line.split_whitespace().collect();
        words.first() == Some(&name) && words.contains(&word)
    })
}

/// k0s: every certificate under pki/ (CAs from openssl with k0s's CNs) and the
/// client certificate of pki/admin.conf.
#[test]
fn a_k0s_tree_with_admin_conf_passes() {
    let work = scratch();
    let data = work.path().join("k0s");
    let pki = data.join("pki");
    fs::create_dir_all(pki.join("etcd")).unwrap();
    for (stem, cn) in [
        ("ca", "kubernetes-ca"),
        ("front-proxy-ca", "kubernetes-front-proxy-ca"),
        ("etcd/ca", "etcd-ca"),
    ] {
        let made = root(work.path(), cn, KeyKind::Rsa(2048), &CaExt::default());
        fs::copy(&made.cert, pki.join(format!("{stem}.crt"))).unwrap();
        fs::copy(&made.key, pki.join(format!("{stem}.key"))).unwrap();
    }
    leaf(&pki, "ca", "server", "kubernetes", "both", 365);
    leaf(&pki, "etcd/ca", "etcd/server", "etcd-server", "both", 365);
    let admin = leaf(&pki, "ca", "admin", "kubernetes-admin", "both", 200);
    kubeconfig(
        &pki.join("admin.conf"),
        "user",
        &pki.join("ca.crt"),
        &admin,
        &pki.join("admin.key"),
    );
    let document: Json = testkit::json(ca_check("k0s", &data).args(["expiry", "-o", "json"]));
    assert_eq!(document["directory"], pki.display().to_string());
    let files: Vec<&str> = document["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["file"].as_str().unwrap())
        .collect();
    for file in [
        "ca.crt",
        "front-proxy-ca.crt",
        "etcd/ca.crt",
        "server.crt",
        "etcd/server.crt",
        "admin.crt",
        "admin.conf",
    ] {
        assert!(files.contains(&file), "{file} in {files:?}");
    }
    let conf = document["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["file"] == "admin.conf")
        .unwrap();
    assert_eq!(conf["subject"], "kubernetes-admin");
    assert_eq!(conf["issuer"], "kubernetes-ca");
    assert_eq!(conf["status"], "OK");
    assert_eq!(document["problems"], serde_json::json!([]));
    let table = ok(ca_check("k0s", &data).arg("expiry"));
    assert!(row_has(&table, "admin.conf", "kubernetes-admin"), "{table}");
    // kubeadm's JSON is kubeadm's: refused for k0s as could not check.
    let out = ca_check("k0s", &data)
        .args(["expiry", "-o", "kubeadm-json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--product kubeadm"));
}
