//! CA keys that never leave a PKCS#11 token (an HSM, a smart card, a YubiKey,
//! SoftHSM2): found or generated there by an RFC 7512 `pkcs11:` URI, and
//! signing there through [`SigningKey`], so issuance treats them as it treats
//! a key in memory.
//!
//! The module (a shared library) is loaded at run time: `--pkcs11-module`, else
//! the URI's `module-path`, else `PKCS11_MODULE`. The user PIN comes from the
//! URI's `pin-source`, else `--pin-file`, else the terminal; it is never
//! printed, and no message carries it.

mod uri;

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use cryptoki::context::{CInitializeArgs, Pkcs11};
use cryptoki::error::{Error as P11Error, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use der::asn1::{BitString, ObjectIdentifier, OctetString};
use der::{Any, Decode as _, Encode as _};
use sha2::Digest as _;
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

pub use uri::Pkcs11Uri;

use super::{Hash, KeyAlgorithm, PublicKey, SignatureAlgorithm, SigningKey};
use crate::pki::error::{Error, Kind, Location, Result};
use crate::pki::text::shown;

/// The environment variable naming the module when no flag or URI does.
pub const MODULE_ENV: &str = "PKCS11_MODULE";

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");

/// How a run reaches its tokens: the module and PIN flags, and every module
/// loaded so far (a module is initialised once per process, so two keys in
/// one token, or two tokens of one module, share it).
#[derive(Debug, Default)]
pub struct Tokens {
    module_flag: Option<PathBuf>,
    pin_file: Option<PathBuf>,
    loaded: RefCell<Vec<(PathBuf, Pkcs11)>>,
    /// The PIN read for each token already logged in to, by label: asked once.
    logged_in: RefCell<Vec<String>>,
}

impl Tokens {
    /// `--pkcs11-module` and `--pin-file`, as given.
    pub fn new(module_flag: Option<PathBuf>, pin_file: Option<PathBuf>) -> Self {
        Tokens {
            module_flag,
            pin_file,
            ..Tokens::default()
        }
    }

    /// The key `uri` names, which must exist in its token.
    pub fn open(&self, uri: &Pkcs11Uri) -> Result<TokenKey> {
        let session = self.session(uri)?;
        let failed = |e| token_error(uri, "finding the key", e);
        let private = session
            .find_objects(&template(uri, ObjectClass::PRIVATE_KEY))
            .map_err(failed)?;
        let handle = match private.as_slice() {
            [one] => *one,
            [] => {
                return Err(at(
                    uri,
                    "the token holds no such private key (check object= and id=; \
                     `pkcs11-tool --list-objects` lists them)"
                        .into(),
                ));
            }
            many => {
                return Err(at(
                    uri,
                    format!(
                        "{} private keys match: name one (add id= or a distinct object=)",
                        many.len()
                    ),
                ));
            }
        };
        let public_der = public_key_of(&session, uri, handle)?;
        TokenKey::new(session, handle, public_der, uri)
    }

    /// A new key of `algorithm`, generated inside the token `uri` names, under
    /// its `object=` label (and `id=`, when given): private, sensitive and
    /// never extractable, so its private half exists only there. Refused when
    /// the token already holds a key by that name.
    pub fn generate(&self, uri: &Pkcs11Uri, algorithm: KeyAlgorithm) -> Result<TokenKey> {
        let Some(label) = &uri.object else {
            return Err(at(
                uri,
                "a key generated in the token needs a label: add object=LABEL".into(),
            ));
        };
        let session = self.session(uri)?;
        let existing = session
            .find_objects(&template(uri, ObjectClass::PRIVATE_KEY))
            .map_err(|e| token_error(uri, "finding the key", e))?;
        if !existing.is_empty() {
            return Err(at(
                uri,
                "the token already holds this key: use it without generating, \
                 or name a new object="
                    .into(),
            ));
        }
        let id = match &uri.id {
            Some(id) => id.clone(),
            None => rand::random::<[u8; 16]>().to_vec(),
        };
        let mut public = vec![
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Verify(true),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Id(id.clone()),
        ];
        let private = vec![
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Id(id),
        ];
        let mechanism = match algorithm {
            KeyAlgorithm::Rsa(bits) => {
                public.push(Attribute::ModulusBits((bits as u64).into()));
                public.push(Attribute::PublicExponent(vec![1, 0, 1]));
                Mechanism::RsaPkcsKeyPairGen
            }
            KeyAlgorithm::EcdsaP256 | KeyAlgorithm::EcdsaP384 | KeyAlgorithm::EcdsaP521 => {
                let curve = match algorithm {
                    KeyAlgorithm::EcdsaP256 => P256,
                    KeyAlgorithm::EcdsaP384 => P384,
                    _ => P521,
                };
                let params = curve
                    .to_der()
                    .map_err(|e| Error::crypto("encoding a curve", e))?;
                public.push(Attribute::EcParams(params));
                Mechanism::EccKeyPairGen
            }
            KeyAlgorithm::Ed25519 => {
                return Err(at(uri, "keys generated in a token are RSA or ECDSA".into()));
            }
        };
        let (public_handle, handle) = session
            .generate_key_pair(&mechanism, &public, &private)
            .map_err(|e| token_error(uri, "generating a key", e))?;
        let public_der = match public_key_of(&session, uri, handle) {
            Ok(der) => der,
            Err(e) => {
                // Best effort: the error said is the one that matters.
                let _ = session.destroy_object(handle);
                let _ = session.destroy_object(public_handle);
                return Err(e);
            }
        };
        let mut key = TokenKey::new(session, handle, public_der, uri)?;
        key.generated = Some(public_handle);
        Ok(key)
    }

    /// A logged-in session on the token `uri` names.
    fn session(&self, uri: &Pkcs11Uri) -> Result<Session> {
        let module = self.module(uri)?;
        let slot = find_slot(&module, uri)?;
        let session = module
            .open_rw_session(slot)
            .map_err(|e| token_error(uri, "opening a session", e))?;
        let info = module
            .get_token_info(slot)
            .map_err(|e| token_error(uri, "reading the token", e))?;
        let label = info.label().trim_end().to_string();
        if info.login_required() && !self.logged_in.borrow().contains(&label) {
            let pin = self.pin(uri, &label)?;
            match session.login(UserType::User, Some(&pin)) {
                Ok(()) | Err(P11Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
                Err(e) => return Err(token_error(uri, "logging in", e)),
            }
            self.logged_in.borrow_mut().push(label);
        }
        Ok(session)
    }

    /// The module for `uri`, loaded and initialised once per path.
    fn module(&self, uri: &Pkcs11Uri) -> Result<Pkcs11> {
        let path = self
            .module_flag
            .clone()
            .or_else(|| uri.module_path.clone())
            .or_else(|| std::env::var_os(MODULE_ENV).map(PathBuf::from))
            .ok_or_else(|| {
                at(
                    uri,
                    format!(
                        "no PKCS#11 module to reach the token: give --pkcs11-module FILE \
                         (or {MODULE_ENV}, or module-path= in the URI)"
                    ),
                )
            })?;
        if let Some((_, module)) = self.loaded.borrow().iter().find(|(p, _)| *p == path) {
            return Ok(module.clone());
        }
        let module = load_module(&path)?;
        self.loaded.borrow_mut().push((path, module.clone()));
        Ok(module)
    }

    /// The user PIN: the URI's `pin-source`, else `--pin-file`, else asked.
    fn pin(&self, uri: &Pkcs11Uri, label: &str) -> Result<AuthPin> {
        use std::io::IsTerminal as _;
        let file = uri.pin_source.as_ref().or(self.pin_file.as_ref());
        let pin = match file {
            Some(path) => super::encrypted::read_first_line(path)?,
            None if std::io::stdin().is_terminal() => super::Passphrase::new(
                super::encrypted::ask(format!("PIN for token \"{}\": ", shown(label)))?.to_string(),
            ),
            None => {
                return Err(at(
                    uri,
                    "the token needs its user PIN: give --pin-file FILE (first line) \
                     or pin-source=FILE in the URI, or run on a terminal to be asked"
                        .into(),
                ));
            }
        };
        let text = String::from_utf8(pin.bytes().to_vec())
            .map_err(|_| at(uri, "the PIN is not UTF-8 text".into()))?;
        Ok(AuthPin::new(text))
    }
}

/// Loads and initialises a module, in words the user can act on when it fails.
fn load_module(path: &Path) -> Result<Pkcs11> {
    if !path.is_file() {
        return Err(Error::at(
            path,
            Kind::Inputs(
                "no such PKCS#11 module (--pkcs11-module, module-path= or PKCS11_MODULE)".into(),
            ),
        ));
    }
    let module = Pkcs11::new(path).map_err(|e| {
        Error::at(
            path,
            Kind::Inputs(format!(
                "cannot load it as a PKCS#11 module: {}",
                crate::pki::error::one_line(&e.to_string())
            )),
        )
    })?;
    match module.initialize(CInitializeArgs::OsThreads) {
        Ok(()) | Err(P11Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => Ok(module),
        Err(e) => Err(Error::at(
            path,
            Kind::Inputs(format!(
                "the PKCS#11 module failed to start: {}",
                rv_text(&e)
            )),
        )),
    }
}

/// The slot of the one token `uri` names (by label and serial; the only
/// token when the URI names none).
fn find_slot(module: &Pkcs11, uri: &Pkcs11Uri) -> Result<Slot> {
    let slots = module
        .get_slots_with_token()
        .map_err(|e| token_error(uri, "listing the tokens", e))?;
    let mut matching = Vec::new();
    for slot in slots {
        let info = module
            .get_token_info(slot)
            .map_err(|e| token_error(uri, "reading a token", e))?;
        let label_ok = uri
            .token
            .as_deref()
            .is_none_or(|want| info.label().trim_end() == want);
        let serial_ok = uri
            .serial
            .as_deref()
            .is_none_or(|want| info.serial_number().trim_end() == want);
        if label_ok && serial_ok {
            matching.push(slot);
        }
    }
    match matching.as_slice() {
        [one] => Ok(*one),
        [] => Err(at(
            uri,
            "the module has no such token (check token=; `pkcs11-tool --list-token-slots` \
             lists them)"
                .into(),
        )),
        many => Err(at(
            uri,
            format!(
                "{} tokens match: name one with token=LABEL (or serial=)",
                many.len()
            ),
        )),
    }
}

/// The search template of the key `uri` names.
fn template(uri: &Pkcs11Uri, class: ObjectClass) -> Vec<Attribute> {
    let mut template = vec![Attribute::Class(class)];
    if let Some(label) = &uri.object {
        template.push(Attribute::Label(label.as_bytes().to_vec()));
    }
    if let Some(id) = &uri.id {
        template.push(Attribute::Id(id.clone()));
    }
    template
}

/// The DER SubjectPublicKeyInfo of the private key `handle`: read from the
/// private key's own public attributes (RSA's modulus and exponent), or from
/// the public key object that shares its ID (ECDSA's point).
fn public_key_of(session: &Session, uri: &Pkcs11Uri, handle: ObjectHandle) -> Result<Vec<u8>> {
    let failed = |e| token_error(uri, "reading the key", e);
    let attributes = session
        .get_attributes(handle, &[AttributeType::KeyType, AttributeType::Id])
        .map_err(failed)?;
    let mut key_type = None;
    let mut id = None;
    for attribute in attributes {
        match attribute {
            Attribute::KeyType(t) => key_type = Some(t),
            Attribute::Id(i) => id = Some(i),
            _ => {}
        }
    }
    // The public object shares the private key's ID (every tool that makes a
    // pair sets one); its label too, when the URI names one.
    let mut public_template = vec![Attribute::Class(ObjectClass::PUBLIC_KEY)];
    if let Some(id) = id.filter(|id| !id.is_empty()) {
        public_template.push(Attribute::Id(id));
    }
    if let Some(label) = &uri.object {
        public_template.push(Attribute::Label(label.as_bytes().to_vec()));
    }
    let public_object = session
        .find_objects(&public_template)
        .map_err(failed)?
        .first()
        .copied();
    let spki = match key_type {
        Some(KeyType::RSA) => {
            let source = public_object.unwrap_or(handle);
            let mut modulus = None;
            let mut exponent = None;
            for attribute in session
                .get_attributes(
                    source,
                    &[AttributeType::Modulus, AttributeType::PublicExponent],
                )
                .map_err(failed)?
            {
                match attribute {
                    Attribute::Modulus(n) => modulus = Some(n),
                    Attribute::PublicExponent(e) => exponent = Some(e),
                    _ => {}
                }
            }
            let (Some(n), Some(e)) = (modulus, exponent) else {
                return Err(at(uri, "the token does not show the RSA public key".into()));
            };
            rsa_spki(&n, &e)
        }
        Some(KeyType::EC) => {
            let Some(public_object) = public_object else {
                return Err(at(
                    uri,
                    "no public key object with the private key's ID: the ECDSA public key \
                     cannot be read from the private key"
                        .into(),
                ));
            };
            let mut params = None;
            let mut point = None;
            for attribute in session
                .get_attributes(
                    public_object,
                    &[AttributeType::EcParams, AttributeType::EcPoint],
                )
                .map_err(failed)?
            {
                match attribute {
                    Attribute::EcParams(p) => params = Some(p),
                    Attribute::EcPoint(p) => point = Some(p),
                    _ => {}
                }
            }
            let (Some(params), Some(point)) = (params, point) else {
                return Err(at(
                    uri,
                    "the token does not show the ECDSA public key".into(),
                ));
            };
            ec_spki(&params, &point)
        }
        _ => None,
    };
    spki.ok_or_else(|| {
        at(
            uri,
            "the key is neither RSA nor ECDSA on P-256, P-384 or P-521: tokens sign \
             with those here"
                .into(),
        )
    })
}

/// An RSA SubjectPublicKeyInfo from the modulus and exponent (big-endian).
fn rsa_spki(n: &[u8], e: &[u8]) -> Option<Vec<u8>> {
    let strip = |b: &[u8]| -> Vec<u8> {
        let first = b.iter().position(|x| *x != 0).unwrap_or(b.len());
        b[first..].to_vec()
    };
    let (n, e) = (strip(n), strip(e));
    let key = rsa::pkcs1::RsaPublicKeyRef {
        modulus: der::asn1::UintRef::new(&n).ok()?,
        public_exponent: der::asn1::UintRef::new(&e).ok()?,
    };
    let spki = SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned {
            oid: RSA_ENCRYPTION,
            parameters: Some(Any::from_der(&der::asn1::Null.to_der().ok()?).ok()?),
        },
        subject_public_key: BitString::from_bytes(&key.to_der().ok()?).ok()?,
    };
    spki.to_der().ok()
}

/// An EC SubjectPublicKeyInfo from CKA_EC_PARAMS (the curve's OID) and
/// CKA_EC_POINT (the point, DER OCTET STRING-wrapped as PKCS#11 says, or bare
/// as some modules give it).
fn ec_spki(params: &[u8], point: &[u8]) -> Option<Vec<u8>> {
    let curve: ObjectIdentifier = ObjectIdentifier::from_der(params).ok()?;
    let point = match OctetString::from_der(point) {
        Ok(inner) if inner.as_bytes().first() == Some(&4) => inner.as_bytes().to_vec(),
        _ => point.to_vec(),
    };
    let spki = SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned {
            oid: EC_PUBLIC_KEY,
            parameters: Some(Any::from(&curve)),
        },
        subject_public_key: BitString::from_bytes(&point).ok()?,
    };
    spki.to_der().ok()
}

/// A private key held in a token, signing there. The session is behind a
/// mutex: a PKCS#11 session serves one call at a time, and [`SigningKey`]
/// must be shareable between threads.
pub struct TokenKey {
    session: Mutex<Session>,
    handle: ObjectHandle,
    algorithm: KeyAlgorithm,
    public_der: Vec<u8>,
    uri: Pkcs11Uri,
    /// For a key this run generated: its public object. Until [`Self::keep`]
    /// the pair is destroyed when the key is dropped, so a run that is
    /// refused or fails leaves no key behind (and can be run again).
    generated: Option<ObjectHandle>,
    kept: std::sync::atomic::AtomicBool,
}

impl Drop for TokenKey {
    fn drop(&mut self) {
        let Some(public) = self.generated else { return };
        if self.kept.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        if let Ok(session) = self.session.lock() {
            // Best effort: nothing can be reported from a drop, and the run
            // already fails with its own error.
            let _ = session.destroy_object(self.handle);
            let _ = session.destroy_object(public);
        }
    }
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenKey({}, {})", self.algorithm, self.uri)
    }
}

impl TokenKey {
    fn new(
        session: Session,
        handle: ObjectHandle,
        public_der: Vec<u8>,
        uri: &Pkcs11Uri,
    ) -> Result<Self> {
        let algorithm = PublicKey::from_der(&public_der)
            .map_err(|problem| at(uri, problem))?
            .algorithm();
        Ok(TokenKey {
            session: Mutex::new(session),
            handle,
            algorithm,
            public_der,
            uri: uri.clone(),
            generated: None,
            kept: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Keeps a key this run generated in the token: called once the files
    /// that need it (its certificate) are written.
    pub fn keep(&self) {
        self.kept.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// The URI the key was found or made by.
    pub fn uri(&self) -> &Pkcs11Uri {
        &self.uri
    }
}

impl SigningKey for TokenKey {
    fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    fn public_key_der(&self) -> Result<Vec<u8>> {
        Ok(self.public_der.clone())
    }

    /// RSA: the token hashes and pads (CKM_SHA256_RSA_PKCS and its kin).
    /// ECDSA: we hash, the token signs the digest (CKM_ECDSA) and returns
    /// r||s, which X.509 wants DER-encoded.
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        let algorithm = self.algorithm.signature_algorithm();
        let session = self
            .session
            .lock()
            .map_err(|_| Error::bug("a token session's lock was poisoned"))?;
        let sign = |mechanism: &Mechanism, data: &[u8]| {
            session
                .sign(mechanism, self.handle, data)
                .map_err(|e| token_error(&self.uri, "signing", e))
        };
        let digest = |hash: Hash| -> Vec<u8> {
            match hash {
                Hash::Sha256 => sha2::Sha256::digest(message).to_vec(),
                Hash::Sha384 => sha2::Sha384::digest(message).to_vec(),
                Hash::Sha512 | Hash::Intrinsic => sha2::Sha512::digest(message).to_vec(),
            }
        };
        match algorithm {
            SignatureAlgorithm::RsaSha256 => sign(&Mechanism::Sha256RsaPkcs, message),
            SignatureAlgorithm::RsaSha384 => sign(&Mechanism::Sha384RsaPkcs, message),
            SignatureAlgorithm::RsaSha512 => sign(&Mechanism::Sha512RsaPkcs, message),
            SignatureAlgorithm::EcdsaSha256
            | SignatureAlgorithm::EcdsaSha384
            | SignatureAlgorithm::EcdsaSha512 => {
                let raw = sign(&Mechanism::Ecdsa, &digest(algorithm.hash()))?;
                ecdsa_der(self.algorithm, &raw).ok_or_else(|| {
                    at(
                        &self.uri,
                        "the token returned a malformed ECDSA signature".into(),
                    )
                })
            }
            SignatureAlgorithm::Ed25519 => Err(Error::bug("an Ed25519 key in a token")),
        }
    }
}

/// A raw r||s ECDSA signature as the DER SEQUENCE X.509 carries.
fn ecdsa_der(algorithm: KeyAlgorithm, raw: &[u8]) -> Option<Vec<u8>> {
    Some(match algorithm {
        KeyAlgorithm::EcdsaP256 => p256::ecdsa::Signature::from_slice(raw)
            .ok()?
            .to_der()
            .as_bytes()
            .to_vec(),
        KeyAlgorithm::EcdsaP384 => p384::ecdsa::Signature::from_slice(raw)
            .ok()?
            .to_der()
            .as_bytes()
            .to_vec(),
        KeyAlgorithm::EcdsaP521 => p521::ecdsa::Signature::from_slice(raw)
            .ok()?
            .to_der()
            .as_bytes()
            .to_vec(),
        _ => return None,
    })
}

/// An error about the key `uri` names.
fn at(uri: &Pkcs11Uri, problem: String) -> Error {
    Error::at(Location::Token(uri.to_string()), Kind::Key(problem))
}

/// A PKCS#11 call that failed, in words for the common causes.
fn token_error(uri: &Pkcs11Uri, doing: &str, error: P11Error) -> Error {
    let problem = match &error {
        P11Error::Pkcs11(RvError::PinIncorrect, _) => {
            "the token refused the PIN (wrong PIN; tokens lock after a few tries)".to_string()
        }
        P11Error::Pkcs11(RvError::PinLocked, _) => {
            "the token's user PIN is locked: unblock it with the SO PIN".to_string()
        }
        P11Error::Pkcs11(RvError::PinLenRange, _) => {
            "the token refused the PIN: its length is out of the token's range".to_string()
        }
        P11Error::Pkcs11(RvError::MechanismInvalid, _) => {
            format!("{doing}: the token does not offer this mechanism")
        }
        _ => format!("{doing} failed: {}", rv_text(&error)),
    };
    at(uri, problem)
}

/// A short text for a PKCS#11 error: the CKR_ name, not the standard's paragraph.
fn rv_text(error: &P11Error) -> String {
    match error {
        P11Error::Pkcs11(rv, function) => format!("{rv:?} in {function:?}"),
        other => crate::pki::error::one_line(&other.to_string()),
    }
}
