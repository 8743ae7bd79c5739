//! kubeadm's rotations by hand, with the staged files: the CAs as the
//! Kubernetes docs rotate them (KUBEADM-K0S-CONTRACT.md section 7) and the etcd
//! CA after them, and the service-account keys in four steps (section 6),
//! which k0s follows too.

use std::path::PathBuf;

use super::KubeadmCa::{self, Cluster, Etcd, FrontProxy};
use super::{SA_KEY, SA_PUB};
use crate::layout::CaSlot;
use crate::layout::procedure::{Label, Line, Procedure, Section, StagedPaths, text};
use crate::layout::rotation::{ManualRotation, Role};

/// kubeadm's rotation by hand. kube-controller-manager's `--client-ca-file`
/// and `--cluster-signing-cert-file` cannot take a bundle, hence the `-new`
/// copies of `ca`.
pub(in crate::layout) static KUBEADM: ManualRotation = ManualRotation {
    new_only: Some(Cluster.stem()),
    purpose: |role, ca| {
        purpose(
            role,
            ca,
            "when the procedure installs it",
            &format!("while both are in use: {}", ca.bundle_readers),
        )
    },
    ca_procedure,
    renewal_procedure,
    sa_procedure: |paths| {
        sa_procedure(
            &SaRollout {
                nodes: "every control-plane node",
                restart_verifiers: "restart kube-apiserver",
                restart_signers: "restart kube-apiserver and kube-controller-manager",
                after_signing_key: &[
                    "Control-plane nodes that join later take the keys kubeadm uploaded: run",
                    "`kubeadm init phase upload-certs --upload-certs` again after this step.",
                ],
            },
            paths,
        )
    },
};

/// The kubeconfigs kubeadm writes beside `pki/` that embed the cluster CA.
const EMBEDDING_KUBECONFIGS: [&str; 5] = [
    "admin.conf",
    "super-admin.conf",
    "controller-manager.conf",
    "scheduler.conf",
    "kubelet.conf",
];

/// Installs of the renewed certificates of every CA; the keys stay.
pub(in crate::layout) fn renewed_installs(paths: &StagedPaths) -> impl Iterator<Item = Line> {
    KubeadmCa::ALL
        .into_iter()
        .flat_map(move |ca| installs(paths, ca, &[Role::NewCert]))
}

/// The command that puts the renewed cluster CA into `kubeconfig`'s cluster
/// entry, whatever that entry is called.
pub(in crate::layout) fn embed_renewed(paths: &StagedPaths, kubeconfig: PathBuf) -> Line {
    Line::Command(text![
        "kubectl config set-cluster \"$(kubectl config view --kubeconfig=",
        kubeconfig.clone(),
        " -o jsonpath='{.clusters[0].name}')\" --kubeconfig=",
        kubeconfig,
        " --embed-certs --certificate-authority=",
        staged(paths, Cluster, Role::NewCert)
    ])
}

/// What pods and users need after a renewal, which is nothing until the
/// current certificates end: then only the renewed ones are valid.
pub(in crate::layout) fn renewal_afterwards(paths: &StagedPaths) -> Section {
    Section::new(text![
        "Pods and users need nothing new: the renewed certificates have the same name and \
         key, so what trusts the current ones accepts everything issued under either. Before \
         the current certificates end: restart pods that read the cluster CA once at start \
         (kube-controller-manager republishes kube-root-ca.crt with the renewed one), and \
         give user kubeconfigs certificate-authority-data = ",
        staged(paths, Cluster, Role::NewCert),
        ". `ca-check expiry` shows the new end dates."
    ])
}

/// A renewal of kubeadm's CAs (same keys): the certificates copied to every
/// node and into the kubeconfigs that embed them, the static pods restarted;
/// nothing re-issued, and joins keep the same discovery hash.
fn renewal_procedure(paths: &StagedPaths, key_pin: Option<&str>) -> Procedure {
    let kubernetes = paths.data_dir.as_path();
    let hash = key_pin.map_or_else(String::new, |pin| {
        format!(" (--discovery-token-ca-cert-hash {pin})")
    });
    let control_plane = Section::new(text![
        "The keys stay, so nothing issued so far is re-issued and the discovery hash is \
         unchanged",
        hash,
        ". On every control-plane node, one after the other (back up ",
        paths.live(""),
        " first):"
    ])
    .step(
        Label::Number(1),
        std::iter::once(Line::Text(text![
            "Install the renewed certificates (ca.key, front-proxy-ca.key and etcd/ca.key \
             stay as they are):"
        ]))
        .chain(renewed_installs(paths)),
    )
    .step(
        Label::Number(2),
        std::iter::once(Line::Text(text![
            "Put the renewed CA into the kubeconfigs that embed it (those that exist):"
        ]))
        .chain(
            EMBEDDING_KUBECONFIGS
                .into_iter()
                .map(|name| embed_renewed(paths, kubernetes.join(name))),
        ),
    )
    .step(
        Label::Number(3),
        [Line::Text(text![
            "Restart etcd, kube-apiserver, kube-controller-manager and kube-scheduler: move \
             their manifests out of ",
            kubernetes.join("manifests"),
            ", wait until `crictl ps` no longer lists them, move them back; then \
             `systemctl restart kubelet`."
        ])],
    );
    let workers = Section::new(text![
        "On every worker node: install the renewed ",
        paths.live("ca.crt"),
        " there too (kubelet's clientCAFile), run the same kubectl command on ",
        kubernetes.join("kubelet.conf"),
        ", then `systemctl restart kubelet`."
    ]);
    let cluster_info = Section::new(text![
        "Once, for later joins: `kubectl -n kube-public edit configmap cluster-info`, \
         certificate-authority-data = the output of `base64 -w0 ",
        staged(paths, Cluster, Role::NewCert),
        "`; kubeadm join checks it against the same hash."
    ]);
    Procedure {
        sections: vec![
            control_plane,
            workers,
            cluster_info,
            renewal_afterwards(paths),
        ],
    }
}

/// One line on what a staged file of `ca` is for; `installed` says when the
/// new CA becomes the live one, `bundle` what the [old, new] bundle is for.
pub(in crate::layout) fn purpose(role: Role, ca: &CaSlot, installed: &str, bundle: &str) -> String {
    match role {
        Role::NewCert => format!("the new CA alone: becomes {}.crt {installed}", ca.stem),
        Role::NewKey => "its key (0600)".into(),
        Role::CrossSigned => "the new CA issued by the old one: servers send it after their \
                              certificate so that clients trusting only the old CA accept them"
            .into(),
        Role::OldNew => format!("trust bundle [old, new] {bundle}"),
        Role::NewOnly => "the new CA alone, for the flags that cannot take a bundle while \
                          ca.crt is still the old one: kube-controller-manager --client-ca-file \
                          and --cluster-signing-cert-file"
            .into(),
        Role::NewOnlyKey => {
            "its key, for kube-controller-manager --cluster-signing-key-file (0600)".into()
        }
    }
}

/// The staged file of `role` for `ca`.
pub(in crate::layout) fn staged(paths: &StagedPaths, ca: KubeadmCa, role: Role) -> PathBuf {
    paths.staged(&role.file_name(ca.stem()))
}

/// Where that file goes under the live `pki/`.
fn live(paths: &StagedPaths, ca: KubeadmCa, role: Role) -> PathBuf {
    paths.live(&role.file_name(ca.stem()))
}

/// `install` lines placing `roles` of `ca` into the live `pki/`.
pub(in crate::layout) fn installs(
    paths: &StagedPaths,
    ca: KubeadmCa,
    roles: &[Role],
) -> impl Iterator<Item = Line> {
    roles
        .iter()
        .map(move |role| paths.install(&role.file_name(ca.stem()), role.is_secret()))
}

/// Contract section 7 (the Kubernetes docs' manual rotation of CA
/// certificates), step by step with the staged files; the etcd CA, which the
/// docs leave out, after it.
fn ca_procedure(paths: &StagedPaths, join_hashes: Option<&(String, String)>) -> Procedure {
    let live = |ca, role| live(paths, ca, role);
    let staged = |ca, role| staged(paths, ca, role);
    let transition = [Role::OldNew, Role::CrossSigned];
    // kubeadm keeps its static pod manifests and kubeconfigs beside pki/.
    let kubernetes = paths.data_dir.as_path();
    let mut main = Section::new(text![
        "kubeadm has no CA rotation. The manual one (Kubernetes docs, \"Manual Rotation of CA \
         Certificates\"), with these files; back up ",
        paths.live(""),
        " first, and do each step on every control-plane node before the next:"
    ])
    .step(
        Label::Number(1),
        std::iter::once(Line::Text(text![
            "Place the transition files; ca.crt, ca.key and front-proxy-ca.* stay the old CAs \
             for now:"
        ]))
        .chain(installs(
            paths,
            Cluster,
            &[
                Role::OldNew,
                Role::CrossSigned,
                Role::NewOnly,
                Role::NewOnlyKey,
            ],
        ))
        .chain(installs(paths, FrontProxy, &transition)),
    )
    .step(
        Label::Number(2),
        [Line::Text(text![
            "kube-controller-manager (",
            kubernetes,
            "/manifests/kube-controller-manager.yaml): --root-ca-file=",
            live(Cluster, Role::OldNew),
            ", --client-ca-file=",
            live(Cluster, Role::NewOnly),
            " and --cluster-signing-cert-file=",
            live(Cluster, Role::NewOnly),
            " (no bundles there), --cluster-signing-key-file=",
            live(Cluster, Role::NewOnlyKey),
            ", --requestheader-client-ca-file=",
            live(FrontProxy, Role::OldNew),
            "."
        ])],
    )
    .step(
        Label::Number(3),
        [Line::Text(text![
            "Wait until the ca.crt of ServiceAccount token Secrets and the kube-root-ca.crt \
             ConfigMaps hold both CAs (kube-controller-manager publishes --root-ca-file)."
        ])],
    )
    .step(
        Label::Number(4),
        [Line::Text(text![
            "Restart the pods that use in-cluster config (kube-proxy, CoreDNS, ...)."
        ])],
    )
    .step(
        Label::Number(5),
        [Line::Text(text![
            "kube-apiserver (",
            kubernetes,
            "/manifests/kube-apiserver.yaml): --client-ca-file=",
            live(Cluster, Role::OldNew),
            " (and --kubelet-certificate-authority if set), --requestheader-client-ca-file=",
            live(FrontProxy, Role::OldNew),
            "."
        ])],
    )
    .step(
        Label::Number(6),
        [Line::Text(text![
            "kube-scheduler (",
            kubernetes,
            "/manifests/kube-scheduler.yaml): --client-ca-file=",
            live(Cluster, Role::OldNew),
            ", --requestheader-client-ca-file=",
            live(FrontProxy, Role::OldNew),
            "."
        ])],
    )
    .step(
        Label::Number(7),
        [Line::Text(text![
            "User kubeconfigs: certificate-authority-data = the bundle, e.g. \
             `kubectl config set-cluster kubernetes --embed-certs --certificate-authority=",
            staged(Cluster, Role::OldNew),
            "`; reissue their client certificates from the new CA."
        ])],
    )
    .step(
        Label::Number(8),
        std::iter::once(Line::Text(text![
            "One node at a time: kubelet clientCAFile (/var/lib/kubelet/config.yaml) = ",
            live(Cluster, Role::OldNew),
            " and the certificate-authority-data of every kubeconfig in ",
            kubernetes,
            " = the bundle; install the new CAs,"
        ]))
        .chain(installs(paths, Cluster, &[Role::NewCert, Role::NewKey]))
        .chain(installs(paths, FrontProxy, &[Role::NewCert, Role::NewKey]))
        .chain([
            Line::Text(text![
                "re-sign with them: `kubeadm certs renew apiserver apiserver-kubelet-client \
                 front-proxy-client admin.conf super-admin.conf controller-manager.conf \
                 scheduler.conf`,"
            ]),
            Line::Text(text![
                "send the cross-signed CA after the apiserver certificate for clients that \
                 still trust only the old CA: `cat ",
                live(Cluster, Role::CrossSigned),
                " >> ",
                paths.live("apiserver.crt"),
                "`,"
            ]),
            Line::Text(text![
                "restart kube-apiserver, kube-controller-manager, kube-scheduler and the \
                 kubelet, then aggregated API servers and webhooks; annotate Deployments and \
                 DaemonSets to roll them. Run `kubeadm init phase upload-certs --upload-certs` \
                 again for later control-plane joins."
            ]),
        ]),
    );
    let cluster_info = Line::Text(text![
        "cluster-info: `kubectl -n kube-public edit configmap cluster-info`, \
         certificate-authority-data = the bundle ",
        staged(Cluster, Role::OldNew),
        "; joins then pass with either hash:"
    ]);
    main = match join_hashes {
        None => main.step(Label::Number(9), [cluster_info]),
        Some((old, new)) => main
            .step(
                Label::Number(9),
                [
                    cluster_info,
                    Line::Command(text![format!(
                        "kubeadm join <endpoint>:6443 --token <token> \
                         --discovery-token-ca-cert-hash {old} --discovery-token-ca-cert-hash {new}"
                    )]),
                ],
            )
            .step(
                Label::Number(10),
                [Line::Text(text![
                    "Check that no component logs TLS errors."
                ])],
            )
            .step(
                Label::Number(11),
                [Line::Text(text![
                    "Finally drop the old CAs: point every flag back at kubeadm's files (",
                    live(Cluster, Role::NewCert),
                    ", ",
                    live(Cluster, Role::NewKey),
                    ", ",
                    live(FrontProxy, Role::NewCert),
                    ": now the new CAs alone), set kubeconfigs and cluster-info to ",
                    staged(Cluster, Role::NewCert),
                    ", remove the transition files from ",
                    paths.live(""),
                    format!(
                        " and the cross-signed CA from apiserver.crt; joins then use \
                         --discovery-token-ca-cert-hash {new}."
                    )
                ])],
            ),
    };
    let etcd = Section::new(text![
        "The docs leave out the etcd CA (stacked etcd). With the staged etcd/ca set, one etcd \
         member at a time:"
    ])
    .step(
        Label::Mark("E1"),
        std::iter::once(Line::Text(text![
            "Trust both: place the bundle and the cross-signed CA,"
        ]))
        .chain(installs(paths, Etcd, &transition))
        .chain([Line::Text(text![
            "set etcd --trusted-ca-file and --peer-trusted-ca-file (",
            kubernetes,
            "/manifests/etcd.yaml) and kube-apiserver --etcd-cafile to ",
            live(Etcd, Role::OldNew),
            "; restart etcd and kube-apiserver."
        ])]),
    )
    .step(
        Label::Mark("E2"),
        std::iter::once(Line::Text(text![
            "Once every member trusts both: install the new etcd CA,"
        ]))
        .chain(installs(paths, Etcd, &[Role::NewCert, Role::NewKey]))
        .chain([Line::Text(text![
            "`kubeadm certs renew etcd-server etcd-peer etcd-healthcheck-client \
             apiserver-etcd-client`, append ",
            live(Etcd, Role::CrossSigned),
            " to ",
            paths.live("etcd/server.crt"),
            " and ",
            paths.live("etcd/peer.crt"),
            " (members still trusting only the old CA accept them), restart etcd and \
             kube-apiserver."
        ])]),
    )
    .step(
        Label::Mark("E3"),
        [Line::Text(text![
            "Once every member runs the new certificates: flags back to ",
            live(Etcd, Role::NewCert),
            ", remove the transition files and the cross-signed CA."
        ])],
    );
    let not_covered = Section::new(text![
        "Not covered: sa.key and sa.pub (`sa-key-rotate --product kubeadm`), an external etcd, \
         kubelet serving certificates signed by the cluster CA (approve new CSRs)."
    ]);
    Procedure {
        sections: vec![main, etcd, not_covered],
    }
}

/// Who takes part in a service-account key rotation and what they restart.
pub(in crate::layout) struct SaRollout {
    /// Where each step is done (`every control-plane node`).
    pub(in crate::layout) nodes: &'static str,
    /// What reloads the verify keys (`sa.pub`).
    pub(in crate::layout) restart_verifiers: &'static str,
    /// What reloads the signing key (`sa.key`).
    pub(in crate::layout) restart_signers: &'static str,
    /// Lines to add once the signing key is in place.
    pub(in crate::layout) after_signing_key: &'static [&'static str],
}

/// The four steps of a service-account key rotation that never breaks a token
/// (contract section 6, kubernetes/kubernetes#34029): verify set first, then
/// the signing key, wait, then drop the old keys.
pub(in crate::layout) fn sa_procedure(rollout: &SaRollout, paths: &StagedPaths) -> Procedure {
    let SaRollout {
        nodes,
        restart_verifiers,
        restart_signers,
        after_signing_key,
    } = rollout;
    let steps = Section::new(text![format!(
        "Rotate in four steps, each on {nodes} before the next (sa.key and sa.pub stay \
         identical on all):"
    )])
    .step(
        Label::Number(1),
        [
            Line::Text(text![
                "Verify set first: the new public key joins the keys that verify tokens; tokens are"
            ]),
            Line::Text(text!["still signed with the current sa.key."]),
            paths.install(SA_PUB, false),
            Line::Text(text![format!("then {restart_verifiers}.")]),
        ],
    )
    .step(
        Label::Number(2),
        [
            Line::Text(text![
                "Then the signing key, once every node has the new sa.pub:"
            ]),
            paths.install(SA_KEY, true),
            Line::Text(text![format!("then {restart_signers}.")]),
        ]
        .into_iter()
        .chain(
            after_signing_key
                .iter()
                .map(|line| Line::Text(text![*line])),
        ),
    )
    .step(
        Label::Number(3),
        [
            Line::Text(text![
                "Wait until tokens signed with the old key are gone: projected tokens are refreshed"
            ]),
            Line::Text(text![
                "within their lifetime (an hour by default, at most \
                 --service-account-max-token-expiration);"
            ]),
            Line::Text(text![
                "legacy Secret-based tokens must be re-issued or deleted."
            ]),
        ],
    )
    .step(
        Label::Number(4),
        [
            Line::Text(text![
                "Then drop the old keys: sa.pub keeps only the signing key's public key,"
            ]),
            Line::Command(text![
                "openssl pkey -in ",
                paths.live(SA_KEY),
                " -pubout -out ",
                paths.live(SA_PUB)
            ]),
            Line::Text(text![format!("then {restart_verifiers}.")]),
        ],
    );
    Procedure {
        sections: vec![steps],
    }
}
