//! `rotate-default-ca`: stage a cross-signed rotation of k3s's self-signed CAs for
//! `k3s certificate rotate-ca`, and print the join tokens k3s will expect.
//! A drop-in for `rotate-default-ca-certs.sh` that never touches the live tls dir.
//! For kubeadm and k0s, stage their three CAs with the transition files of
//! their manual procedures, and print those procedures with the real paths.

use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use argh::FromArgs;
use shared::layout::DataDir;
use shared::layout::JoinScheme;
use shared::layout::k3s::rotate_ca_command;
use shared::layout::k3s::token::token_prefix;
use shared::layout::kubeadm::KubeadmCa;
use shared::pki::error::{Error, stdout_result};
use shared::pki::keys::GeneratedKey;
use shared::pki::text::shell_quote;
use shared::runs::pki_rotation::{PkiRotationOptions, PkiRotationRun, Role, plan_pki_rotation};
use shared::runs::rotation::{RotationOptions, RotationRun, TokenUpdate, plan_rotation};
use shared::store::lock::lock_target;
use shared::store::plan::Outcome;
use shared::store::staging;

/// Stage a rotation of k3s's self-signed CAs: per CA a new P-256 root, self-signed
/// and cross-signed by the current root, and a new intermediate; plus a new
/// service-account key in front of the current ones. Writes <staging>/tls/ for
/// `k3s certificate rotate-ca --path=<staging>`; all files or none. kubeadm and
/// k0s: per CA (ca, front-proxy-ca, etcd/ca) a new CA, also cross-signed by the
/// current one, and the old+new bundles of the manual procedure, in
/// <staging>/pki/, and the procedure to follow.
#[derive(FromArgs, Debug)]
#[argh(
    help_triggers("-h", "--help"),
    note = "Reads the current CAs from ${{DATA_DIR}}/server/tls (kubeadm, k0s:
${{DATA_DIR}}/pki) and never writes there. The staging directory defaults to
${{DATA_DIR}}/server/rotate-ca (kubeadm, k0s: ${{DATA_DIR}}/rotate-ca); an existing
non-empty one is refused unless --force (a staged rotation may already be loaded).
After a rotation, load it and restart every server before rotating again.

Clusters built with custom CAs (root/intermediate chain) are refused: rotate
them with gen-custom-ca and the same root.

Environment: DATA_DIR (default /var/lib/rancher/${{PRODUCT}}, /etc/kubernetes for
kubeadm, /var/lib/k0s for k0s), PRODUCT (default k3s); the flags win over them.",
    error_code(1, "bad input or a failed write; nothing was changed")
)]
struct Args {
    /// data directory (default: $DATA_DIR, else the product's: /var/lib/rancher/$PRODUCT,
    /// /etc/kubernetes, /var/lib/k0s)
    #[argh(option)]
    data_dir: Option<PathBuf>,

    /// product: k3s, rke2, kubeadm or k0s (default: $PRODUCT, else k3s)
    #[argh(option)]
    product: Option<String>,

    /// staging directory; files go into its tls/ or pki/ (default:
    /// $DATA_DIR/server/rotate-ca, or $DATA_DIR/rotate-ca)
    #[argh(option)]
    output: Option<PathBuf>,

    /// kubeadm and k0s: key type of the new CAs (default: each current CA's,
    /// else RSA-2048)
    #[argh(option)]
    algorithm: Option<GeneratedKey>,

    /// replace a non-empty staging directory
    #[argh(switch)]
    force: bool,

    /// show what would be written, write nothing
    #[argh(switch)]
    dry_run: bool,
}

const TOOL: &str = "rotate-default-ca";

fn main() -> ExitCode {
    shared::cli::main(TOOL, |args| run(args).map(|()| true))
}

fn run(args: Args) -> shared::pki::error::Result<()> {
    let data_dir = DataDir::from_env(args.data_dir, args.product)?;
    let k3s = data_dir.layout().rotates_with_rotate_ca();
    if k3s && args.algorithm.is_some() {
        return Err(Error::Usage {
            problem: "--algorithm is for kubeadm and k0s: k3s's rotation makes P-256 CAs, \
                      as rotate-default-ca-certs.sh does"
                .into(),
        });
    }
    let staging_dir = args
        .output
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or_else(|| data_dir.ca_staging_dir());
    let now = shared::pki::clock::now()?;
    // Refused before the lock creates the staging dir.
    staging::cert_dir(&staging_dir, &data_dir.tls_dir())?;
    // Held from the first check until the report is printed.
    let written = data_dir.written_dirs();
    let lock = lock_target(
        written.iter().map(PathBuf::as_path),
        &staging_dir,
        TOOL,
        args.dry_run,
    )?;
    lock.report_recovered(TOOL);
    if !k3s {
        let run = plan_pki_rotation(&PkiRotationOptions {
            data_dir: data_dir.clone(),
            staging_dir,
            algorithm: args.algorithm,
            force: args.force,
            now,
        })?;
        let outcome = run.plan.write(&lock, args.dry_run)?;
        return stdout_result(print_pki_report(&run, &data_dir, &outcome));
    }
    let options = RotationOptions {
        data_dir: data_dir.clone(),
        staging_dir: staging_dir.clone(),
        force: args.force,
        now,
    };
    let run = plan_rotation(&options)?;
    let outcome = run.plan.write(&lock, args.dry_run)?;
    stdout_result(print_report(&run, &data_dir, &staging_dir, &outcome))
}

fn print_report(
    run: &RotationRun,
    data_dir: &DataDir,
    staging_dir: &Path,
    outcome: &Outcome<'_>,
) -> io::Result<()> {
    let mut out = io::stdout().lock();
    let verb = outcome.verb();
    writeln!(
        out,
        "Staged rotation of {}'s self-signed CAs in {} ({verb}):",
        data_dir.product.name(),
        run.staged_tls_dir.display()
    )?;
    for rotated in &run.rotated {
        writeln!(
            out,
            "  {:<22} old root \"{}\" cross-signs new root \"{}\"; new intermediate \"{}\"",
            data_dir.layout().cert_file(rotated.ca),
            rotated.old_root.subject_cn(),
            rotated.new_root.subject_cn(),
            rotated.intermediate.subject_cn()
        )?;
    }
    writeln!(
        out,
        "  {:<22} new RSA-2048 key first, {} current key(s) kept",
        "service.key", run.service_keys_kept
    )?;
    writeln!(out)?;
    write!(out, "{outcome}")?;
    if !run.notes.is_empty() {
        writeln!(out)?;
        for note in &run.notes {
            writeln!(out, "note: {note}")?;
        }
    }
    writeln!(out)?;
    writeln!(
        out,
        "Join token CA hash of the new server-ca.crt (what k3s will compute):"
    )?;
    writeln!(out, "  {}", token_prefix(&run.ca_hash))?;
    writeln!(out, "Updated tokens, valid once the rotation is loaded:")?;
    let generic = format!("{}<user>:<password>", token_prefix(&run.ca_hash));
    for update in &run.tokens {
        match update {
            TokenUpdate::Updated { path, token } => writeln!(out, "  {}: {token}", path.display())?,
            TokenUpdate::Missing { path } => {
                writeln!(out, "  {} is missing: tokens are {generic}", path.display())?;
            }
            TokenUpdate::Unusable(error) => writeln!(out, "  {error}: tokens are {generic}")?,
        }
    }
    writeln!(out)?;
    writeln!(
        out,
        "Load the rotation, then restart every {} server:",
        data_dir.product.name()
    )?;
    writeln!(
        out,
        "  {}",
        rotate_ca_command(data_dir.layout(), staging_dir)
    )?;
    Ok(())
}

fn print_pki_report(
    run: &PkiRotationRun,
    data_dir: &DataDir,
    outcome: &Outcome<'_>,
) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(
        out,
        "Staged rotation of the CAs of {}, {} layout, from {} into {} ({}):",
        data_dir.root.display(),
        run.layout.name(),
        run.live_dir.display(),
        run.staged_dir.display(),
        outcome.verb()
    )?;
    for rotated in &run.rotated {
        writeln!(
            out,
            "  {:<16} \"{}\" (until {}) is replaced by a new {} \"{}\" (until {}), \
             also cross-signed by the old one",
            rotated.ca.stem,
            rotated.old.subject_cn(),
            shared::pki::cert::format_time(rotated.old.not_after()),
            rotated.algorithm,
            rotated.new.subject_cn(),
            shared::pki::cert::format_time(rotated.new.not_after()),
        )?;
    }
    writeln!(out)?;
    write!(out, "{outcome}")?;
    writeln!(out)?;
    writeln!(out, "What each staged file is for:")?;
    let kubeadm = run.layout.join == JoinScheme::KubeadmDiscovery;
    for rotated in &run.rotated {
        for (role, path) in &rotated.files {
            writeln!(out, "  {}", path.display())?;
            let ca = KubeadmCa::of_stem(rotated.ca.stem).unwrap_or(KubeadmCa::Cluster);
            writeln!(out, "      {}", purpose(*role, ca, kubeadm))?;
        }
    }
    if !run.notes.is_empty() {
        writeln!(out)?;
        for note in &run.notes {
            writeln!(out, "note: {note}")?;
        }
    }
    writeln!(out)?;
    let paths = Paths::new(run);
    if kubeadm {
        print_kubeadm_procedure(&mut out, run, data_dir, &paths)?;
    } else {
        print_k0s_procedure(&mut out, data_dir, &paths)?;
    }
    Ok(())
}

/// One line on what a staged file is for.
fn purpose(role: Role, ca: KubeadmCa, kubeadm: bool) -> String {
    match role {
        Role::NewCert if kubeadm => format!(
            "the new CA alone: becomes {}.crt when the procedure installs it",
            ca.stem()
        ),
        Role::NewCert => format!(
            "the new CA alone: becomes {}.crt on every controller",
            ca.stem()
        ),
        Role::NewKey => "its key (0600)".into(),
        Role::CrossSigned => "the new CA issued by the old one: servers send it after their \
                              certificate so that clients trusting only the old CA accept them"
            .into(),
        Role::OldNew if kubeadm => format!(
            "trust bundle [old, new] while both are in use: {}",
            ca.bundle_readers()
        ),
        Role::OldNew => "trust bundle [old, new] for clients outside the cluster while both \
                         are in use (kubeconfig certificate-authority-data)"
            .into(),
        Role::NewOnly => "the new CA alone, for the flags that cannot take a bundle while \
                          ca.crt is still the old one: kube-controller-manager --client-ca-file \
                          and --cluster-signing-cert-file"
            .into(),
        Role::NewOnlyKey => {
            "its key, for kube-controller-manager --cluster-signing-key-file (0600)".into()
        }
    }
}

/// Shell-quoted staged and live paths of every file the procedures name.
struct Paths<'a> {
    run: &'a PkiRotationRun,
}

impl<'a> Paths<'a> {
    fn new(run: &'a PkiRotationRun) -> Self {
        Paths { run }
    }

    /// The staged file of `role` for `ca`, quoted.
    fn staged(&self, ca: KubeadmCa, role: Role) -> String {
        shell_quote(
            self.run
                .staged_dir
                .join(role.file_name(ca.stem()))
                .as_os_str(),
        )
    }

    /// Where that file goes under the live pki/, quoted.
    fn live(&self, ca: KubeadmCa, role: Role) -> String {
        self.live_file(&role.file_name(ca.stem()))
    }

    /// `name` under the live pki/, quoted.
    fn live_file(&self, name: &str) -> String {
        shell_quote(self.run.live_dir.join(name).as_os_str())
    }

    /// `install` lines placing `roles` of `ca` into the live pki/.
    fn install(&self, out: &mut impl io::Write, ca: KubeadmCa, roles: &[Role]) -> io::Result<()> {
        for &role in roles {
            let mode = match role {
                Role::NewKey | Role::NewOnlyKey => "0600",
                _ => "0644",
            };
            writeln!(
                out,
                "       install -m {mode} {} {}",
                self.staged(ca, role),
                self.live(ca, role)
            )?;
        }
        Ok(())
    }
}

/// Contract section 7 (the Kubernetes docs' manual rotation of CA
/// certificates), step by step with the staged files; the etcd CA, which the
/// docs leave out, after it.
fn print_kubeadm_procedure(
    out: &mut impl io::Write,
    run: &PkiRotationRun,
    data_dir: &DataDir,
    p: &Paths<'_>,
) -> io::Result<()> {
    use KubeadmCa::{Cluster, Etcd, FrontProxy};
    let transition = [Role::OldNew, Role::CrossSigned];
    // kubeadm keeps its static pod manifests and kubeconfigs beside pki/.
    let kubernetes = shell_quote(data_dir.root.as_os_str());
    let manifests = format!("{kubernetes}/manifests");
    writeln!(
        out,
        "kubeadm has no CA rotation. The manual one (Kubernetes docs, \"Manual Rotation of CA \
         Certificates\"), with these files; back up {} first, and do each step on every \
         control-plane node before the next:",
        p.live_file("")
    )?;
    writeln!(
        out,
        "  1. Place the transition files; ca.crt, ca.key and front-proxy-ca.* stay the old CAs for now:"
    )?;
    p.install(
        out,
        Cluster,
        &[
            Role::OldNew,
            Role::CrossSigned,
            Role::NewOnly,
            Role::NewOnlyKey,
        ],
    )?;
    p.install(out, FrontProxy, &transition)?;
    writeln!(
        out,
        "  2. kube-controller-manager ({manifests}/kube-controller-manager.yaml): \
         --root-ca-file={}, --client-ca-file={} and --cluster-signing-cert-file={} \
         (no bundles there), --cluster-signing-key-file={}, --requestheader-client-ca-file={}.",
        p.live(Cluster, Role::OldNew),
        p.live(Cluster, Role::NewOnly),
        p.live(Cluster, Role::NewOnly),
        p.live(Cluster, Role::NewOnlyKey),
        p.live(FrontProxy, Role::OldNew)
    )?;
    writeln!(
        out,
        "  3. Wait until the ca.crt of ServiceAccount token Secrets and the kube-root-ca.crt \
         ConfigMaps hold both CAs (kube-controller-manager publishes --root-ca-file)."
    )?;
    writeln!(
        out,
        "  4. Restart the pods that use in-cluster config (kube-proxy, CoreDNS, ...)."
    )?;
    writeln!(
        out,
        "  5. kube-apiserver ({manifests}/kube-apiserver.yaml): --client-ca-file={} (and \
         --kubelet-certificate-authority if set), --requestheader-client-ca-file={}.",
        p.live(Cluster, Role::OldNew),
        p.live(FrontProxy, Role::OldNew)
    )?;
    writeln!(
        out,
        "  6. kube-scheduler ({manifests}/kube-scheduler.yaml): --client-ca-file={}, \
         --requestheader-client-ca-file={}.",
        p.live(Cluster, Role::OldNew),
        p.live(FrontProxy, Role::OldNew)
    )?;
    writeln!(
        out,
        "  7. User kubeconfigs: certificate-authority-data = the bundle, e.g. \
         `kubectl config set-cluster kubernetes --embed-certs --certificate-authority={}`; \
         reissue their client certificates from the new CA.",
        p.staged(Cluster, Role::OldNew)
    )?;
    writeln!(
        out,
        "  8. One node at a time: kubelet clientCAFile (/var/lib/kubelet/config.yaml) = {} and the \
         certificate-authority-data of every kubeconfig in {kubernetes} = the bundle; install \
         the new CAs,",
        p.live(Cluster, Role::OldNew)
    )?;
    p.install(out, Cluster, &[Role::NewCert, Role::NewKey])?;
    p.install(out, FrontProxy, &[Role::NewCert, Role::NewKey])?;
    writeln!(
        out,
        "     re-sign with them: `kubeadm certs renew apiserver apiserver-kubelet-client \
         front-proxy-client admin.conf super-admin.conf controller-manager.conf scheduler.conf`,"
    )?;
    writeln!(
        out,
        "     send the cross-signed CA after the apiserver certificate for clients that still \
         trust only the old CA: `cat {} >> {}`,",
        p.live(Cluster, Role::CrossSigned),
        p.live_file("apiserver.crt")
    )?;
    writeln!(
        out,
        "     restart kube-apiserver, kube-controller-manager, kube-scheduler and the kubelet, then \
         aggregated API servers and webhooks; annotate Deployments and DaemonSets to roll them. \
         Run `kubeadm init phase upload-certs --upload-certs` again for later control-plane joins."
    )?;
    writeln!(
        out,
        "  9. cluster-info: `kubectl -n kube-public edit configmap cluster-info`, \
         certificate-authority-data = the bundle {}; joins then pass with either hash:",
        p.staged(Cluster, Role::OldNew)
    )?;
    if let Some((old, new)) = &run.discovery_hashes {
        writeln!(
            out,
            "       kubeadm join <endpoint>:6443 --token <token> \
             --discovery-token-ca-cert-hash {old} --discovery-token-ca-cert-hash {new}"
        )?;
        writeln!(out, " 10. Check that no component logs TLS errors.")?;
        writeln!(
            out,
            " 11. Finally drop the old CAs: point every flag back at kubeadm's files ({}, {}, {}: \
             now the new CAs alone), set kubeconfigs and cluster-info to {}, remove the transition \
             files from {} and the cross-signed CA from apiserver.crt; joins then use \
             --discovery-token-ca-cert-hash {new}.",
            p.live(Cluster, Role::NewCert),
            p.live(Cluster, Role::NewKey),
            p.live(FrontProxy, Role::NewCert),
            p.staged(Cluster, Role::NewCert),
            p.live_file("")
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "The docs leave out the etcd CA (stacked etcd). With the staged etcd/ca set, one etcd \
         member at a time:"
    )?;
    writeln!(
        out,
        "  E1. Trust both: place the bundle and the cross-signed CA,"
    )?;
    p.install(out, Etcd, &transition)?;
    writeln!(
        out,
        "      set etcd --trusted-ca-file and --peer-trusted-ca-file ({manifests}/etcd.yaml) and \
         kube-apiserver --etcd-cafile to {}; restart etcd and kube-apiserver.",
        p.live(Etcd, Role::OldNew)
    )?;
    writeln!(
        out,
        "  E2. Once every member trusts both: install the new etcd CA,"
    )?;
    p.install(out, Etcd, &[Role::NewCert, Role::NewKey])?;
    writeln!(
        out,
        "      `kubeadm certs renew etcd-server etcd-peer etcd-healthcheck-client \
         apiserver-etcd-client`, append {} to {} and {} (members still trusting only the old CA \
         accept them), restart etcd and kube-apiserver.",
        p.live(Etcd, Role::CrossSigned),
        p.live_file("etcd/server.crt"),
        p.live_file("etcd/peer.crt")
    )?;
    writeln!(
        out,
        "  E3. Once every member runs the new certificates: flags back to {}, remove the \
         transition files and the cross-signed CA.",
        p.live(Etcd, Role::NewCert)
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "Not covered: sa.key and sa.pub (`sa-key-rotate --product kubeadm`), an external etcd, \
         kubelet serving certificates signed by the cluster CA (approve new CSRs)."
    )?;
    Ok(())
}

/// k0s sets the CA flags itself, so its CAs change with every node stopped;
/// prepared files make that downtime the time to place them and restart.
fn print_k0s_procedure(
    out: &mut impl io::Write,
    data_dir: &DataDir,
    p: &Paths<'_>,
) -> io::Result<()> {
    let root = |name: &str| shell_quote(data_dir.root.join(name).as_os_str());
    writeln!(
        out,
        "k0s rotates CAs only with every node stopped. Instead of deleting them and letting one \
         controller make new ones, place this prepared set (back up {} first):",
        p.live_file("")
    )?;
    writeln!(out, "  1. Stop k0s on every node (`k0s stop`).")?;
    writeln!(
        out,
        "  2. On every controller, install the same set (k0s renews at start every leaf issued \
         by a CA it knows by its CN, and rewrites its kubeconfigs):"
    )?;
    for ca in KubeadmCa::ALL {
        p.install(out, ca, &[Role::NewCert, Role::NewKey])?;
    }
    writeln!(
        out,
        "  3. On workers (and controllers with --enable-worker): `rm -rf {} {}`.",
        root("kubelet.conf"),
        root("kubelet/pki")
    )?;
    writeln!(out, "  4. Start k0s on every controller (`k0s start`).")?;
    writeln!(
        out,
        "  5. Workers rejoin with a token from the new CA: `k0s token create --role worker` on a \
         controller (or `k0s token pre-shared --role worker --cert {} --url https://<ip>:6443/`), \
         decoded and gunzipped into {}; start k0s, then remove that file and invalidate the token.",
        p.staged(KubeadmCa::Cluster, Role::NewCert),
        root("kubelet-bootstrap.conf")
    )?;
    writeln!(
        out,
        "  6. Kubeconfigs handed out before: certificate-authority-data = {} until their users \
         take the new CA, then {}.",
        p.staged(KubeadmCa::Cluster, Role::OldNew),
        p.staged(KubeadmCa::Cluster, Role::NewCert)
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "Not covered: sa.key and sa.pub (`sa-key-rotate --product k0s`: rotate them before or \
         after, without downtime)."
    )?;
    Ok(())
}
