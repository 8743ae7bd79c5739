//! `rotate-default-ca`: stage a cross-signed rotation of k3s's self-signed CAs for
//! `k3s certificate rotate-ca`, and print the join tokens k3s will expect.
//! A drop-in for `rotate-default-ca-certs.sh` that never touches the live tls dir.
//! For kubeadm and k0s, stage their three CAs with the transition files of
//! their manual procedures, and print those procedures with the real paths.

use std::io;
use std::process::ExitCode;

use shared::pki::error::{Error, Result, stdout_result};
use shared::pki::keys::pkcs11::Tokens;
use shared::pki::keys::{PassphraseSource, Passphrases};
use shared::report;
use shared::runs::rotation::renewal::{RENEWAL_DAYS, RenewalRequest, renew_cas};
use shared::runs::rotation::{RotationRequest, rotate};

use crate::args::Args;

mod args;

const TOOL: &str = "rotate-default-ca";

fn main() -> ExitCode {
    shared::cli::main(TOOL, |args| run(args).map(|()| true))
}

fn run(args: Args) -> Result<()> {
    if args.renew {
        return renew(args);
    }
    let renewal_only = [
        ("--days", args.days.is_some()),
        ("--issuer-key", args.issuer_key.is_some()),
        ("--password-file", args.password_file.is_some()),
        ("--pkcs11-module", args.pkcs11_module.is_some()),
        ("--pin-file", args.pin_file.is_some()),
    ];
    if let Some((flag, _)) = renewal_only.iter().find(|(_, given)| *given) {
        return Err(Error::usage(format!(
            "{flag} is for --renew: a rotation makes new keys and signs with them"
        )));
    }
    let record = args.record_request(TOOL)?;
    let request = RotationRequest {
        data_dir: args.data_dir()?,
        staging_dir: args.output,
        algorithm: args.algorithm,
        record,
        force: args.force,
        dry_run: args.dry_run,
    };
    rotate(TOOL, request, |run, outcome| {
        stdout_result(report::rotation::write(
            &mut io::stdout().lock(),
            run,
            outcome,
        ))
    })
}

/// `--renew`: the CA certificates renewed with their keys.
fn renew(args: Args) -> Result<()> {
    if args.algorithm.is_some() {
        return Err(Error::usage(
            "--algorithm is for a rotation: a renewal keeps each CA's key",
        ));
    }
    let record = args.record_request(TOOL)?;
    let request = RenewalRequest {
        data_dir: args.data_dir()?,
        staging_dir: args.output,
        days: args.days.unwrap_or(RENEWAL_DAYS),
        issuer_key: args.issuer_key,
        passphrases: Passphrases::new(PassphraseSource::from_flag(args.password_file)),
        tokens: Tokens::new(args.pkcs11_module, args.pin_file),
        force: args.force,
        record,
        dry_run: args.dry_run,
    };
    renew_cas(TOOL, request, |run, outcome| {
        stdout_result(report::renewal::write(
            &mut io::stdout().lock(),
            run,
            outcome,
        ))
    })
}
