//! The flags several tools share, defined once: their names, types and help.
//!
//! argh has no way to embed one flag struct in another, and takes help text
//! only as literal doc comments, so the shared flags are added by a macro
//! around each tool's own `Args` struct: [`tool_args!`](crate::tool_args).
//! Each group also gives the struct a method that turns its flags into the
//! library's typed value.

/// Declares a tool's argh `Args` struct with shared flag groups added before
/// its own flags:
/// - `data_dir`: `--data-dir` and `--product`, and `fn data_dir(&self)`
///   resolving them with `DATA_DIR` and `PRODUCT` ([`DataDir::from_env`]);
/// - `cluster_names`: `--tls-san`, `--cluster-domain`, `--service-cidr`,
///   `--node-name`, `--node-ip` (what pre-flight issues for), and
///   `fn cluster_flags(&mut self)` taking them as [`ClusterFlags`];
/// - `record`: `--record FILE` and `--note TEXT`, and
///   `fn record_request(&self, tool)` making them a [`RecordRequest`];
/// - `pkcs11`: `--pkcs11-module` and `--pin-file`, how a key given as a
///   `pkcs11:` URI is reached.
///
/// ```ignore
/// shared::tool_args! {
///     groups(data_dir);
///     /// what the tool does
///     #[derive(argh::FromArgs, Debug)]
///     pub struct Args {
///         /// its own flag
///         #[argh(switch)]
///         pub force: bool,
///     }
/// }
/// ```
///
/// [`DataDir::from_env`]: crate::layout::DataDir::from_env
/// [`ClusterFlags`]: crate::layout::ClusterFlags
/// [`RecordRequest`]: crate::store::record::RecordRequest
#[macro_export]
macro_rules! tool_args {
    (
        groups($($group:ident),* $(,)?);
        $(#[$($meta:tt)*])*
        $vis:vis struct $name:ident { $($body:tt)* }
    ) => {
        $crate::tool_args!(@fields [$($group)*] []
            $(#[$($meta)*])* $vis struct $name { $($body)* });
        $($crate::tool_args!(@methods $group $vis $name);)*
    };

    (@fields [data_dir $($rest:ident)*] [$($fields:tt)*] $($tail:tt)*) => {
        $crate::tool_args!(@fields [$($rest)*] [$($fields)*
            /// data directory (default: $DATA_DIR, else the product's:
            /// /var/lib/rancher/$PRODUCT, /etc/kubernetes, /var/lib/k0s)
            #[argh(option)]
            pub data_dir: ::std::option::Option<::std::path::PathBuf>,

            /// product: k3s, rke2, kubeadm or k0s (default: $PRODUCT, else k3s)
            #[argh(option)]
            pub product: ::std::option::Option<::std::string::String>,
        ] $($tail)*);
    };
    (@fields [cluster_names $($rest:ident)*] [$($fields:tt)*] $($tail:tt)*) => {
        $crate::tool_args!(@fields [$($rest)*] [$($fields)*
            /// an extra name the cluster is reached by, as given to k3s --tls-san
            /// (kubeadm: apiServer.certSANs, k0s: spec.api.sans; repeatable);
            /// pre-flight checks it against name constraints
            #[argh(option)]
            pub tls_san: ::std::vec::Vec<::std::string::String>,

            /// the cluster domain, as given to k3s --cluster-domain (kubeadm:
            /// networking.dnsDomain, k0s: spec.network.clusterDomain; default
            /// cluster.local)
            #[argh(option)]
            pub cluster_domain: ::std::option::Option<::std::string::String>,

            /// the service CIDR(s), as given to k3s --service-cidr (kubeadm:
            /// networking.serviceSubnet, k0s: spec.network.serviceCIDR; default
            /// 10.43.0.0/16, kubeadm and k0s 10.96.0.0/12)
            #[argh(option)]
            pub service_cidr: ::std::option::Option<::std::string::String>,

            /// a node's name, as given to k3s --node-name (repeatable, k3s and
            /// RKE2): pre-flight checks it in the serving, etcd and kubelet
            /// serving certificates
            #[argh(option)]
            pub node_name: ::std::vec::Vec<::std::string::String>,

            /// a node's address, as given to k3s --node-ip (repeatable, k3s and
            /// RKE2): checked as --node-name is
            #[argh(option)]
            pub node_ip: ::std::vec::Vec<::std::net::IpAddr>,
        ] $($tail)*);
    };
    (@fields [record $($rest:ident)*] [$($fields:tt)*] $($tail:tt)*) => {
        $crate::tool_args!(@fields [$($rest)*] [$($fields)*
            /// write a ceremony record of the run to FILE (JSON: tool, version,
            /// time, host, note, inputs' SHA-256, every file's mode and
            /// SHA-256, each certificate's serial, validity and fingerprints;
            /// never key material), its text form to sign in FILE.txt and
            /// sha256sum -c lines in FILE.SHA256SUMS; verify the carried tree
            /// with ca-check record FILE
            #[argh(option, arg_name = "FILE")]
            pub record: ::std::option::Option<::std::path::PathBuf>,

            /// a note for the ceremony record (who, why, the change ticket)
            #[argh(option, arg_name = "TEXT")]
            pub note: ::std::option::Option<::std::string::String>,
        ] $($tail)*);
    };
    (@fields [pkcs11 $($rest:ident)*] [$($fields:tt)*] $($tail:tt)*) => {
        $crate::tool_args!(@fields [$($rest)*] [$($fields)*
            /// the PKCS#11 module (shared library) reaching a key given as a
            /// pkcs11: URI (default: the URI's module-path, else $PKCS11_MODULE)
            #[argh(option)]
            pub pkcs11_module: ::std::option::Option<::std::path::PathBuf>,

            /// file whose first line is the token's user PIN (default: the URI's
            /// pin-source, else asked when stdin is a terminal)
            #[argh(option)]
            pub pin_file: ::std::option::Option<::std::path::PathBuf>,
        ] $($tail)*);
    };
    (@fields [] [$($fields:tt)*]
        $(#[$($meta:tt)*])*
        $vis:vis struct $name:ident { $($body:tt)* }
    ) => {
        $(#[$($meta)*])*
        $vis struct $name {
            $($fields)*
            $($body)*
        }
    };

    (@methods data_dir $vis:vis $name:ident) => {
        impl $name {
            /// `--data-dir` and `--product`, with `DATA_DIR` and `PRODUCT`
            /// where they are not given.
            $vis fn data_dir(&self) -> $crate::pki::error::Result<$crate::layout::DataDir> {
                $crate::layout::DataDir::from_env(self.data_dir.clone(), self.product.clone())
            }
        }
    };
    (@methods pkcs11 $vis:vis $name:ident) => {};
    (@methods record $vis:vis $name:ident) => {
        impl $name {
            /// `--record` and `--note` as a request for `tool`'s record;
            /// `--note` alone is refused (it would go nowhere).
            $vis fn record_request(
                &self,
                tool: &str,
            ) -> $crate::pki::error::Result<::std::option::Option<$crate::store::record::RecordRequest>> {
                match (&self.record, &self.note) {
                    (::std::option::Option::Some(path), note) => {
                        $crate::store::record::RecordRequest::new(
                            path.clone(),
                            note.clone(),
                            tool,
                            $crate::cli::VERSION,
                            $crate::cli::COMMIT,
                        )
                        .map(::std::option::Option::Some)
                    }
                    (::std::option::Option::None, ::std::option::Option::Some(_)) => {
                        ::std::result::Result::Err($crate::pki::error::Error::usage(
                            "--note goes into a ceremony record: give --record FILE too",
                        ))
                    }
                    (::std::option::Option::None, ::std::option::Option::None) => {
                        ::std::result::Result::Ok(::std::option::Option::None)
                    }
                }
            }
        }
    };
    (@methods cluster_names $vis:vis $name:ident) => {
        impl $name {
            /// The cluster-name flags, taken out of the arguments.
            $vis fn cluster_flags(&mut self) -> $crate::layout::ClusterFlags {
                $crate::layout::ClusterFlags {
                    tls_sans: ::std::mem::take(&mut self.tls_san),
                    cluster_domain: self.cluster_domain.take(),
                    service_cidr: self.service_cidr.take(),
                    node_names: ::std::mem::take(&mut self.node_name),
                    node_ips: ::std::mem::take(&mut self.node_ip),
                }
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use argh::FromArgs;

    crate::tool_args! {
        groups(data_dir, cluster_names);
        /// a tool with both groups
        #[derive(FromArgs, Debug)]
        #[argh(help_triggers("-h", "--help"))]
        pub struct Both {
            /// its own switch
            #[argh(switch)]
            pub force: bool,
        }
    }

    crate::tool_args! {
        groups(record);
        /// a writing tool
        #[derive(FromArgs, Debug)]
        #[argh(help_triggers("-h", "--help"))]
        pub struct Writes {}
    }

    #[test]
    fn record_flags_make_a_request_and_a_note_alone_is_refused() {
        let args = Writes::from_args(&["tool"], &["--record", "/m/c.json", "--note", "n"]).unwrap();
        let request = args.record_request("tool").unwrap().unwrap();
        assert_eq!(request.tool, "tool");
        assert_eq!(request.version, crate::cli::VERSION);
        assert_eq!(request.note.as_deref(), Some("n"));
        assert_eq!(request.files()[2], std::path::Path::new("/m/c.SHA256SUMS"));
        let args = Writes::from_args(&["tool"], &[]).unwrap();
        assert!(args.record_request("tool").unwrap().is_none());
        let args = Writes::from_args(&["tool"], &["--note", "n"]).unwrap();
        let error = args.record_request("tool").unwrap_err().to_string();
        assert!(error.contains("give --record FILE too"), "{error}");
    }

    #[test]
    fn the_groups_add_their_flags_and_methods() {
        let mut args = Both::from_args(
            &["tool"],
            &[
                "--data-dir",
                "/d",
                "--product",
                "kubeadm",
                "--tls-san",
                "a.example",
                "--node-ip",
                "192.0.2.1",
                "--force",
            ],
        )
        .unwrap();
        assert!(args.force);
        let data_dir = args.data_dir().unwrap();
        assert_eq!(data_dir.root, std::path::Path::new("/d"));
        assert_eq!(data_dir.product.name(), "kubeadm");
        let cluster = args.cluster_flags();
        assert_eq!(cluster.tls_sans, ["a.example"]);
        assert_eq!(cluster.node_ips, [std::net::IpAddr::from([192, 0, 2, 1])]);
        let help = Both::from_args(&["tool"], &["--help"]).unwrap_err().output;
        for flag in [
            "--data-dir",
            "--product",
            "--tls-san",
            "--cluster-domain",
            "--service-cidr",
            "--node-name",
            "--node-ip",
            "--force",
        ] {
            assert!(help.contains(flag), "{flag} missing from:\n{help}");
        }
    }
}
