//! k3s's (and RKE2's) PKI as data (K3S-CONTRACT.md): five CAs under
//! `server/tls`, each written as `X.pem` (the CA alone) and `X.crt` (the
//! bundle k3s serves and trusts), `service.key`, the `K10<hash>::` join token
//! and `k3s certificate rotate-ca --path=<staging>`.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use super::procedure::{Line, Procedure, Section, text};
use super::{
    AdminKubeconfig, CaFiles, CaName, CaSlot, CaSpec, ClusterNames, ExpiryScheme, JoinScheme,
    Layout, LeafSpec, RotationScheme, SaSlot, UserKubeconfigs,
};
use crate::pki::cert::Certificate;
use crate::pki::constraints::Usage;
use crate::pki::error::{Error, Result};
use crate::pki::keys::KeyAlgorithm;
use crate::pki::names::San;
use crate::pki::text::shell_quote;

pub mod configured;
pub mod serving;
pub mod token;

/// k3s's (and RKE2's) kubernetes service IP: the first address of its default
/// service CIDR, 10.43.0.0/16.
pub const DEFAULT_SERVICE_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 43, 0, 1));

/// The service-account key file under `server/tls`.
pub const SERVICE_KEY_FILE: &str = "service.key";

/// The join-token files under the data dir, which carry the CA hash.
pub const TOKEN_FILES: [&str; 2] = ["server/token", "server/agent-token"];

/// Each of the five CAs of a custom tree: what the upstream script makes.
pub const CUSTOM_LEAF_CA: CaSpec = CaSpec {
    key: KeyAlgorithm::EcdsaP256,
    validity_days: 3700,
};

/// The client CA: kubelets, admin, controllers.
pub const CLIENT_CA: &str = "client-ca";
/// The server CA: kube-apiserver, supervisor and kubelet serving certificates.
/// Its bundle is what the join token hashes.
pub const SERVER_CA: &str = "server-ca";
/// The front-proxy (aggregation layer) client CA.
pub const REQUEST_HEADER_CA: &str = "request-header-ca";
/// The etcd peer CA.
pub const ETCD_PEER_CA: &str = "etcd/peer-ca";
/// The etcd server and client CA.
pub const ETCD_SERVER_CA: &str = "etcd/server-ca";

/// The five CAs k3s reads from `server/tls` and signs its leaf certificates
/// with, in the order the upstream scripts process them; the CN kind is the
/// script's CA type with `/` turned into `-`.
const CAS: [CaSlot; 5] = [
    slot(CLIENT_CA, "client"),
    slot(SERVER_CA, "server"),
    slot(REQUEST_HEADER_CA, "request-header"),
    slot(ETCD_PEER_CA, "etcd-peer"),
    slot(ETCD_SERVER_CA, "etcd-server"),
];

const fn slot(stem: &'static str, kind: &'static str) -> CaSlot {
    CaSlot {
        stem,
        name: CaName::Stamped(kind),
        bundle_readers: "",
    }
}

/// k3s's layout.
pub static K3S: Layout = layout("k3s", "/var/lib/rancher/k3s", &K3S_SERVICES);
/// RKE2's: k3s's under its own name and data dir.
pub static RKE2: Layout = layout("rke2", "/var/lib/rancher/rke2", &RKE2_SERVICES);

/// k3s renews a leaf at start when it has fewer days than this left
/// (`config.CertificateRenewDays`), so a leaf inside it is due.
pub const RENEW_DAYS: u64 = 90;

const fn layout(
    name: &'static str,
    default_data_dir: &'static str,
    services: &'static CertificateServices,
) -> Layout {
    Layout {
        name,
        default_data_dir,
        cert_dir: "server/tls",
        staging_parent: "server",
        cas: &CAS,
        cas_title: "leaf CAs",
        ca_files: CaFiles::Bundle,
        ca_default: CUSTOM_LEAF_CA,
        self_signed_cas: false,
        service_account: SaSlot::KeyFile(SERVICE_KEY_FILE),
        join: JoinScheme::K3sToken,
        join_ca: SERVER_CA,
        default_service_ip: DEFAULT_SERVICE_IP,
        node_names: true,
        leaves,
        rotation: RotationScheme::RotateCa,
        rotation_advice: "To change the CAs of a running cluster, generate into a staging \
                          DATA_DIR and load it with \
                          `k3s certificate rotate-ca --path=<DATA_DIR>/server`",
        expiry: ExpiryScheme::Services(services),
        due_days: RENEW_DAYS,
        external_ca: false,
        users: UserKubeconfigs {
            client_ca: CLIENT_CA,
            server_trust: "server-ca.crt",
            admin_kubeconfig: AdminKubeconfig::Fixed(services.admin_kubeconfig),
            fallback_server: Some("https://127.0.0.1:6443"),
            cluster_name: "default",
        },
    }
}

/// Which `<program> certificate check` and `rotate` lists a service is in
/// (`pkg/util/services`: `Agent`, `Server`, `CA`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceRole {
    /// Renewed on every node, agents included.
    Agent,
    /// Renewed on servers only.
    Server,
    /// `certificate-authority`: listed by `check --service`, never renewed
    /// by `rotate` (the CAs change only with `rotate-ca`).
    Authority,
}

/// One service of `<program> certificate rotate --service`, and the files it
/// deletes so that the next start re-issues them.
#[derive(Debug, PartialEq, Eq)]
pub struct CertificateService {
    /// Its name (`admin`, `k3s-controller`).
    pub name: &'static str,
    /// Which lists hold it.
    pub role: ServiceRole,
    /// Its files, relative to the data dir.
    pub files: &'static [&'static str],
}

/// What `<program> certificate check` reads and `rotate` renews, by service,
/// and where a node keeps it: the expiry report lists the same files and
/// names the service that renews each.
#[derive(Debug, PartialEq, Eq)]
pub struct CertificateServices {
    /// The program (`k3s`, `rke2`): the command and the systemd unit prefix.
    pub program: &'static str,
    /// Under the data dir, the directory whose absence makes `check` and
    /// `rotate` treat the node as an agent (`pkg/cli/cert/cert.go`).
    pub server_dir: &'static str,
    /// The directories read on a server (the agent's too: a server runs one).
    pub server_dirs: &'static [&'static str],
    /// The directory read on an agent.
    pub agent_dir: &'static str,
    /// The admin kubeconfig k3s rewrites at each server start, embedding the
    /// `admin` client certificate (`--write-kubeconfig` moves it).
    pub admin_kubeconfig: &'static str,
    /// Its file name, read as a kubeconfig wherever a scan meets it.
    pub kubeconfig_name: &'static str,
    /// The service whose certificate the admin kubeconfig embeds.
    pub kubeconfig_service: &'static str,
    /// The systemd units of a server and of an agent.
    pub units: [&'static str; 2],
    /// Every service, in k3s's order: `Server`, then `Agent`, then `CA`.
    pub services: &'static [CertificateService],
}

impl CertificateServices {
    /// The service `rotate` renews the file at `relative` (to the data dir)
    /// with; None for the CAs and files no service lists.
    pub fn renewed_by(&self, relative: &Path) -> Option<&'static str> {
        self.services
            .iter()
            .filter(|service| service.role != ServiceRole::Authority)
            .find(|service| service.files.iter().any(|file| Path::new(file) == relative))
            .map(|service| service.name)
    }

    /// The commands that renew `services` (a subset of [`Self::services`]):
    /// stop the node's unit, `rotate --service`, start it again. k3s's docs
    /// stop it first; `rotate` deletes the files and the start re-issues them.
    pub fn renew_commands(&self, services: &[&str], agent: bool) -> [String; 3] {
        let unit = self.units[usize::from(agent)];
        [
            format!("systemctl stop {unit}"),
            format!(
                "{} certificate rotate --service {}",
                self.program,
                services.join(",")
            ),
            format!("systemctl start {unit}"),
        ]
    }
}

/// k3s's `FilesForServices` as data (k3s-io/k3s, pkg/util/services/services.go
/// at 29667f317b20034d4bb78145a2f9f1a75c90aefa, with the file names of
/// pkg/daemons/control/deps/deps.go `CreateRuntimeCertFiles`): `program` is
/// k3s or rke2, which names `<program>-controller`, `<program>-server` and
/// two files. `<program>-server` (the dynamiclistener cache,
/// `dynamic-cert.json`) lists no files there.
macro_rules! certificate_services {
    ($program:literal, $server_unit:literal, $agent_unit:literal) => {
        CertificateServices {
            program: $program,
            server_dir: "server",
            server_dirs: &["server/tls", "agent"],
            agent_dir: "agent",
            admin_kubeconfig: concat!("/etc/rancher/", $program, "/", $program, ".yaml"),
            kubeconfig_name: concat!($program, ".yaml"),
            kubeconfig_service: "admin",
            units: [$server_unit, $agent_unit],
            services: &[
                service(
                    "api-server",
                    ServiceRole::Server,
                    &[
                        "server/tls/client-kube-apiserver.crt",
                        "server/tls/client-kube-apiserver.key",
                        "server/tls/serving-kube-apiserver.crt",
                        "server/tls/serving-kube-apiserver.key",
                    ],
                ),
                service(
                    "admin",
                    ServiceRole::Server,
                    &["server/tls/client-admin.crt", "server/tls/client-admin.key"],
                ),
                service(
                    "auth-proxy",
                    ServiceRole::Server,
                    &[
                        "server/tls/client-auth-proxy.crt",
                        "server/tls/client-auth-proxy.key",
                    ],
                ),
                service(
                    "cloud-controller",
                    ServiceRole::Server,
                    &[
                        concat!("server/tls/client-", $program, "-cloud-controller.crt"),
                        concat!("server/tls/client-", $program, "-cloud-controller.key"),
                    ],
                ),
                service(
                    "controller-manager",
                    ServiceRole::Server,
                    &[
                        "server/tls/client-controller.crt",
                        "server/tls/client-controller.key",
                    ],
                ),
                service(
                    "etcd",
                    ServiceRole::Server,
                    &[
                        "server/tls/etcd/client.crt",
                        "server/tls/etcd/client.key",
                        "server/tls/etcd/server-client.crt",
                        "server/tls/etcd/server-client.key",
                        "server/tls/etcd/peer-server-client.crt",
                        "server/tls/etcd/peer-server-client.key",
                    ],
                ),
                service(
                    "scheduler",
                    ServiceRole::Server,
                    &[
                        "server/tls/client-scheduler.crt",
                        "server/tls/client-scheduler.key",
                    ],
                ),
                service(
                    "supervisor",
                    ServiceRole::Server,
                    &[
                        "server/tls/client-supervisor.crt",
                        "server/tls/client-supervisor.key",
                    ],
                ),
                service(concat!($program, "-server"), ServiceRole::Server, &[]),
                service(
                    "kube-proxy",
                    ServiceRole::Agent,
                    &[
                        "server/tls/client-kube-proxy.crt",
                        "server/tls/client-kube-proxy.key",
                        "agent/client-kube-proxy.crt",
                        "agent/client-kube-proxy.key",
                    ],
                ),
                service(
                    "kubelet",
                    ServiceRole::Agent,
                    &[
                        "server/tls/client-kubelet.key",
                        "server/tls/serving-kubelet.key",
                        "agent/client-kubelet.crt",
                        "agent/client-kubelet.key",
                        "agent/serving-kubelet.crt",
                        "agent/serving-kubelet.key",
                    ],
                ),
                service(
                    concat!($program, "-controller"),
                    ServiceRole::Agent,
                    &[
                        concat!("server/tls/client-", $program, "-controller.crt"),
                        concat!("server/tls/client-", $program, "-controller.key"),
                        concat!("agent/client-", $program, "-controller.crt"),
                        concat!("agent/client-", $program, "-controller.key"),
                    ],
                ),
                service(
                    "certificate-authority",
                    ServiceRole::Authority,
                    &[
                        "server/tls/server-ca.crt",
                        "server/tls/server-ca.key",
                        "server/tls/client-ca.crt",
                        "server/tls/client-ca.key",
                        "server/tls/request-header-ca.crt",
                        "server/tls/request-header-ca.key",
                        "server/tls/etcd/peer-ca.crt",
                        "server/tls/etcd/peer-ca.key",
                        "server/tls/etcd/server-ca.crt",
                        "server/tls/etcd/server-ca.key",
                    ],
                ),
            ],
        }
    };
}

const fn service(
    name: &'static str,
    role: ServiceRole,
    files: &'static [&'static str],
) -> CertificateService {
    CertificateService { name, role, files }
}

/// k3s's services; its units are `k3s` and `k3s-agent` (install.sh).
pub static K3S_SERVICES: CertificateServices = certificate_services!("k3s", "k3s", "k3s-agent");
/// RKE2's; its units are `rke2-server` and `rke2-agent`.
pub static RKE2_SERVICES: CertificateServices =
    certificate_services!("rke2", "rke2-server", "rke2-agent");

/// The command that loads `staging_dir` into a running cluster, quoted for a
/// POSIX shell so that it can be pasted whatever the path holds.
pub fn rotate_ca_command(layout: &Layout, staging_dir: &Path) -> String {
    format!(
        "{}{}",
        rotate_ca_prefix(layout),
        shell_quote(staging_dir.as_os_str())
    )
}

/// The `rotate-ca` command up to its path.
fn rotate_ca_prefix(layout: &Layout) -> String {
    format!("{} certificate rotate-ca --path=", layout.name)
}

/// Loading a staged service-account key: the `rotate-ca` command, then a
/// restart of every server (agents do not read the key).
pub(super) fn sa_load_procedure(layout: &Layout, staging_dir: &Path) -> Procedure {
    Procedure {
        sections: vec![
            Section::new(text![format!(
                "Load it, then restart every {} server:",
                layout.name
            )])
            .line(Line::Command(text![rotate_ca_prefix(layout), staging_dir])),
        ],
    }
}

/// Whether the CAs loaded are under a root the current bundles do not hold
/// (`rotate-ca --force`, a new custom root): then what trusted only the old
/// root, pods included, must be given the new one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NewRoot {
    /// The old root still signs the new CAs (k3s's cross-signed rotation, a
    /// custom tree under the same root).
    No,
    /// A root the cluster does not trust yet.
    Yes,
    /// Not known (no live CAs to compare with).
    Unknown,
}

/// Loading a CA rotation staged in `staging_dir` (the k3s docs, "Rotating
/// Custom CA Certificates"): the command, servers restarted before agents,
/// the join tokens to update where they carry the CA hash (`new_hash`: the
/// join CA's root changes), and pods restarted after a new root.
pub fn ca_load_procedure(
    layout: &Layout,
    staging_dir: &Path,
    new_hash: bool,
    new_root: NewRoot,
) -> Procedure {
    let name = layout.name;
    let restart = format!("restart every {name} server, one after the other, and then every agent");
    let mut sections = vec![match new_root {
        // rotate-ca refuses it: no command to paste, what --force would need.
        NewRoot::Yes => Section::new(text![format!(
            "If you load it anyway with rotate-ca --force: {restart}."
        )]),
        NewRoot::No | NewRoot::Unknown => {
            Section::new(text![format!("Load the rotation, then {restart}:")])
                .line(Line::Command(text![rotate_ca_prefix(layout), staging_dir]))
        }
    }];
    if new_hash {
        let mut tokens = tokens_section(layout);
        if new_root == NewRoot::Unknown {
            tokens.heading = text![
                "If the new CAs are under a new root, the join tokens change with the CA hash. \
                 Before each node restarts, update those configured on it (nodes that joined \
                 with a secure K10 token, servers included):"
            ];
        }
        sections.push(tokens);
    }
    let pods = "restart every pod once the servers are up: pods trust the old root alone (the \
                ca.crt of their service-account tokens, the kube-root-ca.crt ConfigMap) until \
                they restart.";
    match new_root {
        NewRoot::No => {}
        NewRoot::Yes => sections.push(Section::new(text![format!(
            "The new CAs are under a new root: {pods}"
        )])),
        NewRoot::Unknown => sections.push(Section::new(text![format!(
            "If the new CAs are under a new root (rotate-ca --force): {pods}"
        )])),
    }
    Procedure { sections }
}

/// Where the join tokens a node was configured with live, to update when
/// the CA hash changes.
fn tokens_section(layout: &Layout) -> Section {
    let name = layout.name;
    let files = configured::node_files(layout);
    let line = |words: String| Line::Text(text![words]);
    Section::new(text![
        "The join tokens change with the CA hash. Before each node restarts, update those \
         configured on it (nodes that joined with a secure K10 token, servers included):"
    ])
    .line(line(format!(
        "token and agent-token in /{} and /{}.d/*.yaml;",
        files.config, files.config
    )))
    .line(line(format!(
        "{p}TOKEN and {p}AGENT_TOKEN in /{} (/{} on agents);",
        files.env_files[0],
        files.env_files[1],
        p = files.env_prefix
    )))
    .line(line(format!(
        "--token in the ExecStart of /{} (/{} on agents).",
        files.units[0], files.units[1]
    )))
    .line(line(format!(
        "{name} rewrites server/token and server/agent-token itself. \
         `ca-check token` names every stale one."
    )))
}

/// Loading one stage of a CA renewal staged in `staging_dir`: the same keys,
/// so leaves, agents' certificates and pods need nothing; only the join-token
/// hash, which follows the bundle's bytes, changes at each stage.
pub fn ca_renewal_procedure(
    layout: &Layout,
    staging_dir: &Path,
    stage: crate::layout::rotation::RenewalStage,
) -> Procedure {
    use crate::layout::rotation::RenewalStage;
    let name = layout.name;
    let restart = format!("restart every {name} server, one after the other, and then every agent");
    if stage == RenewalStage::Expired {
        return Procedure {
            sections: vec![
                Section::new(text![format!(
                    "A current CA certificate has expired: rotate-ca checks that the first \
                     certificate of each staged bundle verifies now, which no bundle starting \
                     with it can, and refuses a renewed one in front until the live bundle holds \
                     it. This staging puts the renewed certificates first at once; load it with \
                     --force, then {restart}:"
                )])
                .line(Line::Command(text![
                    format!("{name} certificate rotate-ca --force --path="),
                    staging_dir
                ])),
                tokens_section(layout),
                Section::new(text![format!(
                    "Agents that trust only the expired certificate reject the servers until \
                     they restart with the new token (its hash pins the renewed bundle). The keys \
                     are the same: nothing needs re-issuing beyond what {name} renews at start."
                )]),
            ],
        };
    }
    let opening = match stage {
        RenewalStage::AddRenewed => {
            "Stage 1 of 2. Each staged bundle is [current, renewed, ...]: k3s keeps signing with \
             the current certificate while every node learns the renewed one, and rotate-ca \
             accepts it without --force (the current certificate still comes first)."
        }
        RenewalStage::RenewedFirst | RenewalStage::Expired => {
            "Stage 2 of 2. Each staged bundle now starts with the renewed certificate, which \
             every node already trusts: k3s signs with it from this restart on."
        }
    };
    let mut sections = vec![Section::new(text![opening.replace("k3s", name)])];
    sections.extend(ca_load_procedure(layout, staging_dir, true, NewRoot::No).sections);
    sections.push(Section::new(text![match stage {
        RenewalStage::AddRenewed => "Then, once every server and agent has restarted, run \
             `rotate-default-ca --renew --force` again with the same flags (--force \
             replaces this staging dir, loaded by then): it stages stage 2, the renewed \
             certificates first, loaded the same way. Do both before the current certificates \
             end."
            .to_string(),
        RenewalStage::RenewedFirst | RenewalStage::Expired => "Nothing else: the keys are the \
             same, so every certificate issued before stays valid and pods keep their trust. \
             `ca-check expiry` then shows the new end dates."
            .to_string(),
    }]));
    Procedure { sections }
}

/// Which of the two CAs the API server and its clients split (`server-ca`,
/// `client-ca`) a certificate is, when it is one: by its file name
/// (`server-ca.crt`, `client-ca.pem`) or by the CN k3s, RKE2 and gen-custom-ca
/// give it (`k3s-server-ca@1700000000`).
pub fn api_ca_of(cert_path: &Path, cert: &Certificate) -> Option<&'static str> {
    let file_stem = cert_path
        .file_name()
        .and_then(|name| name.to_str())
        .and_then(|name| name.split('.').next());
    let common_name = cert.subject_cn();
    [SERVER_CA, CLIENT_CA].into_iter().find(|stem| {
        let stamped = |product: &str| {
            let name = format!("{product}-{stem}");
            common_name == name || common_name.starts_with(&format!("{name}@"))
        };
        file_stem == Some(stem) || stamped(K3S.name) || stamped(RKE2.name)
    })
}

/// Refuses, before `tool` reads or writes anything, a layout that is not
/// k3s's: what it checks (rotate-ca staging dirs, join tokens) exists only there.
pub fn require(layout: &Layout, tool: &str) -> Result<()> {
    if layout.rotates_with_rotate_ca() && layout.join == JoinScheme::K3sToken {
        return Ok(());
    }
    Err(Error::usage(format!(
        "{tool} works on the k3s and RKE2 layouts (server/tls); {} is not one of them",
        layout.name
    )))
}

/// Every kind of certificate k3s issues from its five CAs (k3s
/// pkg/daemons/control/deps/deps.go, the agent's kubelet certificates and
/// dynamiclistener's supervisor certificate), with the names and usages its
/// consumers check: what pre-flight issues and verifies.
fn leaves(layout: &Layout, names: &ClusterNames) -> Vec<LeafSpec> {
    use Usage::{ClientAuth, ServerAuth};
    let product = layout.name;
    let leaf =
        |ca: &str, name, cn: String, orgs: &[&'static str], usages: &[Usage], sans| LeafSpec {
            ca: ca.to_string(),
            name,
            common_name: cn,
            organizations: orgs.to_vec(),
            usages: usages.to_vec(),
            sans,
        };
    let client = |name, cn: String, orgs: &[&'static str]| {
        leaf(CLIENT_CA, name, cn, orgs, &[ClientAuth], Vec::new())
    };
    let masters = &["system:masters"];
    let mut etcd_sans = vec![San::Dns("kine.sock".into())];
    etcd_sans.extend(names.config_sans());
    // The supervisor's servingKubeletCert: the node name and localhost,
    // 127.0.0.1 and the node IPs.
    let mut kubelet_sans = vec![
        San::Dns("localhost".into()),
        San::Ip(IpAddr::from([127, 0, 0, 1])),
    ];
    kubelet_sans.extend(names.node_sans());
    vec![
        leaf(
            SERVER_CA,
            "kube-apiserver serving",
            "kube-apiserver".into(),
            &[],
            &[ServerAuth],
            names.serving_sans(),
        ),
        leaf(
            SERVER_CA,
            "supervisor serving",
            product.into(),
            &[],
            &[ServerAuth],
            names.serving_sans(),
        ),
        leaf(
            SERVER_CA,
            "kubelet serving",
            "node".into(),
            &[],
            &[ServerAuth],
            kubelet_sans,
        ),
        client("admin", "system:admin".into(), masters),
        client(
            "supervisor client",
            format!("system:{product}-supervisor"),
            masters,
        ),
        client("kube-apiserver client", "system:apiserver".into(), masters),
        client(
            "kube-controller-manager",
            "system:kube-controller-manager".into(),
            &[],
        ),
        client("kube-scheduler", "system:kube-scheduler".into(), &[]),
        client("kube-proxy", "system:kube-proxy".into(), &[]),
        client("controller", format!("system:{product}-controller"), &[]),
        client(
            "kubelet client",
            "system:node:node".into(),
            &["system:nodes"],
        ),
        leaf(
            REQUEST_HEADER_CA,
            "auth-proxy client",
            "system:auth-proxy".into(),
            &[],
            &[ClientAuth],
            Vec::new(),
        ),
        leaf(
            ETCD_SERVER_CA,
            "etcd server",
            "etcd-server".into(),
            &[],
            &[ServerAuth, ClientAuth],
            etcd_sans.clone(),
        ),
        leaf(
            ETCD_SERVER_CA,
            "etcd client",
            "etcd-client".into(),
            &[],
            &[ClientAuth],
            Vec::new(),
        ),
        leaf(
            ETCD_PEER_CA,
            "etcd peer",
            "etcd-peer".into(),
            &[],
            &[ServerAuth, ClientAuth],
            etcd_sans,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_upstream_scripts() {
        let peer = K3S.ca(ETCD_PEER_CA).unwrap();
        assert_eq!(K3S.cert_file(peer), "etcd/peer-ca.crt");
        assert_eq!(K3S.ca_common_name(peer, 7), "k3s-etcd-peer-ca@7");
        let request_header = K3S.ca(REQUEST_HEADER_CA).unwrap();
        assert_eq!(K3S.cert_file(request_header), "request-header-ca.crt");
        let etcd_server = K3S.ca(ETCD_SERVER_CA).unwrap();
        assert_eq!(
            K3S.rotated_root_common_name(etcd_server, 9),
            "k3s-etcd-server-root@9"
        );
    }

    /// The program names a service, two files and the units; CAs and files
    /// no service lists are renewed by none.
    #[test]
    fn services_follow_the_program() {
        let by = |services: &CertificateServices, file: &str| services.renewed_by(Path::new(file));
        assert_eq!(
            by(&RKE2_SERVICES, "agent/client-rke2-controller.crt"),
            Some("rke2-controller")
        );
        assert_eq!(
            by(
                &RKE2_SERVICES,
                "server/tls/client-rke2-cloud-controller.crt"
            ),
            Some("cloud-controller")
        );
        assert_eq!(by(&K3S_SERVICES, "agent/client-rke2-controller.crt"), None);
        assert_eq!(by(&K3S_SERVICES, "server/tls/server-ca.crt"), None);
        assert_eq!(by(&K3S_SERVICES, "agent/server-ca.crt"), None);
        assert_eq!(
            by(&K3S_SERVICES, "server/tls/etcd/peer-server-client.crt"),
            Some("etcd")
        );
        assert_eq!(
            RKE2_SERVICES.renew_commands(&["kubelet", "kube-proxy"], true),
            [
                "systemctl stop rke2-agent",
                "rke2 certificate rotate --service kubelet,kube-proxy",
                "systemctl start rke2-agent"
            ]
        );
        assert_eq!(K3S_SERVICES.admin_kubeconfig, "/etc/rancher/k3s/k3s.yaml");
        assert_eq!(K3S.expiry, ExpiryScheme::Services(&K3S_SERVICES));
    }

    /// Issue 10 case 11: the printed `rotate-ca --path=...` was not shell-quoted.
    #[test]
    fn the_printed_command_is_shell_quoted() {
        assert_eq!(
            rotate_ca_command(&RKE2, Path::new("/s $x")),
            "rke2 certificate rotate-ca --path='/s $x'"
        );
        assert!(require(&super::super::kubeadm::LAYOUT, "tool").is_err());
        assert!(require(&RKE2, "tool").is_ok());
    }
}
