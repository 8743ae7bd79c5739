//! `sign-csr`: sign certificate signing requests as a CA. With `--product
//! kubeadm`, everything `kubeadm certs generate-csr` wrote, each with kubeadm's
//! profile; otherwise one CSR or a directory of them with a named profile.
//! Every CSR is checked first; one refusal and nothing is written.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use argh::FromArgs;
use shared::cli::{Planned, finish};
use shared::pki::error::Result;
use shared::report;
use shared::runs::sign_csr::{
    CsrProfile, GenericFlags, KubeadmFlags, SignCsrFlags, SignCsrRequest,
};

/// Sign certificate signing requests: kubeadm's `certs generate-csr` output
/// (--product kubeadm), or any CSR with a server, client or peer profile.
#[derive(FromArgs, Debug)]
#[argh(
    help_triggers("-h", "--help"),
    note = "kubeadm mode (--product kubeadm): signs pki/*.csr, pki/etcd/*.csr and <name>.conf.csr
under --data-dir with pki/ca, pki/front-proxy-ca or pki/etcd/ca as kubeadm would
(subject, key usage, extended key usage, names), writes <base>.crt beside each
key and fills client-certificate-data and certificate-authority-data into each
partial kubeconfig. Names are checked against the cluster's (--node-name,
--advertise-address, --dns-domain, --service-cidr, --allow-san).

Generic mode: --ca-cert FILE --ca-key FILE (or --ca DIR/STEM for DIR/STEM.crt and
DIR/STEM.key, e.g. a k3s server-ca) --profile server|client|peer --csr PATH, where
PATH is one CSR or a directory of *.csr; certificates go beside as <name>.crt, or
to --out (a file, or a directory for a directory).

Refused, each naming its CSR: a signature that does not verify, CA:TRUE or
keyCertSign asked for, RSA keys under 2048 bits, unknown key types, email/URI
names, and in kubeadm mode a subject or a name the file may not carry. Client
certificates carry no names: those asked for are dropped, with a warning. Only
the names of a CSR are used; usages and validity come from the profile, and a
certificate never outlives its CA.",
    error_code(1, "refused CSRs or bad input; nothing was written")
)]
struct Args {
    /// sign a product's CSR layout: kubeadm
    #[argh(option)]
    product: Option<String>,

    /// kubeadm's directory (default /etc/kubernetes)
    #[argh(option)]
    data_dir: Option<PathBuf>,

    /// the CA certificate (its first certificate signs)
    #[argh(option)]
    ca_cert: Option<PathBuf>,

    /// the CA key (may be encrypted: see --password-file)
    #[argh(option)]
    ca_key: Option<PathBuf>,

    /// DIR/STEM: the CA in DIR/STEM.crt and DIR/STEM.key (a k3s server-ca, client-ca)
    #[argh(option)]
    ca: Option<PathBuf>,

    /// generic mode: server, client or peer
    #[argh(option)]
    profile: Option<CsrProfile>,

    /// generic mode: a CSR file, or a directory of *.csr files
    #[argh(option)]
    csr: Option<PathBuf>,

    /// generic mode: the certificate file (one CSR) or directory (a directory)
    #[argh(option)]
    out: Option<PathBuf>,

    /// lifetime in days (default 365), capped at the CA's end
    #[argh(option)]
    days: Option<u32>,

    /// file whose first line is the passphrase of encrypted CA keys; without
    /// it you are asked when stdin is a terminal
    #[argh(option)]
    password_file: Option<PathBuf>,

    /// kubeadm: the node name (default: the etcd or kubelet CSR's, else the host name)
    #[argh(option)]
    node_name: Option<String>,

    /// kubeadm: networking.serviceSubnet (default 10.96.0.0/12)
    #[argh(option)]
    service_cidr: Option<String>,

    /// kubeadm: networking.dnsDomain (default cluster.local)
    #[argh(option)]
    dns_domain: Option<String>,

    /// kubeadm: the advertise address (default: the one address the apiserver
    /// and etcd CSRs all ask for)
    #[argh(option)]
    advertise_address: Option<IpAddr>,

    /// kubeadm: an extra name serving certificates may hold (certSANs, the
    /// control-plane endpoint); repeatable
    #[argh(option)]
    allow_san: Vec<String>,

    /// show what would be signed and written, write nothing
    #[argh(switch)]
    dry_run: bool,
}

const TOOL: &str = "sign-csr";

fn main() -> ExitCode {
    shared::cli::main(TOOL, run)
}

fn run(args: Args) -> Result<bool> {
    let now = shared::pki::clock::now()?;
    let flags = SignCsrFlags {
        product: args.product,
        days: args.days,
        password_file: args.password_file,
        kubeadm: KubeadmFlags {
            data_dir: args.data_dir,
            node_name: args.node_name,
            service_cidr: args.service_cidr,
            dns_domain: args.dns_domain,
            advertise_address: args.advertise_address,
            allow_sans: args.allow_san,
        },
        generic: GenericFlags {
            ca_cert: args.ca_cert,
            ca_key: args.ca_key,
            ca: args.ca,
            profile: args.profile,
            csr: args.csr,
            out: args.out,
        },
    };
    let request = SignCsrRequest::from_flags(flags)?;
    let (lock, signing) = request.lock_and_plan(TOOL, now, args.dry_run)?;
    let planned = Planned {
        plan: &signing.run.plan,
        warnings: &signing.run.warnings,
        refusal: report::sign_csr::refusal(TOOL, &signing.run),
    };
    finish(TOOL, &lock, planned, args.dry_run, |out, outcome| {
        report::sign_csr::write(out, &signing, outcome)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_san_repeats_and_profiles_parse() {
        let args = Args::from_args(
            &[TOOL],
            &[
                "--product",
                "kubeadm",
                "--allow-san",
                "a.example",
                "--allow-san",
                "192.0.2.1",
            ],
        )
        .unwrap();
        assert_eq!(args.allow_san, ["a.example", "192.0.2.1"]);
        let args = Args::from_args(&[TOOL], &["--profile", "peer", "--csr", "x.csr"]).unwrap();
        assert_eq!(args.profile, Some(CsrProfile::Peer));
        assert!(Args::from_args(&[TOOL], &["--profile", "ca"]).is_err());
    }
}
