//! `sign-csr`: sign certificate signing requests as a CA. With `--product
//! kubeadm`, everything `kubeadm certs generate-csr` wrote, each with kubeadm's
//! profile; otherwise one CSR or a directory of them with a named profile.
//! Every CSR is checked first; one refusal and nothing is written.

use std::process::ExitCode;

use shared::cli::{Planned, finish};
use shared::layout::ClusterFlags;
use shared::pki::error::{Error, Result};
use shared::report;
use shared::runs::sign_csr::{GenericFlags, KubeadmFlags, SignCsrFlags, SignCsrRequest};
use shared::runs::sub_ca::SubCaFlags;

use crate::args::{Args, ProfileArg};

mod args;

const TOOL: &str = "sign-csr";

fn main() -> ExitCode {
    shared::cli::main(TOOL, run)
}

fn run(args: Args) -> Result<bool> {
    let now = shared::pki::clock::now()?;
    let record = args.record_request(TOOL)?;
    let profile = match args.profile {
        Some(ProfileArg::SubCa) => return sub_ca(args, now, record),
        Some(ProfileArg::Leaf(profile)) => Some(profile),
        None => None,
    };
    if let Some(flag) = sub_ca_only(&args) {
        return Err(Error::usage(format!("{flag} is for --profile sub-ca")));
    }
    let flags = SignCsrFlags {
        product: args.product,
        days: args.days,
        password_file: args.password_file,
        pkcs11_module: args.pkcs11_module,
        pin_file: args.pin_file,
        allow_sans: args.allow_san,
        kubeadm: KubeadmFlags {
            data_dir: args.data_dir,
            node_name: args.node_name,
            service_cidr: args.service_cidr,
            dns_domain: args.dns_domain,
            advertise_address: args.advertise_address,
        },
        generic: GenericFlags {
            ca_cert: args.ca_cert,
            ca_key: args.ca_key,
            ca: args.ca,
            profile,
            csr: args.csr,
            out: args.out,
            allow_super_user: args.allow_super_user,
            k8s_csr: args.k8s_csr,
        },
    };
    let request = SignCsrRequest::from_flags(flags)?;
    let (lock, mut signing) = request.lock_and_plan(TOOL, now, args.dry_run)?;
    signing.run.plan.record_to(record);
    let planned = Planned {
        plan: &signing.run.plan,
        warnings: &signing.run.warnings,
        refusal: report::sign_csr::refusal(TOOL, &signing.run),
    };
    let written = finish(TOOL, &lock, planned, args.dry_run, |out, outcome| {
        report::sign_csr::write(out, &signing, outcome)
    })?;
    // Kubernetes CSR objects are decided one by one: those refused are named
    // after the others were written, and make the exit status 1.
    let declined = report::sign_csr::declined(TOOL, &signing.run);
    if let Some(text) = &declined {
        eprint!("{text}");
    }
    Ok(written && declined.is_none())
}

/// The first flag given that only `--profile sub-ca` reads.
fn sub_ca_only(args: &Args) -> Option<&'static str> {
    [
        ("--path-len", args.path_len.is_some()),
        ("--permit", !args.permit.is_empty()),
        ("--eku", !args.eku.is_empty()),
        ("--tls-san", !args.tls_san.is_empty()),
    ]
    .into_iter()
    .find_map(|(flag, given)| given.then_some(flag))
}

/// `--profile sub-ca`: the offline root signs a subordinate CA.
fn sub_ca(
    args: Args,
    now: std::time::SystemTime,
    record: Option<shared::store::record::RecordRequest>,
) -> Result<bool> {
    let other = [
        ("--data-dir", args.data_dir.is_some()),
        ("--k8s-csr", args.k8s_csr.is_some()),
        ("--allow-san", !args.allow_san.is_empty()),
        ("--allow-super-user", args.allow_super_user),
        ("--advertise-address", args.advertise_address.is_some()),
    ]
    .into_iter()
    .find_map(|(flag, given)| given.then_some(flag));
    if let Some(flag) = other {
        return Err(Error::usage(format!(
            "{flag} is not read by --profile sub-ca"
        )));
    }
    let flags = SubCaFlags {
        product: args.product,
        ca_cert: args.ca_cert,
        ca_key: args.ca_key,
        ca: args.ca,
        csr: args.csr,
        out: args.out,
        days: args.days,
        password_file: args.password_file,
        pkcs11_module: args.pkcs11_module,
        pin_file: args.pin_file,
        path_len: args.path_len,
        permit: args.permit,
        eku: args.eku,
        cluster: ClusterFlags {
            tls_sans: args.tls_san,
            cluster_domain: args.dns_domain,
            service_cidr: args.service_cidr,
            node_names: args.node_name.into_iter().collect(),
            node_ips: Vec::new(),
        },
    };
    let (lock, mut run) = shared::runs::sub_ca::lock_and_plan(TOOL, flags, now, args.dry_run)?;
    run.plan.record_to(record);
    let planned = Planned {
        plan: &run.plan,
        warnings: &run.warnings,
        refusal: None,
    };
    finish(TOOL, &lock, planned, args.dry_run, |out, outcome| {
        report::sub_ca::write(out, &run, outcome)
    })
}
