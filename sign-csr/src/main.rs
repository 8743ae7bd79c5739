//! `sign-csr`: sign certificate signing requests as a CA. With `--product
//! kubeadm`, everything `kubeadm certs generate-csr` wrote, each with kubeadm's
//! profile; otherwise one CSR or a directory of them with a named profile.
//! Every CSR is checked first; one refusal and nothing is written.

use std::process::ExitCode;

use shared::cli::{Planned, finish};
use shared::pki::error::Result;
use shared::report;
use shared::runs::sign_csr::{GenericFlags, KubeadmFlags, SignCsrFlags, SignCsrRequest};

use crate::args::Args;

mod args;

const TOOL: &str = "sign-csr";

fn main() -> ExitCode {
    shared::cli::main(TOOL, run)
}

fn run(args: Args) -> Result<bool> {
    let now = shared::pki::clock::now()?;
    let record = args.record_request(TOOL)?;
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
            profile: args.profile,
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
