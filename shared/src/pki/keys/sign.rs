//! Signing with any [`PrivateKey`], and the adaptor that lets x509-cert's
//! certificate builder sign with it whatever its type.

use der::asn1::{BitString, Null};
use der::{Any, Decode as _, Encode as _};
use p256::ecdsa::signature::{self, Keypair, Signer};
use x509_cert::spki::{
    AlgorithmIdentifierOwned, DynSignatureAlgorithmIdentifier, EncodePublicKey,
    SignatureBitStringEncoding,
};

use super::{PrivateKey, SignatureAlgorithm};
use crate::pki::error::{Error, Result};

impl PrivateKey {
    /// The signature algorithm this key signs certificates with.
    pub fn signature_algorithm(&self) -> SignatureAlgorithm {
        self.algorithm().signature_algorithm()
    }

    /// Signs `message` with [`Self::signature_algorithm`]; ECDSA signatures are
    /// DER-encoded, as X.509 carries them.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
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

/// A [`PrivateKey`] seen as the signer x509-cert's builder expects.
pub(crate) struct KeySigner<'a> {
    key: &'a PrivateKey,
    public: PublicKeyDer,
}

impl<'a> KeySigner<'a> {
    pub(crate) fn new(key: &'a PrivateKey) -> Result<Self> {
        Ok(KeySigner {
            key,
            public: PublicKeyDer(key.public_key_der()?),
        })
    }
}

/// A public key kept as its DER SubjectPublicKeyInfo.
#[derive(Clone)]
pub(crate) struct PublicKeyDer(Vec<u8>);

impl EncodePublicKey for PublicKeyDer {
    fn to_public_key_der(&self) -> x509_cert::spki::Result<der::Document> {
        Ok(der::Document::try_from(self.0.as_slice())?)
    }
}

impl Keypair for KeySigner<'_> {
    type VerifyingKey = PublicKeyDer;

    fn verifying_key(&self) -> PublicKeyDer {
        self.public.clone()
    }
}

impl DynSignatureAlgorithmIdentifier for KeySigner<'_> {
    fn signature_algorithm_identifier(&self) -> x509_cert::spki::Result<AlgorithmIdentifierOwned> {
        let algorithm = self.key.signature_algorithm();
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
