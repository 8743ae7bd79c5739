//! `kubeconfig-user`: a kubeconfig for a person, so that nobody shares the
//! admin's (seed 001). A tool of its own, named after `kubeadm kubeconfig
//! user`, because that is what operators look for; `sign-csr` signs requests
//! and writes no keys or kubeconfigs for people.

use std::process::ExitCode;

use shared::cli::{Planned, finish};
use shared::pki::error::Result;
use shared::report;
use shared::runs::user_kubeconfig::{UserFlags, lock_and_plan};

use crate::args::Args;

mod args;

const TOOL: &str = "kubeconfig-user";

fn main() -> ExitCode {
    shared::cli::main(TOOL, run)
}

fn run(args: Args) -> Result<bool> {
    let now = shared::pki::clock::now()?;
    let record = args.record_request(TOOL)?;
    let flags = UserFlags {
        data_dir: args.data_dir()?,
        user: args.user,
        groups: args.group,
        days: args.days,
        server: args.server,
        cluster_name: args.cluster_name,
        algorithm: args.key_algorithm,
        csr: args.csr,
        out: args.out,
        password_file: args.password_file,
        allow_super_user: args.allow_super_user,
        force: args.force,
    };
    let (lock, mut user_run) = lock_and_plan(flags, TOOL, now, args.dry_run)?;
    user_run.plan.record_to(record);
    let planned = Planned {
        plan: &user_run.plan,
        warnings: &user_run.warnings,
        refusal: None,
    };
    finish(TOOL, &lock, planned, args.dry_run, |out, outcome| {
        report::user_kubeconfig::write(out, &user_run, outcome)
    })
}
