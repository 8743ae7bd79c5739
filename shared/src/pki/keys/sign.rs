//! The signing seam: [`SigningKey`], all that issuance asks of a key, its
//! implementation for an in-memory [`PrivateKey`], and the adaptor that lets
//! x509-cert's certificate builder sign through any of them.

use der::asn1::{BitString, Null};
use der::{Any, Decode as _, Encode as _};
use p256::ecdsa::signature::{self, Keypair, Signer};
use x509_cert::spki::{
    AlgorithmIdentifierOwned, DynSignatureAlgorithmIdentifier, EncodePublicKey,
    SignatureBitStringEncoding, SubjectPublicKeyInfoOwned,
};

use super::{KeyAlgorithm, PrivateKey};
use crate::pki::error::{Error, Result};

/// A key that signs certificates, wherever it is held: a [`PrivateKey`] in
/// memory, or a key that never leaves a token (PKCS#11) and signs there.
/// Issuance, pre-flight and CSR signing ask only for this, so another kind of
/// key is another implementation, and [`PrivateKey`] (how keys are read and
/// written) stays as it is. `Send + Sync`: `sign-csr` signs on every core.
pub trait SigningKey: Send + Sync {
    /// The key's type and size. Certificates it signs carry
    /// [`KeyAlgorithm::signature_algorithm`]: the algorithm table decides, not
    /// the key.
    fn algorithm(&self) -> KeyAlgorithm;

    /// The public half, as DER SubjectPublicKeyInfo. Asked once per key (the
    /// public key of a CA certificate, or the check that a key is its
    /// certificate's), never per signature.
    fn public_key_der(&self) -> Result<Vec<u8>>;

    /// Signs `message` with the signature algorithm of [`Self::algorithm`],
    /// returning the bytes X.509 carries in the signature BIT STRING (ECDSA
    /// signatures DER-encoded, RSA and Ed25519 raw).
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>>;

    /// Whether the key signs in this process, so that its signatures verify
    /// against its public half by construction and a certificate it has just
    /// signed need not be verified again (see `verify::remember_own_signature`).
    /// False for a key in a token: what a token returns is checked.
    fn signs_in_memory(&self) -> bool {
        false
    }

    /// The public half as a typed SubjectPublicKeyInfo, for certificate building.
    fn public_key_info(&self) -> Result<SubjectPublicKeyInfoOwned> {
        let der = self.public_key_der()?;
        SubjectPublicKeyInfoOwned::from_der(&der)
            .map_err(|e| Error::crypto("decoding a public key", e))
    }
}

impl SigningKey for PrivateKey {
    fn algorithm(&self) -> KeyAlgorithm {
        PrivateKey::algorithm(self)
    }

    fn public_key_der(&self) -> Result<Vec<u8>> {
        PrivateKey::public_key_der(self)
    }

    fn signs_in_memory(&self) -> bool {
        true
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        let failed = |e: signature::Error| Error::crypto("signing", e);
        // The same two lines for each curve: the ECDSA types are generic over
        // curves whose trait bounds are longer than the code they would save.
        macro_rules! ecdsa {
            ($curve:ident, $key:expr) => {{
                let signature: $curve::ecdsa::DerSignature =
                    $key.try_sign(message).map_err(failed)?;
                signature.as_bytes().to_vec()
            }};
        }
        Ok(match self {
            PrivateKey::Rsa(key) => {
                let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new((**key).clone());
                let signature: rsa::pkcs1v15::Signature =
                    signer.try_sign(message).map_err(failed)?;
                Box::<[u8]>::from(signature).into_vec()
            }
            PrivateKey::P256(key) => ecdsa!(p256, key),
            PrivateKey::P384(key) => ecdsa!(p384, key),
            PrivateKey::P521(key) => ecdsa!(p521, key.as_ref()),
            PrivateKey::Ed25519(key) => key.try_sign(message).map_err(failed)?.to_bytes().to_vec(),
        })
    }
}

/// A [`SigningKey`] seen as the signer x509-cert's builder expects.
pub(crate) struct KeySigner<'a> {
    key: &'a dyn SigningKey,
    issuer_key: IssuerKey<'a>,
}

impl<'a> KeySigner<'a> {
    /// `issuer_key` is the issuer's public key as its certificate carries it
    /// (the request's, when self-signed): the builder asks for it, and taking
    /// it from there derives nothing from `key` per certificate.
    pub(crate) fn new(key: &'a dyn SigningKey, issuer_key: &'a SubjectPublicKeyInfoOwned) -> Self {
        KeySigner {
            key,
            issuer_key: IssuerKey(issuer_key),
        }
    }
}

/// The issuer's public key, borrowed from where it is already decoded.
#[derive(Clone, Copy)]
pub(crate) struct IssuerKey<'a>(&'a SubjectPublicKeyInfoOwned);

impl EncodePublicKey for IssuerKey<'_> {
    fn to_public_key_der(&self) -> x509_cert::spki::Result<der::Document> {
        Ok(der::Document::encode_msg(self.0)?)
    }
}

impl<'a> Keypair for KeySigner<'a> {
    type VerifyingKey = IssuerKey<'a>;

    fn verifying_key(&self) -> IssuerKey<'a> {
        self.issuer_key
    }
}

impl DynSignatureAlgorithmIdentifier for KeySigner<'_> {
    fn signature_algorithm_identifier(&self) -> x509_cert::spki::Result<AlgorithmIdentifierOwned> {
        let algorithm = self.key.algorithm().signature_algorithm();
        let parameters = if algorithm.has_null_parameters() {
            Some(Any::from_der(&Null.to_der()?)?)
        } else {
            None
        };
        Ok(AlgorithmIdentifierOwned {
            oid: algorithm.oid(),
            parameters,
        })
    }
}

/// Signature bytes as they go into the certificate's BIT STRING.
pub(crate) struct RawSignature(Vec<u8>);

impl SignatureBitStringEncoding for RawSignature {
    fn to_bitstring(&self) -> der::Result<BitString> {
        BitString::from_bytes(&self.0)
    }
}

impl Signer<RawSignature> for KeySigner<'_> {
    fn try_sign(&self, message: &[u8]) -> std::result::Result<RawSignature, signature::Error> {
        self.key
            .sign(message)
            .map(RawSignature)
            .map_err(|_| signature::Error::new())
    }
}
