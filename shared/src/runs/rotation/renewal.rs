//! Renewing a layout's CAs with their keys kept: per CA a certificate with the
//! same subject, key and extensions and a later end ([`crate::pki::renew`]),
//! staged the way the layout takes CA files. Nothing issued under the current
//! certificates needs re-issuing, nobody needs new trust, and a join pin of
//! the key (kubeadm's discovery hash) stays as it is.
//!
//! - k3s and RKE2 (`rotate-ca`): in two stages ([`RenewalStage`]): first each
//!   bundle `[current, renewed, ...]`, then, once that is live,
//!   `[renewed, current, ...]`; in one, for `--force`, when a current
//!   certificate has already expired. Keys are not staged (rotate-ca keeps
//!   the current ones).
//! - kubeadm and k0s: each renewed certificate alone as `<staging>/pki/X.crt`,
//!   and the procedure that installs it.
//!
//! A CA is renewed by the key of its issuer: its own when self-signed, else
//! the issuer's, from the CA's key file (a rotated k3s CA: the root's key
//! follows the intermediate's) or `--issuer-key`. A renewal never ends after
//! its issuer; when the issuer is itself a root in the CA's bundle whose key
//! is held, it is renewed too. What would not keep trust (a key that does not
//! match, a CA signed by a key not given, an issuer that ends first) is
//! refused before anything is written.

use std::cell::{OnceCell, RefCell};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::rotate_ca::TokenUpdate;
use super::{check_clock, read_ca_pair};
use crate::layout::k3s::token::k3s_ca_hash_of;
use crate::layout::procedure::{Procedure, StagedPaths};
use crate::layout::rotation::RenewalStage;
use crate::layout::{CaSlot, DataDir, Layout, custom_tree};
use crate::pki::cert::{Certificate, bundle_pem, format_time, read_bundle};
use crate::pki::error::{Error, Kind, Result};
use crate::pki::issue::{Issuer, days_after, run_timestamp};
use crate::pki::keys::pkcs11::Tokens;
use crate::pki::keys::{Passphrases, SigningKey, check_ca_key_size};
use crate::pki::renew::{prohibited_key_encipherment, renew, same_ca};
use crate::pki::verify::check_issued_by;
use crate::runs::sign_csr::open_key;
use crate::store::plan::{Outcome, Plan};
use crate::store::record::RecordRequest;
use crate::store::staging;

/// A renewal's default lifetime: ten years, what the distributions give
/// their CAs.
pub const RENEWAL_DAYS: u32 = 3650;

/// What `rotate-default-ca --renew` was asked for, its flags typed.
pub struct RenewalRequest {
    /// Where the current CAs are and the product.
    pub data_dir: DataDir,
    /// The staging directory; `None` or empty: the layout's default.
    pub staging_dir: Option<PathBuf>,
    /// How long the renewed certificates are valid from now (capped by
    /// their issuers).
    pub days: u32,
    /// The key of the CA that issued the cluster's CAs, when it is not in
    /// their key files (a custom tree's intermediate): a file or a
    /// `pkcs11:` URI.
    pub issuer_key: Option<PathBuf>,
    /// Passphrases of an encrypted `issuer_key`.
    pub passphrases: Passphrases,
    /// How a `pkcs11:` `issuer_key` is reached.
    pub tokens: Tokens,
    /// Replace a non-empty staging directory.
    pub force: bool,
    /// A ceremony record to write with the staged files.
    pub record: Option<RecordRequest>,
    /// Work out what would be written, write nothing.
    pub dry_run: bool,
}

/// A planned renewal and what to tell the user.
pub struct RenewalRun {
    /// Every staged file.
    pub plan: Plan,
    /// The layout renewed.
    pub layout: &'static Layout,
    /// Where the staged files are and where they go.
    pub paths: StagedPaths,
    /// Each CA, in the layout's order.
    pub renewed: Vec<RenewedCa>,
    /// For `rotate-ca`: which stage this staging is.
    pub stage: Option<RenewalStage>,
    /// For `rotate-ca`: k3s's join-token CA hash of the staged `server-ca.crt`.
    pub ca_hash: Option<String>,
    /// For `rotate-ca`: the token files, with the new hash in place.
    pub tokens: Vec<TokenUpdate>,
    /// The join CA's key pin (kubeadm's discovery hash), the same before and after.
    pub key_pin: Option<String>,
    /// What the user should know (renewals capped by their issuer).
    pub notes: Vec<String>,
    /// The steps that take it into the cluster.
    pub procedure: Procedure,
}

/// One CA and its renewal.
pub struct RenewedCa {
    /// Which CA.
    pub ca: &'static CaSlot,
    /// The certificate it signs with now.
    pub current: Certificate,
    /// Its renewal.
    pub renewed: Certificate,
    /// The CA that signed the renewal; `None` when self-signed.
    pub issuer: Option<String>,
    /// Issuers renewed with it (a rotated CA's root).
    pub issuers_renewed: Vec<Certificate>,
    /// What was done with it in this stage.
    pub state: RenewalState,
}

/// What a run did with one CA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RenewalState {
    /// Renewed now and staged.
    Renewed,
    /// Renewed by an earlier run and already live after the current one:
    /// staged first (stage 2 of `rotate-ca`).
    MovedFirst,
    /// Renewed by an earlier run and already live, while other CAs are not
    /// yet: left out of this staging (rotate-ca keeps the live file).
    AlreadyAdded,
    /// Ends no earlier than a renewal would: left as it is, not staged.
    Kept,
}

/// Runs `request` from start to end under the staging dir's lock, and hands
/// the run and what was written to `report`.
pub fn renew_cas(
    tool: &str,
    request: RenewalRequest,
    report: impl FnOnce(&RenewalRun, &Outcome<'_>) -> Result<()>,
) -> Result<()> {
    if request.days == 0 {
        return Err(Error::usage("--days 0: a renewal must last at least a day"));
    }
    let data_dir = &request.data_dir;
    data_dir.must_have_cert_dir()?;
    let now = crate::pki::clock::now()?;
    let staging_dir = crate::runs::staging_dir(
        data_dir,
        request.staging_dir.clone(),
        data_dir.ca_staging_dir(),
    )?;
    crate::runs::locked(tool, data_dir, &staging_dir, request.dry_run, |lock| {
        let mut run = plan_renewal(&request, &staging_dir, now)?;
        run.plan.record_to(request.record.clone());
        let outcome = run.plan.write(lock, request.dry_run)?;
        report(&run, &outcome)
    })
}

/// Reads and checks the current CAs and plans their renewal at `now` into
/// `staging_dir`; writes nothing.
pub fn plan_renewal(
    request: &RenewalRequest,
    staging_dir: &Path,
    now: SystemTime,
) -> Result<RenewalRun> {
    let layout = request.data_dir.layout();
    let live_dir = request.data_dir.tls_dir();
    let paths = StagedPaths {
        data_dir: request.data_dir.root.clone(),
        staging_dir: staging_dir.to_path_buf(),
        staged_dir: staging::cert_dir(staging_dir, &live_dir)?,
        live_dir,
    };
    if !request.force && staging::is_non_empty_dir(staging_dir) {
        return Err(Error::at(staging_dir, Kind::StagingExists));
    }
    let issuer_key = request
        .issuer_key
        .as_deref()
        .map(|path| open_key(path, &request.passphrases, &request.tokens).and_then(HeldKey::new))
        .transpose()?;
    let current = layout
        .cas
        .iter()
        .map(|ca| CurrentCa::read(layout, &paths, ca))
        .collect::<Result<Vec<_>>>()?;
    check_clock(
        now,
        current
            .iter()
            .map(|c| (layout.cert_file(c.ca), &c.bundle[0])),
    )?;
    let (_, not_before) = run_timestamp(now);
    let wanted_end = days_after(not_before, request.days);
    // A CA that would gain less than a day is kept as it is.
    let needs = |c: &CurrentCa| {
        c.pending().is_some() || days_after(c.bundle[0].not_after(), 1) < wanted_end
    };
    if !current.iter().any(needs) {
        return Err(Error::new(Kind::Inputs(format!(
            "every CA already ends on or after {} (--days {}): nothing to renew",
            format_time(wanted_end),
            request.days
        ))));
    }
    let stage = layout.rotates_with_rotate_ca().then(|| {
        let due: Vec<&CurrentCa> = current.iter().filter(|c| needs(c)).collect();
        if due.iter().all(|c| c.pending().is_some()) {
            RenewalStage::RenewedFirst
        } else if due.iter().any(|c| c.bundle[0].not_after() <= now) {
            RenewalStage::Expired
        } else {
            RenewalStage::AddRenewed
        }
    });

    let renewer = Renewer {
        given: issuer_key,
        tree_keys: [
            (custom_tree::INTERMEDIATE_PEM, custom_tree::INTERMEDIATE_KEY),
            (custom_tree::ROOT_PEM, custom_tree::ROOT_KEY),
        ]
        .into_iter()
        .filter_map(|(pem, key)| TreeKey::find(&paths.live_dir, pem, key))
        .collect(),
        passphrases: &request.passphrases,
        tokens: &request.tokens,
        not_before,
        issuers: RefCell::new(Vec::new()),
    };
    let mut plan = Plan::new();
    plan.forbid_under(paths.live_dir.clone());
    if request.record.is_some() {
        for ca in &current {
            for (name, role) in [
                (layout.cert_file(ca.ca), "a current CA certificate"),
                (
                    layout.key_file(ca.ca),
                    "a current CA key (it signs its renewal)",
                ),
            ] {
                plan.uses(paths.live(&name), role);
            }
        }
        if let Some(path) = request.issuer_key.as_ref().filter(|p| p.is_file()) {
            plan.uses(path.clone(), "the issuing CA's key (--issuer-key)");
        }
    }
    let mut notes = Vec::new();
    let mut renewed = Vec::new();
    for ca in &current {
        let cert_file = layout.cert_file(ca.ca);
        if !needs(ca) {
            renewed.push(RenewedCa {
                ca: ca.ca,
                current: ca.bundle[0].clone(),
                renewed: ca.bundle[0].clone(),
                issuer: None,
                issuers_renewed: Vec::new(),
                state: RenewalState::Kept,
            });
            continue;
        }
        if let (Some(stage), Some(pending)) = (stage, ca.pending()) {
            let state = match stage {
                RenewalStage::RenewedFirst | RenewalStage::Expired => {
                    let rest = ca.bundle.iter().filter(|c| !std::ptr::eq(*c, pending));
                    plan.add_public(
                        paths.staged(&cert_file),
                        bundle_pem(std::iter::once(pending).chain(rest)),
                    );
                    RenewalState::MovedFirst
                }
                RenewalStage::AddRenewed => RenewalState::AlreadyAdded,
            };
            renewed.push(RenewedCa {
                ca: ca.ca,
                current: ca.bundle[0].clone(),
                renewed: pending.clone(),
                issuer: None,
                issuers_renewed: Vec::new(),
                state,
            });
            continue;
        }
        let chain = Chain {
            ca,
            file: paths.live(&cert_file),
        };
        let outcome = renewer.renew(&chain, 0, wanted_end, &mut notes)?;
        let [renewal, issuers_renewed @ ..] = outcome.certs.as_slice() else {
            return Err(Error::bug("a renewal returned no certificate"));
        };
        match stage {
            Some(RenewalStage::AddRenewed | RenewalStage::RenewedFirst) => plan.add_public(
                paths.staged(&cert_file),
                bundle_pem(
                    std::iter::once(&ca.bundle[0])
                        .chain(&outcome.certs)
                        .chain(&ca.bundle[1..]),
                ),
            ),
            Some(RenewalStage::Expired) => plan.add_public(
                paths.staged(&cert_file),
                bundle_pem(outcome.certs.iter().chain(&ca.bundle)),
            ),
            None => plan.add_public(paths.staged(&cert_file), renewal.to_pem()),
        }
        renewed.push(RenewedCa {
            ca: ca.ca,
            current: ca.bundle[0].clone(),
            renewed: renewal.clone(),
            issuer: outcome.issuer,
            issuers_renewed: issuers_renewed.to_vec(),
            state: RenewalState::Renewed,
        });
    }

    if renewed
        .iter()
        .any(|r| r.state == RenewalState::Renewed && prohibited_key_encipherment(&r.current))
    {
        notes.push(
            "keyEncipherment is dropped from the keyUsage of EC CA keys, which RFC 5480 \
             prohibits (Go's CA template writes it); no client reads it on a CA"
                .to_string(),
        );
    }
    let (ca_hash, tokens) = match stage {
        Some(_) => {
            let server_ca = paths.staged(&format!("{}.crt", layout.join_ca));
            let hash = match plan.planned_pem(&server_ca) {
                Ok(file) => k3s_ca_hash_of(&file, now)?,
                // Left out (already added): the live file stays.
                Err(_) => k3s_ca_hash_of(
                    &crate::pki::pem::PemFile::read(
                        &paths.live(&format!("{}.crt", layout.join_ca)),
                    )?,
                    now,
                )?,
            };
            let tokens = request
                .data_dir
                .token_files()
                .into_iter()
                .map(|path| TokenUpdate::for_file(path, &hash))
                .collect();
            (Some(hash), tokens)
        }
        None => (None, Vec::new()),
    };
    let key_pin = match renewed.iter().find(|r| r.ca.stem == layout.join_ca) {
        Some(join) => layout.join.key_pin(&join.current)?,
        None => None,
    };
    let procedure = layout.ca_renewal_procedure(
        &paths,
        stage.unwrap_or(RenewalStage::AddRenewed),
        key_pin.as_deref(),
    );
    Ok(RenewalRun {
        plan,
        layout,
        paths,
        renewed,
        stage,
        ca_hash,
        tokens,
        key_pin,
        notes,
        procedure,
    })
}

/// A key that may sign a renewal, with its public key to find it by.
struct HeldKey {
    key: Box<dyn SigningKey>,
    public: Vec<u8>,
}

impl HeldKey {
    fn new(key: Box<dyn SigningKey>) -> Result<Self> {
        let public = key.public_key_der()?;
        Ok(HeldKey { key, public })
    }

    fn is_of(&self, cert: &Certificate) -> bool {
        der::Encode::to_der(cert.public_key()).is_ok_and(|der| der == self.public)
    }
}

/// A CA as it is live: its file's certificates, the chain file's (kubeadm,
/// k0s), and the keys of its key file.
struct CurrentCa {
    ca: &'static CaSlot,
    /// The CA file's certificates; the first signs.
    bundle: Vec<Certificate>,
    /// The layout's chain file above a single-certificate CA file, if any.
    chain: Vec<Certificate>,
    /// The keys of the CA's key file, the first the first certificate's.
    keys: Vec<HeldKey>,
}

impl CurrentCa {
    fn read(layout: &Layout, paths: &StagedPaths, ca: &'static CaSlot) -> Result<Self> {
        let cert_path = paths.live(&layout.cert_file(ca));
        let (bundle, keys) = read_ca_pair(&cert_path, &paths.live(&layout.key_file(ca)))?;
        let chain_path = paths.live(&format!("{}-chain.crt", ca.stem));
        let chain = if chain_path.is_file() {
            read_bundle(&chain_path)?
        } else {
            Vec::new()
        };
        let keys = keys
            .into_iter()
            .map(|key| HeldKey::new(Box::new(key)))
            .collect::<Result<Vec<_>>>()?;
        Ok(CurrentCa {
            ca,
            bundle,
            chain,
            keys,
        })
    }

    /// A renewal of the signing certificate already in the live bundle
    /// (stage 1 loaded): the same CA, ending later.
    fn pending(&self) -> Option<&Certificate> {
        let first = &self.bundle[0];
        self.bundle[1..]
            .iter()
            .find(|c| same_ca(c, first) && c.not_after() > first.not_after())
    }
}

/// What renews the CAs of one run: the keys beyond each CA's key file, and
/// the issuers renewed so far, so that CAs under one issuer share its
/// renewal.
struct Renewer<'a> {
    /// `--issuer-key`.
    given: Option<HeldKey>,
    /// A custom tree's keys beside the CAs (`intermediate-ca.key`,
    /// `root-ca.key`, as the upstream script leaves them), each opened only
    /// when its certificate signs a renewal: an encrypted root is asked for
    /// only then.
    tree_keys: Vec<TreeKey>,
    passphrases: &'a Passphrases,
    tokens: &'a Tokens,
    not_before: SystemTime,
    /// Issuers renewed so far: each original, and its renewal followed by
    /// the issuers renewed above it.
    issuers: RefCell<Vec<(Certificate, Vec<Certificate>)>>,
}

/// A custom tree's key file and the certificate it belongs to.
struct TreeKey {
    cert: Certificate,
    path: PathBuf,
    opened: OnceCell<HeldKey>,
}

impl TreeKey {
    /// `<cert dir>/<pem>` and `<cert dir>/<key>`, when both are there and read.
    fn find(cert_dir: &Path, pem: &str, key: &str) -> Option<Self> {
        let path = cert_dir.join(key);
        let cert = read_bundle(&cert_dir.join(pem)).ok()?.into_iter().next()?;
        path.is_file().then(|| TreeKey {
            cert,
            path,
            opened: OnceCell::new(),
        })
    }
}

/// What renewing one certificate made.
struct Renewed {
    /// The renewal, then the issuers renewed with it.
    certs: Vec<Certificate>,
    /// The CN of the CA that signed it; `None` when self-signed.
    issuer: Option<String>,
}

/// One CA's certificates and keys, for [`Renewer::renew`].
struct Chain<'a> {
    ca: &'a CurrentCa,
    /// The CA file, for messages.
    file: PathBuf,
}

impl Chain<'_> {
    /// Certificate `index` of the bundle then the chain file.
    fn cert(&self, index: usize) -> Option<&Certificate> {
        match index.checked_sub(self.ca.bundle.len()) {
            None => self.ca.bundle.get(index),
            Some(in_chain) => self.ca.chain.get(in_chain),
        }
    }

    fn len(&self) -> usize {
        self.ca.bundle.len() + self.ca.chain.len()
    }

    fn refuse(&self, problem: String) -> Error {
        Error::at(&self.file, Kind::Inputs(problem))
    }
}

impl Renewer<'_> {
    /// The key of `cert`: from the CA's key file, `--issuer-key`, or a
    /// custom tree's key file (opened now).
    fn key_of<'k>(
        &'k self,
        chain: &'k Chain<'_>,
        cert: &Certificate,
    ) -> Result<Option<&'k dyn SigningKey>> {
        if let Some(held) = chain
            .ca
            .keys
            .iter()
            .chain(&self.given)
            .find(|k| k.is_of(cert))
        {
            return Ok(Some(held.key.as_ref()));
        }
        let Some(tree) = self.tree_keys.iter().find(|t| same_ca(&t.cert, cert)) else {
            return Ok(None);
        };
        if tree.opened.get().is_none() {
            let held = HeldKey::new(open_key(&tree.path, self.passphrases, self.tokens)?)?;
            if !held.is_of(cert) {
                return Ok(None);
            }
            let _ = tree.opened.set(held);
        }
        Ok(tree.opened.get().map(|held| held.key.as_ref()))
    }

    /// Renews certificate `index` of `chain` to end at `wanted` (or its
    /// issuer's end): the renewal, then the issuers renewed with it. An
    /// issuer of the CA's bundle that would end sooner is renewed first when
    /// the key of its own issuer is held (once per run).
    fn renew(
        &self,
        chain: &Chain<'_>,
        index: usize,
        wanted: SystemTime,
        notes: &mut Vec<String>,
    ) -> Result<Renewed> {
        let cert = chain
            .cert(index)
            .ok_or_else(|| Error::bug("a renewal asked for a certificate past the chain"))?;
        let name = cert.subject_cn();
        if wanted <= cert.not_after() {
            return Err(chain.refuse(format!(
                "\"{name}\" already ends on {}, no earlier than a renewal for --days would ({}): \
                 nothing to renew",
                format_time(cert.not_after()),
                format_time(wanted)
            )));
        }
        check_ca_key_size(cert.public_key()).map_err(|why| {
            chain.refuse(format!(
                "\"{name}\": {why}; renewing would keep that key ten more years: rotate instead"
            ))
        })?;
        if cert.issuer() == cert.subject() && check_issued_by(cert, cert).is_ok() {
            let key = self.key_of(chain, cert)?.ok_or_else(|| {
                chain.refuse(format!(
                    "no key of the self-signed \"{name}\" in {}: a root is renewed with its own key",
                    chain.ca.ca.stem
                ))
            })?;
            let renewal = renew(cert, Issuer::SelfSigned(key), self.not_before, wanted)?;
            return Ok(Renewed {
                certs: vec![renewal],
                issuer: None,
            });
        }
        let Some(issuer_index) = (0..chain.len()).find(|&i| {
            i != index
                && chain
                    .cert(i)
                    .is_some_and(|c| !same_ca(c, cert) && check_issued_by(cert, c).is_ok())
        }) else {
            return Err(chain.refuse(format!(
                "\"{name}\" is issued by \"{}\", whose certificate is not in this file \
                 (nor in {}-chain.crt): put the chain after it, or rotate instead",
                cert.issuer_cn(),
                chain.ca.ca.stem
            )));
        };
        let issuer = chain
            .cert(issuer_index)
            .ok_or_else(|| Error::bug("an issuer index past the chain"))?;
        let issuer_name = issuer.subject_cn();
        let key = self.key_of(chain, issuer)?.ok_or_else(|| {
            chain.refuse(format!(
                "renewing \"{name}\" needs the key of its issuer \"{issuer_name}\", which is not \
                 in its key file: give it with --issuer-key FILE (or pkcs11:URI), or rotate instead"
            ))
        })?;
        if issuer.not_after() < wanted && issuer_index < chain.ca.bundle.len() {
            if let Some(above) = self.renewed_issuer(chain, issuer_index, wanted)? {
                let end = wanted.min(above[0].not_after());
                let renewal = renew(
                    cert,
                    Issuer::Ca {
                        cert: &above[0],
                        key,
                    },
                    self.not_before,
                    end,
                )?;
                return Ok(Renewed {
                    certs: std::iter::once(renewal).chain(above).collect(),
                    issuer: Some(issuer_name),
                });
            }
        }
        let end = wanted.min(issuer.not_after());
        if end <= cert.not_after() {
            return Err(chain.refuse(format!(
                "\"{name}\" cannot be renewed past its issuer \"{issuer_name}\", which ends on {}, \
                 no later than \"{name}\" itself ({}): renew \"{issuer_name}\" first (with the key \
                 of its own issuer), or rotate instead",
                format_time(issuer.not_after()),
                format_time(cert.not_after())
            )));
        }
        if end < wanted {
            notes.push(format!(
                "{}: the renewed \"{name}\" ends on {}, with its issuer \"{issuer_name}\"; renew \
                 that CA before then",
                chain.ca.ca.stem,
                format_time(end)
            ));
        }
        let renewal = renew(cert, Issuer::Ca { cert: issuer, key }, self.not_before, end)?;
        Ok(Renewed {
            certs: vec![renewal],
            issuer: Some(issuer_name),
        })
    }

    /// The issuer at `index` of `chain` renewed, with the issuers renewed
    /// above it, reused when another CA of the run renewed it already;
    /// `None` when it cannot be (the key of its own issuer is not held).
    fn renewed_issuer(
        &self,
        chain: &Chain<'_>,
        index: usize,
        wanted: SystemTime,
    ) -> Result<Option<Vec<Certificate>>> {
        let issuer = chain
            .cert(index)
            .ok_or_else(|| Error::bug("an issuer index past the chain"))?;
        if let Some((_, known)) = self
            .issuers
            .borrow()
            .iter()
            .find(|(original, _)| original.der() == issuer.der())
        {
            return Ok(Some(known.clone()));
        }
        // Renewable when the key that signed it is held: its own (a root) or
        // its issuer's.
        let signer = if issuer.issuer() == issuer.subject() {
            Some(issuer)
        } else {
            (0..chain.len())
                .filter_map(|i| chain.cert(i))
                .find(|c| !same_ca(c, issuer) && check_issued_by(issuer, c).is_ok())
        };
        match signer {
            Some(signer) if self.key_of(chain, signer)?.is_some() => {}
            _ => return Ok(None),
        }
        let renewed = self.renew(chain, index, wanted, &mut Vec::new())?;
        self.issuers
            .borrow_mut()
            .push((issuer.clone(), renewed.certs.clone()));
        Ok(Some(renewed.certs))
    }
}
