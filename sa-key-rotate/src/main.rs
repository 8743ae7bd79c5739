//! `sa-key-rotate`: stage a service-account signing key rotation: for
//! `k3s certificate rotate-ca`, a new RSA key first, every current key after
//! it; for kubeadm and k0s, a new `sa.key` and an `sa.pub` holding the new
//! public key first, then the current ones, with the four steps that use them.

use std::io;
use std::process::ExitCode;

use shared::pki::error::{Result, stdout_result};
use shared::report;
use shared::runs::sa_rotation::{SaRequest, rotate_sa};

use crate::args::Args;

mod args;

const TOOL: &str = "sa-key-rotate";

fn main() -> ExitCode {
    shared::cli::main(TOOL, |args| run(args).map(|()| true))
}

fn run(args: Args) -> Result<()> {
    let record = args.record_request(TOOL)?;
    let request = SaRequest {
        data_dir: args.data_dir()?,
        current: args.current,
        staging_dir: args.output,
        bits: args.bits,
        keep: args.keep,
        public_out: args.public_out,
        record,
        force: args.force,
        dry_run: args.dry_run,
    };
    rotate_sa(TOOL, request, |run, outcome| {
        stdout_result(report::sa_rotation::write(
            &mut io::stdout().lock(),
            run,
            outcome,
        ))
    })
}
