//! RFC 7512 `pkcs11:` URIs, the part that names a key: which token, which
//! object, where its PIN comes from and which module reaches it.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::pki::error::Error;

/// A `pkcs11:` URI naming one private key, e.g.
/// `pkcs11:token=ceremony;object=root?pin-source=/media/pin`.
#[derive(Clone, PartialEq, Eq)]
pub struct Pkcs11Uri {
    /// `token=`: the token's label.
    pub token: Option<String>,
    /// `serial=`: the token's serial number.
    pub serial: Option<String>,
    /// `object=`: the key's label (CKA_LABEL).
    pub object: Option<String>,
    /// `id=`: the key's CKA_ID, as bytes.
    pub id: Option<Vec<u8>>,
    /// `pin-source=`: a file whose first line is the user PIN.
    pub pin_source: Option<PathBuf>,
    /// `module-path=`: the PKCS#11 module to load.
    pub module_path: Option<PathBuf>,
    /// The URI as given, for messages (it never holds the PIN: `pin-value` is refused).
    text: String,
}

/// The scheme every key reference in a token starts with.
pub const SCHEME: &str = "pkcs11:";

impl Pkcs11Uri {
    /// Whether `text` is meant as a `pkcs11:` URI rather than a file name.
    pub fn is_uri(text: &str) -> bool {
        text.get(..SCHEME.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(SCHEME))
    }
}

impl fmt::Display for Pkcs11Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Pkcs11Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for Pkcs11Uri {
    type Err = Error;

    /// Path attributes `token`, `serial`, `object`, `id`, `type` (`private`);
    /// query attributes `pin-source` and `module-path`. Anything else is
    /// refused: a URI that silently matched more than it says could sign with
    /// the wrong key. `pin-value` is refused too: a PIN on the command line is
    /// in the shell history and in `ps`.
    fn from_str(text: &str) -> Result<Self, Error> {
        let refuse = |problem: String| {
            Error::usage(format!("{}: {problem}", crate::pki::error::one_line(text)))
        };
        if !Pkcs11Uri::is_uri(text) {
            return Err(refuse("not a pkcs11: URI".into()));
        }
        let rest = &text[SCHEME.len()..];
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut uri = Pkcs11Uri {
            token: None,
            serial: None,
            object: None,
            id: None,
            pin_source: None,
            module_path: None,
            text: text.to_string(),
        };
        let pairs = path
            .split(';')
            .map(|p| (p, false))
            .chain(query.split('&').map(|p| (p, true)))
            .filter(|(p, _)| !p.is_empty());
        for (pair, in_query) in pairs {
            let Some((name, value)) = pair.split_once('=') else {
                return Err(refuse(format!("\"{pair}\" is not name=value")));
            };
            let bytes = percent_decode(value)
                .ok_or_else(|| refuse(format!("the value of {name} has a bad %-escape")))?;
            let as_text = || {
                String::from_utf8(bytes.clone())
                    .map_err(|_| refuse(format!("the value of {name} is not UTF-8")))
            };
            match (name, in_query) {
                ("token", false) => uri.token = Some(as_text()?),
                ("serial", false) => uri.serial = Some(as_text()?),
                ("object", false) => uri.object = Some(as_text()?),
                ("id", false) => uri.id = Some(bytes),
                ("type", false) if value == "private" => {}
                ("type", false) => {
                    return Err(refuse(format!(
                        "type={value}: a CA key is type=private (or no type)"
                    )));
                }
                ("pin-source", true) => {
                    let source = as_text()?;
                    let path = source.strip_prefix("file:").unwrap_or(&source);
                    uri.pin_source = Some(PathBuf::from(path));
                }
                ("module-path", true) => uri.module_path = Some(PathBuf::from(as_text()?)),
                ("pin-value", true) => {
                    // Not `refuse`: the URI would be echoed with the PIN in it.
                    return Err(Error::usage(
                        "a pkcs11: URI with pin-value puts the PIN on the command line: \
                         use pin-source=FILE or --pin-file FILE",
                    ));
                }
                (name, _) => {
                    return Err(refuse(format!(
                        "the attribute \"{name}\" is not supported here \
                         (token, serial, object, id, type; pin-source, module-path)"
                    )));
                }
            }
        }
        if uri.object.is_none() && uri.id.is_none() {
            return Err(refuse(
                "names no key: add object=LABEL or id=%XX... to the URI".into(),
            ));
        }
        Ok(uri)
    }
}

/// RFC 3986 %-decoding; `None` on a malformed escape.
fn percent_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uri_names_token_object_id_and_where_the_pin_is() {
        let uri: Pkcs11Uri =
            "pkcs11:token=Cere%20mony;object=root;id=%01%ab;type=private?pin-source=file:/m/pin&module-path=/usr/lib/x.so"
                .parse()
                .unwrap();
        assert_eq!(uri.token.as_deref(), Some("Cere mony"));
        assert_eq!(uri.object.as_deref(), Some("root"));
        assert_eq!(uri.id.as_deref(), Some(&[1u8, 0xab][..]));
        assert_eq!(uri.pin_source, Some(PathBuf::from("/m/pin")));
        assert_eq!(uri.module_path, Some(PathBuf::from("/usr/lib/x.so")));
    }

    #[test]
    fn a_pin_on_the_command_line_an_unknown_attribute_and_no_key_are_refused() {
        for (text, said) in [
            ("pkcs11:object=a?pin-value=1234", "pin-value puts the PIN"),
            ("pkcs11:object=a;slot-id=1", "\"slot-id\" is not supported"),
            ("pkcs11:token=t", "names no key"),
            ("pkcs11:object=%zz", "bad %-escape"),
            ("pkcs11:object=a;type=public", "type=private"),
        ] {
            let message = text.parse::<Pkcs11Uri>().unwrap_err().to_string();
            assert!(message.contains(said), "{text}: {message}");
            assert!(!message.contains("1234"), "{message}");
        }
    }
}
