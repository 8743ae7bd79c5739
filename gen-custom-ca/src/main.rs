//! `gen-custom-ca`: generate the custom CA tree k3s and RKE2 read at first start,
//! or the CA set kubeadm and k0s read from `pki/`. For k3s a drop-in for
//! `generate-custom-ca-certs.sh`: same inputs and outputs, but it checks every
//! input first and writes all files or none.

use std::process::ExitCode;

use shared::cli::{Planned, finish};
use shared::pki::error::{Error, Result};
use shared::report;
use shared::runs::custom_ca::{CaFlags, CustomCaFlags, lock_and_plan};
use shared::runs::intermediate_request::lock_and_plan_request;

use crate::args::Args;

mod args;

const TOOL: &str = "gen-custom-ca";

fn main() -> ExitCode {
    shared::cli::main(TOOL, run)
}

fn run(mut args: Args) -> Result<bool> {
    let data_dir = args.data_dir()?;
    let record = args.record_request(TOOL)?;
    let now = shared::pki::clock::now()?;
    let cluster = args.cluster_flags();
    let flags = CustomCaFlags {
        cluster,
        root: CaFlags {
            algorithm: args.root_algorithm,
            days: args.root_days,
        },
        intermediate: CaFlags {
            algorithm: args.intermediate_algorithm,
            days: args.intermediate_days,
        },
        leaf_ca: CaFlags {
            algorithm: args.leaf_ca_algorithm,
            days: args.leaf_ca_days,
        },
        self_signed_cas: args.self_signed_cas,
        password_file: args.password_file,
        encrypt_keys: args.encrypt_keys,
        root_key_out: args.root_key_out,
        live_data_dir: args.live_data_dir,
        force: args.force,
        root_key: args.root_key,
        intermediate_key: args.intermediate_key,
        generate_in_token: args.generate_in_token,
        pkcs11_module: args.pkcs11_module,
        pin_file: args.pin_file,
    };
    if args.request_intermediate {
        let subject = args.subject.as_deref().ok_or_else(|| {
            Error::usage("--request-intermediate needs --subject (e.g. 'CN=Cluster Issuing CA')")
        })?;
        let (lock, mut run) =
            lock_and_plan_request(TOOL, data_dir, flags, subject, now, args.dry_run)?;
        run.plan.record_to(record);
        let planned = Planned {
            plan: &run.plan,
            warnings: &run.warnings,
            refusal: None,
        };
        return finish(TOOL, &lock, planned, args.dry_run, |out, outcome| {
            report::intermediate_request::write(out, &run, outcome)
        });
    }
    if args.subject.is_some() {
        return Err(Error::usage(
            "--subject names the issuing CA of --request-intermediate; a generated one is named \
             <product>-intermediate-ca@<time>",
        ));
    }
    let (lock, mut run) = lock_and_plan(TOOL, data_dir, flags, now, args.dry_run)?;
    run.plan.record_to(record);
    let planned = Planned {
        plan: &run.plan,
        warnings: &run.warnings,
        refusal: None,
    };
    finish(TOOL, &lock, planned, args.dry_run, |out, outcome| {
        // Called once the plan is written: keys made in a token stay there.
        run.keep_token_keys();
        report::custom_ca::write(out, &run, outcome)
    })
}
