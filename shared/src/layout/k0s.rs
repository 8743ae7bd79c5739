//! k0s's PKI as data (KUBEADM-K0S-CONTRACT.md, section 8): kubeadm's three CA
//! stems under `/var/lib/k0s/pki` with k0s's CNs, and every leaf certificate a
//! k0s controller issues from them at each start.

use std::net::IpAddr;

use super::kubeadm::rotation::{
    SaRollout, embed_renewed, installs, purpose, renewal_afterwards, renewed_installs,
    sa_procedure, staged,
};
use super::kubeadm::{KubeadmCa, pki_layout, slot};
use super::procedure::{Label, Line, Procedure, Section, StagedPaths, text};
use super::rotation::{ManualRotation, Role};
use super::{
    AdminKubeconfig, CaSlot, ClusterNames, ExpiryScheme, JoinScheme, Layout, LeafSpec,
    UserKubeconfigs, kubernetes_service_sans,
};
use crate::pki::constraints::Usage;
use crate::pki::names::San;

/// `/var/lib/k0s`: certificates in `pki/`.
pub const DEFAULT_DATA_DIR: &str = "/var/lib/k0s";

/// k0s's layout. k0s renews the leaves of a CA whose CN it knows (its
/// cfssl `initca` names), so these CNs are kept as k0s writes them.
pub static LAYOUT: Layout = pki_layout(
    "k0s",
    DEFAULT_DATA_DIR,
    &[
        k0s_slot(KubeadmCa::Cluster, "kubernetes-ca"),
        k0s_slot(KubeadmCa::FrontProxy, "kubernetes-front-proxy-ca"),
        k0s_slot(KubeadmCa::Etcd, "etcd-ca"),
    ],
    " and its signer refuses more",
    JoinScheme::K0sPreShared,
    |_, cluster| leaves(cluster),
    "k0s rotates CAs only by hand, with every node stopped: to change the CAs \
     of a running cluster, follow k0s's docs (troubleshooting/certificate-authorities)",
    // The admin kubeconfig lives in pki/ and embeds the admin client certificate.
    ExpiryScheme::Scan {
        kubeconfigs: &["admin.conf"],
    },
    &ROTATION,
    false,
    // k0s's admin.conf: cluster `local`, server https://localhost:6443.
    UserKubeconfigs {
        client_ca: KubeadmCa::Cluster.stem(),
        server_trust: "ca.crt",
        admin_kubeconfig: AdminKubeconfig::InDataDir("pki/admin.conf"),
        fallback_server: None,
        cluster_name: "local",
    },
);

/// k0s's rotations by hand: it sets its flags itself, so its CAs change with
/// every node stopped (no `-new` copies), and its service-account keys as
/// kubeadm's, controller by controller.
static ROTATION: ManualRotation = ManualRotation {
    new_only: None,
    purpose: |role, ca| {
        purpose(
            role,
            ca,
            "on every controller",
            "for clients outside the cluster while both are in use (kubeconfig \
             certificate-authority-data)",
        )
    },
    ca_procedure: |paths, _| ca_procedure(paths),
    renewal_procedure: |paths, _| renewal_procedure(paths),
    sa_procedure: |paths| {
        sa_procedure(
            &SaRollout {
                nodes: "every controller",
                restart_verifiers: "restart k0s (systemctl restart k0scontroller)",
                restart_signers: "restart k0s (systemctl restart k0scontroller)",
                after_signing_key: &[],
            },
            paths,
        )
    },
};

/// A renewal of k0s's CAs (same keys): no node stops, nothing is re-issued,
/// and pre-shared tokens made with the current certificate keep working
/// until it ends.
fn renewal_procedure(paths: &StagedPaths) -> Procedure {
    let root = |name: &str| paths.data_dir.join(name);
    let controllers = Section::new(text![
        "The keys stay, so nothing issued so far is re-issued and no node has to stop. On \
         every controller, one after the other (back up ",
        paths.live(""),
        " first):"
    ])
    .step(
        Label::Number(1),
        std::iter::once(Line::Text(text![
            "Install the renewed certificates (the .key files stay as they are):"
        ]))
        .chain(renewed_installs(paths)),
    )
    .step(
        Label::Number(2),
        [Line::Text(text![
            "Restart k0s (`systemctl restart k0scontroller`): it rewrites its kubeconfigs \
             from the renewed ca.crt at start."
        ])],
    );
    let workers = Section::new(text![
        "On every worker (and controller with --enable-worker): install the renewed ",
        paths.live("ca.crt"),
        " there too, put it into ",
        root("kubelet.conf"),
        " and restart k0s (`systemctl restart k0sworker`):"
    ])
    .line(embed_renewed(paths, root("kubelet.conf")));
    let tokens = Section::new(text![
        "New pre-shared join tokens: `k0s token pre-shared --cert ",
        staged(paths, KubeadmCa::Cluster, Role::NewCert),
        " ...`; tokens made before embed the current certificate and work until it ends."
    ]);
    Procedure {
        sections: vec![controllers, workers, tokens, renewal_afterwards(paths)],
    }
}

/// k0s's CA rotation (contract section 8) with a prepared set instead of
/// letting one controller make new CAs: the downtime is the time to place
/// them and restart.
fn ca_procedure(paths: &StagedPaths) -> Procedure {
    let root = |name: &str| paths.data_dir.join(name);
    let cluster = |role| staged(paths, KubeadmCa::Cluster, role);
    let main = Section::new(text![
        "k0s rotates CAs only with every node stopped. Instead of deleting them and letting one \
         controller make new ones, place this prepared set (back up ",
        paths.live(""),
        " first):"
    ])
    .step(
        Label::Number(1),
        [Line::Text(text!["Stop k0s on every node (`k0s stop`)."])],
    )
    .step(
        Label::Number(2),
        std::iter::once(Line::Text(text![
            "On every controller, install the same set (k0s renews at start every leaf issued \
             by a CA it knows by its CN, and rewrites its kubeconfigs):"
        ]))
        .chain(
            KubeadmCa::ALL
                .into_iter()
                .flat_map(|ca| installs(paths, ca, &[Role::NewCert, Role::NewKey])),
        ),
    )
    .step(
        Label::Number(3),
        [Line::Text(text![
            "On workers (and controllers with --enable-worker): `rm -rf ",
            root("kubelet.conf"),
            " ",
            root("kubelet/pki"),
            "`."
        ])],
    )
    .step(
        Label::Number(4),
        [Line::Text(text![
            "Start k0s on every controller (`k0s start`)."
        ])],
    )
    .step(
        Label::Number(5),
        [Line::Text(text![
            "Workers rejoin with a token from the new CA: `k0s token create --role worker` on a \
             controller (or `k0s token pre-shared --role worker --cert ",
            cluster(Role::NewCert),
            " --url https://<ip>:6443/`), decoded and gunzipped into ",
            root("kubelet-bootstrap.conf"),
            "; start k0s, then remove that file and invalidate the token."
        ])],
    )
    .step(
        Label::Number(6),
        [Line::Text(text![
            "Kubeconfigs handed out before: certificate-authority-data = ",
            cluster(Role::OldNew),
            " until their users take the new CA, then ",
            cluster(Role::NewCert),
            "."
        ])],
    );
    let not_covered = Section::new(text![
        "Not covered: sa.key and sa.pub (`sa-key-rotate --product k0s`: rotate them before or \
         after, without downtime)."
    ]);
    Procedure {
        sections: vec![main, not_covered],
    }
}

/// kubeadm's slot for `ca` under k0s's CN. k0s sets every CA flag itself, so
/// no flag of a person's to point at a bundle: no bundle readers.
const fn k0s_slot(ca: KubeadmCa, common_name: &'static str) -> CaSlot {
    CaSlot {
        bundle_readers: "",
        ..slot(ca, common_name)
    }
}

/// Which names a k0s leaf carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Names {
    /// None.
    None,
    /// The apiserver's and k0s API's: the kubernetes service names (also with
    /// a trailing dot), localhost, 127.0.0.1, the service IPs, extra names.
    Server,
    /// etcd's: 127.0.0.1, localhost.
    Loopback,
    /// The peer address (not known offline: 127.0.0.1 stands in for it).
    Peer,
}

/// One certificate k0s issues: file base under `pki/`, CA, CN, O, names.
/// Every k0s leaf is serverAuth + clientAuth (cfssl's profile).
type Row = (&'static str, KubeadmCa, &'static str, &'static str, Names);

const MASTERS: &str = "system:masters";

/// k0s's leaves (pkg/certificate/manager.go, cmd/controller/certificates.go).
/// `konnectivity` exists only when konnectivity is enabled; checking it too
/// costs nothing.
const LEAVES: [Row; 11] = [
    (
        "admin",
        KubeadmCa::Cluster,
        "kubernetes-admin",
        MASTERS,
        Names::None,
    ),
    (
        "ccm",
        KubeadmCa::Cluster,
        "system:kube-controller-manager",
        "system:kube-controller-manager",
        Names::None,
    ),
    (
        "scheduler",
        KubeadmCa::Cluster,
        "system:kube-scheduler",
        "system:kube-scheduler",
        Names::None,
    ),
    (
        "konnectivity",
        KubeadmCa::Cluster,
        "kubernetes-konnectivity",
        MASTERS,
        Names::None,
    ),
    (
        "apiserver-kubelet-client",
        KubeadmCa::Cluster,
        "apiserver-kubelet-client",
        MASTERS,
        Names::None,
    ),
    (
        "front-proxy-client",
        KubeadmCa::FrontProxy,
        "front-proxy-client",
        "front-proxy-client",
        Names::None,
    ),
    (
        "server",
        KubeadmCa::Cluster,
        "kubernetes",
        "kubernetes",
        Names::Server,
    ),
    (
        "k0s-api",
        KubeadmCa::Cluster,
        "k0s-api",
        "kubernetes",
        Names::Server,
    ),
    (
        "apiserver-etcd-client",
        KubeadmCa::Etcd,
        "apiserver-etcd-client",
        "",
        Names::Loopback,
    ),
    (
        "etcd/server",
        KubeadmCa::Etcd,
        "etcd-server",
        "etcd-server",
        Names::Loopback,
    ),
    (
        "etcd/peer",
        KubeadmCa::Etcd,
        "127.0.0.1",
        "etcd-peer",
        Names::Peer,
    ),
];

/// Every certificate k0s issues, as pre-flight leaf specs.
pub fn leaves(cluster: &ClusterNames) -> Vec<LeafSpec> {
    let localhost = || San::Dns("localhost".into());
    let loopback = || San::Ip(IpAddr::from([127, 0, 0, 1]));
    LEAVES
        .iter()
        .map(|&(base, ca, common_name, organization, names)| LeafSpec {
            ca: ca.stem().to_string(),
            name: base,
            common_name: common_name.to_string(),
            organizations: [organization]
                .into_iter()
                .filter(|o| !o.is_empty())
                .collect(),
            usages: vec![Usage::ServerAuth, Usage::ClientAuth],
            sans: match names {
                Names::None => Vec::new(),
                Names::Server => {
                    let domain = &cluster.cluster_domain;
                    let mut sans = kubernetes_service_sans(domain);
                    sans.push(San::Dns(format!("kubernetes.default.svc.{domain}.")));
                    sans.extend([localhost(), loopback()]);
                    sans.extend(cluster.service_ips.iter().copied().map(San::Ip));
                    sans.extend(cluster.tls_sans.iter().map(|name| San::parse(name)));
                    sans
                }
                Names::Loopback => vec![loopback(), localhost()],
                Names::Peer => vec![loopback()],
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_serving_certificates_carry_the_service_names_and_etcd_its_loopbacks() {
        let cluster = LAYOUT.cluster_names();
        let leaves = leaves(&cluster);
        let server = leaves.iter().find(|l| l.name == "server").unwrap();
        assert_eq!(server.ca, "ca");
        assert!(server.sans.contains(&San::Ip(IpAddr::from([10, 96, 0, 1]))));
        assert!(
            server
                .sans
                .contains(&San::Dns("kubernetes.default.svc.cluster.local.".into()))
        );
        let etcd = leaves.iter().find(|l| l.name == "etcd/server").unwrap();
        assert_eq!(etcd.ca, "etcd/ca");
        assert_eq!(etcd.organizations, ["etcd-server"]);
        let client = leaves
            .iter()
            .find(|l| l.name == "apiserver-etcd-client")
            .unwrap();
        assert!(client.organizations.is_empty());
    }
}
