//! What organisations bring to a custom CA tree, made with the openssl CLI the
//! way their PKI teams make it: roots and issuing CAs of every common key type,
//! keys in every encoding (PKCS#8, PKCS#1, SEC1, encrypted), constrained CAs
//! (path length, name constraints, EKU), chains of any depth, and the tls dir
//! the upstream script leaves when run by hand on top of them.
//!
//! Every function works in the directory it is given, writes the openssl
//! configuration it needs there (removed afterwards) and names its files after
//! its arguments, so a test's scratch directory shows what was made.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{ok, openssl};

/// A key type organisations use for CAs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// RSA with this many bits.
    Rsa(u32),
    /// ECDSA on NIST P-256.
    P256,
    /// ECDSA on NIST P-384.
    P384,
    /// ECDSA on NIST P-521.
    P521,
    /// Ed25519.
    Ed25519,
}

impl KeyKind {
    /// `openssl genpkey` arguments for this key type.
    fn genpkey_args(self) -> Vec<String> {
        let ec = |curve: &str| {
            vec![
                "-algorithm".into(),
                "EC".into(),
                "-pkeyopt".into(),
                format!("ec_paramgen_curve:{curve}"),
                "-pkeyopt".into(),
                "ec_param_enc:named_curve".into(),
            ]
        };
        match self {
            Self::Rsa(bits) => vec![
                "-algorithm".into(),
                "RSA".into(),
                "-pkeyopt".into(),
                format!("rsa_keygen_bits:{bits}"),
            ],
            Self::P256 => ec("P-256"),
            Self::P384 => ec("P-384"),
            Self::P521 => ec("P-521"),
            Self::Ed25519 => vec!["-algorithm".into(), "ED25519".into()],
        }
    }

    /// The digest a CA with this key signs with: the one matching the curve, as
    /// enterprise CAs do; Ed25519 takes none.
    fn digest_args(self) -> &'static [&'static str] {
        match self {
            Self::Rsa(_) | Self::P256 => &["-sha256"],
            Self::P384 => &["-sha384"],
            Self::P521 => &["-sha512"],
            Self::Ed25519 => &[],
        }
    }
}

/// The ciphers of OpenSSL's traditional encrypted PEM (`DEK-Info`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PemCipher {
    /// AES-128-CBC.
    Aes128,
    /// AES-192-CBC.
    Aes192,
    /// AES-256-CBC.
    Aes256,
    /// DES-EDE3-CBC.
    Des3,
}

impl PemCipher {
    /// Every cipher, for tests that cover them all.
    pub const ALL: [Self; 4] = [Self::Aes128, Self::Aes192, Self::Aes256, Self::Des3];

    /// The openssl option selecting the cipher.
    pub fn flag(self) -> &'static str {
        match self {
            Self::Aes128 => "-aes128",
            Self::Aes192 => "-aes192",
            Self::Aes256 => "-aes256",
            Self::Des3 => "-des3",
        }
    }
}

/// `openssl genpkey`: a new key at `path`, PKCS#8 `PRIVATE KEY`, mode 0600.
pub fn genkey(path: &Path, kind: KeyKind) {
    ok(openssl()
        .arg("genpkey")
        .args(kind.genpkey_args())
        .arg("-out")
        .arg(path));
    private(path);
}

/// `key` rewritten to `out` in OpenSSL's traditional form: PKCS#1 `RSA PRIVATE
/// KEY` or SEC1 `EC PRIVATE KEY` (no EC PARAMETERS block). Ed25519 has no
/// traditional form: openssl refuses it.
pub fn to_traditional(key: &Path, out: &Path) {
    ok(pkey(key, out).arg("-traditional"));
    private(out);
}

/// `key` encrypted to `out` as PKCS#8 `ENCRYPTED PRIVATE KEY`: PBES2 with
/// PBKDF2-HMAC-SHA256 and AES-256-CBC, OpenSSL 3's default.
pub fn encrypt_pkcs8(key: &Path, out: &Path, pass: &str) {
    ok(pkey(key, out)
        .arg("-aes256")
        .arg("-passout")
        .arg(format!("pass:{pass}")));
    private(out);
}

/// `key` (RSA or EC) encrypted to `out` in the traditional form: `Proc-Type:
/// 4,ENCRYPTED` and `DEK-Info` headers over PKCS#1 or SEC1.
pub fn encrypt_traditional(key: &Path, out: &Path, pass: &str, cipher: PemCipher) {
    ok(pkey(key, out)
        .args(["-traditional", cipher.flag(), "-passout"])
        .arg(format!("pass:{pass}")));
    private(out);
}

/// `openssl pkey -in key -out out`, to which the callers add the output form.
fn pkey(key: &Path, out: &Path) -> std::process::Command {
    let mut cmd = openssl();
    cmd.arg("pkey").arg("-in").arg(key).arg("-out").arg(out);
    cmd
}

/// Keys are written 0600, as k3s and careful operators keep them.
/// A `--password-file` as an operator keeps it: the passphrase on its first
/// line, readable by its owner only (the tools refuse a file others can read).
pub fn passphrase_file(path: &Path, pass: &str) {
    fs::write(path, format!("{pass}\n")).unwrap();
    private(path);
}

fn private(path: &Path) {
    fs::set_permissions(path, fs::Permissions::from_mode(0o600)).unwrap();
}

/// A CA: its certificate file and its key (PKCS#8 as `genkey` writes it, unless
/// a test rewrites it).
#[derive(Clone, Debug)]
pub struct Ca {
    /// The CA certificate first; may be followed by the CAs above it (see
    /// [`chain_file`]), as an `intermediate-ca.pem` of a three-tier PKI is.
    /// openssl signs with the first certificate.
    pub cert: PathBuf,
    /// The key of the first certificate.
    pub key: PathBuf,
    /// The key type, which picks the digest the CA signs with.
    pub kind: KeyKind,
}

/// The extensions a test adds to a CA certificate. Every CA carries critical
/// CA:TRUE, SKI `hash` and AKI `keyid:always`; the defaults add no constraint.
#[derive(Clone, Debug, Default)]
pub struct CaExt {
    /// keyUsage in openssl syntax (default `critical, keyCertSign, cRLSign,
    /// digitalSignature`).
    pub key_usage: Option<String>,
    /// pathLenConstraint.
    pub path_len: Option<u32>,
    /// nameConstraints in openssl syntax, e.g.
    /// `critical,permitted;DNS:corp.example,permitted;IP:10.0.0.0/255.0.0.0`.
    pub name_constraints: Option<String>,
    /// extendedKeyUsage in openssl syntax, e.g. `serverAuth`.
    pub eku: Option<String>,
    /// Validity in days (default: 7300 for a root, 3700 below it).
    pub days: Option<u32>,
    /// Further lines of the `[ca]` section in openssl syntax, e.g.
    /// `certificatePolicies = 1.3.6.1.4.1.99999.1` and
    /// `policyConstraints = critical, requireExplicitPolicy:0`.
    pub extra: Vec<String>,
}

impl CaExt {
    /// The openssl configuration: subject O = Example Corp, CN = `cn`, and the
    /// extensions in section `[ca]`.
    fn config(&self, cn: &str) -> String {
        let path_len = self.path_len.map(|n| format!(", pathlen:{n}"));
        let key_usage = self.key_usage.as_deref();
        let mut text = format!(
            "[req]\ndistinguished_name = dn\nprompt = no\n\
             [dn]\nO = Example Corp\nCN = {cn}\n\
             [ca]\nbasicConstraints = critical, CA:TRUE{}\nkeyUsage = {}\n\
             subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid:always\n",
            path_len.unwrap_or_default(),
            key_usage.unwrap_or("critical, keyCertSign, cRLSign, digitalSignature"),
        );
        if let Some(nc) = &self.name_constraints {
            text.push_str(&format!("nameConstraints = {nc}\n"));
        }
        if let Some(eku) = &self.eku {
            text.push_str(&format!("extendedKeyUsage = {eku}\n"));
        }
        for line in &self.extra {
            text.push_str(line);
            text.push('\n');
        }
        text
    }
}

/// A self-signed root `dir/<name>.pem` (`openssl req -x509`) with a new key
/// `dir/<name>.key`; CN = `name`.
pub fn root(dir: &Path, name: &str, kind: KeyKind, ext: &CaExt) -> Ca {
    make_ca(dir, name, name, kind, None, ext)
}

/// A CA `dir/<name>.pem` signed by `issuer` (`openssl req -new`, then `openssl
/// x509 -req -extfile`) with a new key `dir/<name>.key`; CN = `name`.
pub fn sub_ca(dir: &Path, name: &str, kind: KeyKind, issuer: &Ca, ext: &CaExt) -> Ca {
    make_ca(dir, name, name, kind, Some(issuer), ext)
}

/// A self-signed root `dir/<name>.pem` with chosen dates, as `openssl ca
/// -selfsign -startdate -enddate` writes them (`YYYYMMDDHHMMSSZ`; openssl
/// encodes 1950-2049 as UTCTime, the rest as GeneralizedTime), with a new key
/// `dir/<name>.key`; CN = `name`, the extensions of [`CaExt::default`].
pub fn dated_root(dir: &Path, name: &str, kind: KeyKind, start: &str, end: &str) -> Ca {
    let file = |ext: &str| dir.join(format!("{name}.{ext}"));
    let (cert, key, cnf, csr) = (file("pem"), file("key"), file("cnf"), file("csr"));
    let db = dir.join(format!("{name}.ca"));
    fs::create_dir_all(&db).unwrap();
    fs::write(db.join("index"), "").unwrap();
    fs::write(db.join("serial"), "01\n").unwrap();
    genkey(&key, kind);
    let config = format!(
        "{}[ca_section]\ndatabase = {db}/index\nnew_certs_dir = {db}\nserial = {db}/serial\n\
         policy = any\nunique_subject = no\n[any]\ncommonName = supplied\n",
        CaExt::default().config(name),
        db = db.display()
    );
    fs::write(&cnf, config).unwrap();
    ok(openssl()
        .args(["req", "-new", "-key"])
        .arg(&key)
        .arg("-config")
        .arg(&cnf)
        .arg("-out")
        .arg(&csr));
    let md = kind.digest_args().first().map_or("default", |d| &d[1..]);
    ok(openssl()
        .args([
            "ca",
            "-batch",
            "-selfsign",
            "-notext",
            "-name",
            "ca_section",
        ])
        .args([
            "-extensions",
            "ca",
            "-md",
            md,
            "-startdate",
            start,
            "-enddate",
            end,
        ])
        .arg("-config")
        .arg(&cnf)
        .arg("-keyfile")
        .arg(&key)
        .arg("-in")
        .arg(&csr)
        .arg("-out")
        .arg(&cert));
    fs::remove_file(cnf).unwrap();
    fs::remove_file(csr).unwrap();
    fs::remove_dir_all(db).unwrap();
    Ca { cert, key, kind }
}

/// Makes `dir/<stem>.pem` and `.key`; the `.cnf` and `.csr` it needs are
/// removed once done.
fn make_ca(
    dir: &Path,
    stem: &str,
    cn: &str,
    kind: KeyKind,
    issuer: Option<&Ca>,
    ext: &CaExt,
) -> Ca {
    let file = |ext: &str| dir.join(format!("{stem}.{ext}"));
    let (cert, key, cnf, csr) = (file("pem"), file("key"), file("cnf"), file("csr"));
    genkey(&key, kind);
    fs::write(&cnf, ext.config(cn)).unwrap();
    let mut cmd = openssl();
    if let Some(issuer) = issuer {
        ok(openssl()
            .args(["req", "-new", "-key"])
            .arg(&key)
            .arg("-config")
            .arg(&cnf)
            .arg("-out")
            .arg(&csr));
        cmd = sign_command(&csr, issuer, ext, &cnf);
    } else {
        let days = ext.days.unwrap_or(7300).to_string();
        cmd.args(["req", "-x509", "-new", "-extensions", "ca", "-days", &days])
            .args(kind.digest_args())
            .arg("-key")
            .arg(&key)
            .arg("-config")
            .arg(&cnf);
    }
    ok(cmd.arg("-out").arg(&cert));
    fs::remove_file(cnf).unwrap();
    if issuer.is_some() {
        fs::remove_file(csr).unwrap();
    }
    Ca { cert, key, kind }
}

/// `openssl x509 -req` signing `csr` as a CA under `issuer` with the `[ca]`
/// section of `cnf` as extensions (the request's own are not copied, as a
/// PKI applies its profile); the caller adds `-out`.
fn sign_command(csr: &Path, issuer: &Ca, ext: &CaExt, cnf: &Path) -> Command {
    let days = ext.days.unwrap_or(3700).to_string();
    let mut cmd = openssl();
    cmd.args(["x509", "-req", "-extensions", "ca", "-days", &days])
        .args(issuer.kind.digest_args())
        .arg("-in")
        .arg(csr)
        .arg("-CA")
        .arg(&issuer.cert)
        .arg("-CAkey")
        .arg(&issuer.key)
        .arg("-extfile")
        .arg(cnf);
    cmd
}

/// An offline root playing the corporate PKI: signs the subordinate-CA request
/// `csr` under `issuer` with the profile `ext` (`openssl x509 -req -extfile`),
/// writing the certificate to `out`.
pub fn sign_request(csr: &Path, out: &Path, issuer: &Ca, ext: &CaExt) {
    let cnf = out.with_extension("cnf");
    fs::write(&cnf, ext.config("unused")).unwrap();
    ok(sign_command(csr, issuer, ext, &cnf).arg("-out").arg(out));
    fs::remove_file(cnf).unwrap();
}

/// `out` = the concatenation of the PEM files `parts`, in order (bundles such as
/// `[issuing, policy, root]`).
pub fn chain_file(out: &Path, parts: &[&Path]) {
    let mut text = String::new();
    for part in parts {
        let pem = fs::read_to_string(part).unwrap();
        text.push_str(pem.trim_end());
        text.push('\n');
    }
    fs::write(out, text).unwrap();
}

/// What `generate-custom-ca-certs.sh` and openssl leave in `tls_dir` when run by
/// hand on an organisation's CAs: `root-ca.pem` = `root-ca.crt` = the root;
/// `intermediate-ca.pem` = the intermediate's certificate file (the issuing CA,
/// then any CAs above it) and its key as `intermediate-ca.key`;
/// `intermediate-ca.crt` = that + the root; the five CAs k3s reads (P-256,
/// signed by `intermediate`, 3650 days so that they end before it) as `X.pem`,
/// `X.key` (SEC1, 0600) and `X.crt` = `X.pem` + `intermediate-ca.crt`, CN
/// `k3s-<stem>` with `/` as `-`; and `service.key` (RSA-2048, PKCS#1, 0600).
/// The root key stays out: organisations keep it in a vault.
pub fn upstream_tree(tls_dir: &Path, root: &Ca, intermediate: &Ca) {
    fs::create_dir_all(tls_dir.join("etcd")).unwrap();
    let at = |name: &str| tls_dir.join(name);
    fs::copy(&root.cert, at("root-ca.pem")).unwrap();
    fs::copy(&root.cert, at("root-ca.crt")).unwrap();
    fs::copy(&intermediate.cert, at("intermediate-ca.pem")).unwrap();
    fs::copy(&intermediate.key, at("intermediate-ca.key")).unwrap();
    private(&at("intermediate-ca.key"));
    chain_file(
        &at("intermediate-ca.crt"),
        &[&intermediate.cert, &root.cert],
    );
    // upstream's profile for EC keys, without its keyEncipherment (RFC 5480)
    let ext = CaExt {
        key_usage: Some("critical, digitalSignature, keyCertSign".into()),
        days: Some(3650),
        ..CaExt::default()
    };
    for stem in crate::CA_STEMS {
        let cn = format!("k3s-{}", stem.replace('/', "-"));
        let ca = make_ca(tls_dir, stem, &cn, KeyKind::P256, Some(intermediate), &ext);
        traditional_in_place(&ca.key);
        chain_file(
            &at(&format!("{stem}.crt")),
            &[&ca.cert, &at("intermediate-ca.crt")],
        );
    }
    let service = at("service.key");
    genkey(&service, KeyKind::Rsa(2048));
    traditional_in_place(&service);
}

/// [`to_traditional`] into the same file, through a temporary copy: openssl
/// truncates its output before it reads its input.
fn traditional_in_place(key: &Path) {
    let pkcs8 = key.with_extension("pkcs8");
    fs::rename(key, &pkcs8).unwrap();
    to_traditional(&pkcs8, key);
    fs::remove_file(pkcs8).unwrap();
}

/// Issue 19's mesh, made with openssl: `n` P-256 keys all named `CN=X` (and O =
/// Example Corp), each self-signed (`dir/self-<i>.pem`) and cross-signed by
/// every other (`dir/cross-<i>-<j>.pem`: key `j` certified by key `i`).
/// Returns (self-signed, cross) paths, the cross ones by signer then subject.
pub fn mesh(dir: &Path, n: usize) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let cnf = dir.join("mesh.cnf");
    fs::write(&cnf, CaExt::default().config("X")).unwrap();
    let mut selfs = Vec::new();
    let mut keys = Vec::new();
    let mut csrs = Vec::new();
    for i in 0..n {
        let key = dir.join(format!("mesh-{i}.key"));
        let csr = dir.join(format!("mesh-{i}.csr"));
        let cert = dir.join(format!("self-{i}.pem"));
        genkey(&key, KeyKind::P256);
        ok(openssl()
            .args([
                "req",
                "-x509",
                "-new",
                "-extensions",
                "ca",
                "-days",
                "3650",
                "-key",
            ])
            .arg(&key)
            .arg("-config")
            .arg(&cnf)
            .arg("-out")
            .arg(&cert));
        ok(openssl()
            .args(["req", "-new", "-key"])
            .arg(&key)
            .arg("-config")
            .arg(&cnf)
            .arg("-out")
            .arg(&csr));
        selfs.push(cert);
        keys.push(key);
        csrs.push(csr);
    }
    let mut cross = Vec::new();
    for i in 0..n {
        for j in (0..n).filter(|j| *j != i) {
            let cert = dir.join(format!("cross-{i}-{j}.pem"));
            ok(openssl()
                .args(["x509", "-req", "-extensions", "ca", "-days", "3650", "-in"])
                .arg(&csrs[j])
                .arg("-CA")
                .arg(&selfs[i])
                .arg("-CAkey")
                .arg(&keys[i])
                .arg("-extfile")
                .arg(&cnf)
                .arg("-out")
                .arg(&cert));
            cross.push(cert);
        }
    }
    (selfs, cross)
}
