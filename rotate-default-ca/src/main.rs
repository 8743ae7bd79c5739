//! `rotate-default-ca`: stage a cross-signed rotation of k3s's self-signed CAs for
//! `k3s certificate rotate-ca`, and print the join tokens k3s will expect.
//! A drop-in for `rotate-default-ca-certs.sh` that never touches the live tls dir.
//! For kubeadm and k0s, stage their three CAs with the transition files of
//! their manual procedures, and print those procedures with the real paths.

use std::io;
use std::process::ExitCode;

use shared::pki::error::{Result, stdout_result};
use shared::report;
use shared::runs::rotation::{RotationRequest, rotate};

use crate::args::Args;

mod args;

const TOOL: &str = "rotate-default-ca";

fn main() -> ExitCode {
    shared::cli::main(TOOL, |args| run(args).map(|()| true))
}

fn run(args: Args) -> Result<()> {
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
