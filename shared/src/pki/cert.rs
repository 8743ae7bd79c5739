//! Parsed certificates and bundles, with the few properties the tools reason about.

use std::ops::Range;
use std::path::Path;
use std::time::{Duration, SystemTime};

use der::{Decode, Encode};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, NameConstraints,
    SubjectAltName, SubjectKeyIdentifier,
};
use x509_cert::name::Name;
use x509_cert::spki::SubjectPublicKeyInfoOwned;

use crate::pki::error::{Error, Kind, Location, Result};
use crate::pki::pem::{self, PemFile};

/// One X.509 certificate: its exact DER and a typed view of it.
///
/// The validity dates are read from the DER by [`read_validity`], not from
/// the typed view: the `der` crate's time types cover 1970-2049 (UTCTime) and
/// 1970-9999 (GeneralizedTime), while RFC 5280, Go and OpenSSL read UTCTime
/// from 1950. A certificate dated before 1970 is parsed by x509-cert with its
/// dates replaced by 1970-01-01 (same length, so every other offset holds);
/// so the typed view's `validity()` is never used, and the signed part is
/// taken from the original bytes ([`Certificate::tbs_der`]).
#[derive(Clone, Debug)]
pub struct Certificate {
    der: Vec<u8>,
    parsed: x509_cert::Certificate,
    tbs: Range<usize>,
    not_before: SystemTime,
    not_after: SystemTime,
}

impl PartialEq for Certificate {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}

impl Certificate {
    /// Parses DER; `path` and the 1-based `index` only serve the error message.
    pub fn from_der(path: &Path, index: usize, der: &[u8]) -> Result<Self> {
        let problem = |problem: String| {
            let location = Location::Certificate {
                path: path.to_path_buf(),
                index,
            };
            Error::at(location, Kind::Certificate(problem))
        };
        let parsed = match x509_cert::Certificate::from_der(der) {
            Ok(parsed) => parsed,
            Err(e) => {
                // Only a date the der crate cannot hold is worth a second try.
                let Ok(layout) = read_validity(der) else {
                    return Err(problem(e.to_string()));
                };
                if !layout.before_1970() {
                    return Err(problem(e.to_string()));
                }
                x509_cert::Certificate::from_der(&layout.patched(der))
                    .map_err(|e| problem(e.to_string()))?
            }
        };
        let layout = read_validity(der).map_err(problem)?;
        // Go 1.23+ (k3s, kubectl) cannot parse such a certificate at all.
        let serial = parsed.tbs_certificate().serial_number().as_bytes();
        if serial.first().is_some_and(|b| b & 0x80 != 0) {
            return Err(problem(
                "negative serial number, which Go 1.23 and later (k3s, kubectl) refuse to \
                 parse (RFC 5280 wants a positive one); reissue the certificate"
                    .into(),
            ));
        }
        Ok(Certificate {
            der: der.to_vec(),
            parsed,
            tbs: layout.tbs,
            not_before: layout.not_before.time,
            not_after: layout.not_after.time,
        })
    }

    /// Wraps a certificate we just built.
    pub(crate) fn from_built(parsed: x509_cert::Certificate) -> Result<Self> {
        let der = parsed
            .to_der()
            .map_err(|e| Error::crypto("encoding a certificate", e))?;
        let layout = read_validity(&der)
            .map_err(|_| Error::bug("a certificate we built has no readable validity"))?;
        Ok(Certificate {
            parsed,
            tbs: layout.tbs,
            not_before: layout.not_before.time,
            not_after: layout.not_after.time,
            der,
        })
    }

    /// The exact bytes of the signed part (tbsCertificate), as they are in
    /// the file: what the issuer's signature covers.
    pub fn tbs_der(&self) -> &[u8] {
        &self.der[self.tbs.clone()]
    }

    /// The exact DER bytes.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// PEM with LF line ends.
    pub fn to_pem(&self) -> String {
        pem::encode(pem::CERTIFICATE, &self.der)
    }

    /// The typed certificate. Its `validity()` may be a stand-in (see
    /// [`Certificate`]): use [`Certificate::not_before`] and
    /// [`Certificate::not_after`].
    pub fn x509(&self) -> &x509_cert::Certificate {
        &self.parsed
    }

    /// The subject name.
    pub fn subject(&self) -> &Name {
        self.parsed.tbs_certificate().subject()
    }

    /// The issuer name.
    pub fn issuer(&self) -> &Name {
        self.parsed.tbs_certificate().issuer()
    }

    /// The subject's CN, or the whole subject when it has no CN.
    pub fn subject_cn(&self) -> String {
        common_name(self.subject())
    }

    /// The issuer's CN, or the whole issuer name when it has no CN.
    pub fn issuer_cn(&self) -> String {
        common_name(self.issuer())
    }

    /// The subject public key.
    pub fn public_key(&self) -> &SubjectPublicKeyInfoOwned {
        self.parsed.tbs_certificate().subject_public_key_info()
    }

    /// The subjectKeyIdentifier, if the certificate has one.
    pub fn subject_key_id(&self) -> Option<Vec<u8>> {
        self.extension::<SubjectKeyIdentifier>()
            .map(|(_, ski)| ski.0.as_bytes().to_vec())
    }

    /// The keyIdentifier of the authorityKeyIdentifier, if present.
    pub fn authority_key_id(&self) -> Option<Vec<u8>> {
        self.extension::<AuthorityKeyIdentifier>()
            .and_then(|(_, aki)| aki.key_identifier)
            .map(|id| id.as_bytes().to_vec())
    }

    /// k3s's test for a trust anchor in a bundle (hashCA, rotate-ca): no
    /// authorityKeyIdentifier, or one equal to the subjectKeyIdentifier.
    pub fn is_k3s_root(&self) -> bool {
        let aki = self.authority_key_id();
        aki.is_none() || aki == self.subject_key_id()
    }

    /// nameConstraints, if present.
    pub fn name_constraints(&self) -> Option<NameConstraints> {
        self.extension::<NameConstraints>().map(|(_, nc)| nc)
    }

    /// The subjectAltName entries (empty without the extension).
    pub fn subject_alt_names(&self) -> Vec<GeneralName> {
        self.extension::<SubjectAltName>()
            .map(|(_, san)| san.0)
            .unwrap_or_default()
    }

    /// basicConstraints, if present.
    pub fn basic_constraints(&self) -> Option<BasicConstraints> {
        self.extension::<BasicConstraints>().map(|(_, bc)| bc)
    }

    /// Whether basicConstraints says CA:TRUE.
    pub fn is_ca(&self) -> bool {
        self.basic_constraints().is_some_and(|bc| bc.ca)
    }

    /// keyUsage, if present.
    pub fn key_usage(&self) -> Option<KeyUsage> {
        self.extension::<KeyUsage>().map(|(_, ku)| ku)
    }

    /// extendedKeyUsage OIDs, if the extension is present.
    pub fn extended_key_usage(&self) -> Option<ExtendedKeyUsage> {
        self.extension::<ExtendedKeyUsage>().map(|(_, eku)| eku)
    }

    /// Start of the validity period.
    pub fn not_before(&self) -> SystemTime {
        self.not_before
    }

    /// End of the validity period.
    pub fn not_after(&self) -> SystemTime {
        self.not_after
    }

    /// Whether `at` falls within the validity period.
    pub fn is_valid_at(&self, at: SystemTime) -> bool {
        self.not_before() <= at && at <= self.not_after()
    }

    /// Checks that this is a CA valid now, with a key of a size clients take
    /// (RSA 2048 to 8192 bits); `location` (its file, or its place in a
    /// bundle) is named in the error. Every CA that signs or stands in a chain
    /// we check passes here: gen-custom-ca's inputs, sign-csr's CA, ca-check tree.
    pub fn require_usable_ca(&self, location: impl Into<Location>, now: SystemTime) -> Result<()> {
        let location = location.into();
        self.require_ca(location.clone())?;
        crate::pki::keys::check_ca_key_size(self.public_key())
            .map_err(|problem| Error::at(location.clone(), Kind::Key(problem)))?;
        let validity = |problem| {
            let subject = self.subject_cn();
            Error::at(location.clone(), Kind::Validity { subject, problem })
        };
        if now > self.not_after() {
            return Err(validity(format!(
                "expired on {}",
                format_time(self.not_after())
            )));
        }
        if now < self.not_before() {
            return Err(validity(format!(
                "is not valid before {}",
                format_time(self.not_before())
            )));
        }
        Ok(())
    }

    /// Checks that this certificate may sign others: CA:TRUE, and keyCertSign
    /// when keyUsage is present.
    pub fn require_ca(&self, location: impl Into<Location>) -> Result<()> {
        let location = location.into();
        let not_ca = |problem| {
            let subject = self.subject_cn();
            Error::at(location.clone(), Kind::NotCa { subject, problem })
        };
        if !self.is_ca() {
            return Err(not_ca("basicConstraints CA:TRUE is missing"));
        }
        if self.key_usage().is_some_and(|ku| !ku.key_cert_sign()) {
            return Err(not_ca("keyUsage lacks keyCertSign"));
        }
        Ok(())
    }

    fn extension<'a, T>(&'a self) -> Option<(bool, T)>
    where
        T: Decode<'a> + der::oid::AssociatedOid,
    {
        // A malformed or duplicated extension reads as absent: the checks that
        // depend on it then fail with a clear message of their own.
        self.parsed
            .tbs_certificate()
            .get_extension::<T>()
            .ok()
            .flatten()
    }
}

fn common_name(name: &Name) -> String {
    match name.common_name() {
        Ok(Some(cn)) => cn.value().into_owned(),
        _ => name.to_string(),
    }
}

/// Formats a time as RFC 3339 UTC (`2046-01-02T03:04:05Z`), 1950 and 9999 included.
pub fn format_time(time: SystemTime) -> String {
    let c = Civil::of(time);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

/// `time` as kubeadm's `certs check-expiration` table prints it (Go layout
/// `Jan 02, 2006 15:04 MST`), in UTC.
pub fn format_kubeadm_time(time: SystemTime) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let c = Civil::of(time);
    format!(
        "{} {:02}, {} {:02}:{:02} UTC",
        MONTHS[usize::try_from(c.month.clamp(1, 12) - 1).unwrap_or(0)],
        c.day,
        c.year,
        c.hour,
        c.minute
    )
}

/// `time` in whole seconds since 1970, negative before (a certificate may
/// date from 1950): what Prometheus and `date +%s` count.
pub fn unix_seconds(time: SystemTime) -> i64 {
    match time.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => {
            let before = before.duration();
            // A time a fraction of a second before a whole second is in that
            // earlier second.
            let whole = i64::try_from(before.as_secs()).unwrap_or(i64::MAX);
            -whole - i64::from(before.subsec_nanos() > 0)
        }
    }
}

/// A UTC calendar time, whole seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Civil {
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
}

impl Civil {
    /// The calendar time of `time` (proleptic Gregorian, before 1970 too).
    fn of(time: SystemTime) -> Civil {
        let seconds = unix_seconds(time);
        let (days, rest) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        Civil {
            year,
            month,
            day,
            hour: rest / 3600,
            minute: rest % 3600 / 60,
            second: rest % 60,
        }
    }

    /// Seconds since 1970 (negative before).
    fn unix_seconds(&self) -> i64 {
        // Howard Hinnant's days_from_civil.
        let y = self.year - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y.rem_euclid(400);
        let mp = (self.month + 9) % 12;
        let doy = (153 * mp + 2) / 5 + self.day - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        days * 86_400 + self.hour * 3600 + self.minute * 60 + self.second
    }

    fn system_time(&self) -> SystemTime {
        let seconds = self.unix_seconds();
        let magnitude = Duration::from_secs(seconds.unsigned_abs());
        if seconds < 0 {
            SystemTime::UNIX_EPOCH - magnitude
        } else {
            SystemTime::UNIX_EPOCH + magnitude
        }
    }
}

const TAG_SEQUENCE: u8 = 0x30;
const TAG_UTC_TIME: u8 = 0x17;
const TAG_GENERALIZED_TIME: u8 = 0x18;

/// One DER element: its tag, where its value lies, and where it ends.
struct Tlv {
    tag: u8,
    value: Range<usize>,
}

/// The element starting at `at` within `within` (DER: definite lengths of
/// at most four length bytes).
fn tlv(der: &[u8], at: usize, within: &Range<usize>) -> std::result::Result<Tlv, String> {
    let malformed = || "malformed DER around the validity dates".to_string();
    let byte = |i: usize| {
        if i < within.end {
            der.get(i).copied().ok_or_else(malformed)
        } else {
            Err(malformed())
        }
    };
    let tag = byte(at)?;
    let first = byte(at + 1)?;
    let (length, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return Err(malformed());
        }
        let mut length = 0usize;
        for i in 0..count {
            length = (length << 8) | usize::from(byte(at + 2 + i)?);
        }
        (length, 2 + count)
    };
    let start = at + header;
    let end = start.checked_add(length).ok_or_else(malformed)?;
    if end > within.end {
        return Err(malformed());
    }
    Ok(Tlv {
        tag,
        value: start..end,
    })
}

/// A validity date as the certificate holds it.
struct Date {
    time: SystemTime,
    year: i64,
    tag: u8,
    value: Range<usize>,
}

/// Where a certificate's signed part and dates lie, and the dates.
struct ValidityLayout {
    tbs: Range<usize>,
    not_before: Date,
    not_after: Date,
}

impl ValidityLayout {
    /// Whether a date falls before 1970, where the der crate stops.
    fn before_1970(&self) -> bool {
        self.not_before.year < 1970 || self.not_after.year < 1970
    }

    /// `der` with every date before 1970 replaced by 1970-01-01T00:00:00Z of
    /// the same encoding and length.
    fn patched(&self, der: &[u8]) -> Vec<u8> {
        let mut out = der.to_vec();
        for date in [&self.not_before, &self.not_after] {
            if date.year < 1970 {
                let stand_in: &[u8] = match date.tag {
                    TAG_UTC_TIME => b"700101000000Z",
                    _ => b"19700101000000Z",
                };
                if let Some(slot) = out.get_mut(date.value.clone()) {
                    if slot.len() == stand_in.len() {
                        slot.copy_from_slice(stand_in);
                    }
                }
            }
        }
        out
    }
}

/// Reads the signed part's span and the validity dates of a certificate's
/// DER, as RFC 5280 defines them: UTCTime `YYMMDDHHMMSSZ` (1950-2049) or
/// GeneralizedTime `YYYYMMDDHHMMSSZ` (to 9999), as Go and OpenSSL read them.
fn read_validity(der: &[u8]) -> std::result::Result<ValidityLayout, String> {
    let all = 0..der.len();
    let cert = tlv(der, 0, &all)?;
    let tbs = tlv(der, cert.value.start, &cert.value)?;
    if cert.tag != TAG_SEQUENCE || tbs.tag != TAG_SEQUENCE {
        return Err("not a certificate".into());
    }
    let mut at = tbs.value.start;
    let next = |at: &mut usize| -> std::result::Result<Tlv, String> {
        let element = tlv(der, *at, &tbs.value)?;
        *at = element.value.end;
        Ok(element)
    };
    if next(&mut at)?.tag == 0xa0 {
        next(&mut at)?; // the serial number, after the version
    }
    next(&mut at)?; // the signature algorithm
    next(&mut at)?; // the issuer
    let validity = next(&mut at)?;
    if validity.tag != TAG_SEQUENCE {
        return Err("the validity is not a SEQUENCE".into());
    }
    let first = tlv(der, validity.value.start, &validity.value)?;
    let second = tlv(der, first.value.end, &validity.value)?;
    if second.value.end != validity.value.end {
        return Err("the validity holds more than two dates".into());
    }
    Ok(ValidityLayout {
        tbs: cert.value.start..tbs.value.end,
        not_before: read_date(der, first, "notBefore")?,
        not_after: read_date(der, second, "notAfter")?,
    })
}

fn read_date(der: &[u8], element: Tlv, what: &str) -> std::result::Result<Date, String> {
    let text = der.get(element.value.clone()).unwrap_or_default();
    let bad = || format!("its {what} is not a valid UTCTime or GeneralizedTime");
    let digits = |range: Range<usize>| -> std::result::Result<i64, String> {
        let part = text.get(range).ok_or_else(bad)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return Err(bad());
        }
        Ok(part.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
    };
    let (year, rest) = match (element.tag, text.len()) {
        (TAG_UTC_TIME, 13) => {
            let yy = digits(0..2)?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, 2)
        }
        (TAG_GENERALIZED_TIME, 15) => (digits(0..4)?, 4),
        _ => return Err(bad()),
    };
    if text.last() != Some(&b'Z') {
        return Err(bad());
    }
    let civil = Civil {
        year,
        month: digits(rest..rest + 2)?,
        day: digits(rest + 2..rest + 4)?,
        hour: digits(rest + 4..rest + 6)?,
        minute: digits(rest + 6..rest + 8)?,
        second: digits(rest + 8..rest + 10)?,
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days_in_month = match civil.month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err(bad()),
    };
    if !(1..=days_in_month).contains(&civil.day)
        || civil.hour > 23
        || civil.minute > 59
        || civil.second > 59
    {
        return Err(bad());
    }
    Ok(Date {
        time: civil.system_time(),
        year,
        tag: element.tag,
        value: element.value,
    })
}

/// Every certificate of a PEM file, in order; a file without one is an error.
pub fn read_bundle(path: &Path) -> Result<Vec<Certificate>> {
    bundle_in(&PemFile::read(path)?)
}

/// Every certificate among the blocks of an already read PEM file.
pub fn bundle_in(file: &PemFile) -> Result<Vec<Certificate>> {
    let certs = file
        .certificate_ders()
        .enumerate()
        .map(|(i, der)| Certificate::from_der(&file.path, i + 1, der))
        .collect::<Result<Vec<_>>>()?;
    if certs.is_empty() {
        return Err(Error::at(
            &file.path,
            Kind::Pem(crate::pki::exports::missing_block(file, pem::CERTIFICATE)),
        ));
    }
    Ok(certs)
}

/// Concatenates certificates as PEM: a bundle file.
pub fn bundle_pem<'a>(certs: impl IntoIterator<Item = &'a Certificate>) -> String {
    certs.into_iter().map(Certificate::to_pem).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Calendar arithmetic on both sides of 1970, at the ends RFC 5280 allows.
    #[test]
    fn times_from_1950_to_9999_round_trip() {
        for (text, seconds) in [
            ("1950-01-01T00:00:00Z", -631_152_000),
            ("1960-02-29T12:34:56Z", -310_476_304),
            ("1969-12-31T23:59:59Z", -1),
            ("1970-01-01T00:00:00Z", 0),
            ("2000-02-29T00:00:00Z", 951_782_400),
            ("9999-12-31T23:59:59Z", 253_402_300_799),
        ] {
            let magnitude = Duration::from_secs(u64::try_from(i64::abs(seconds)).unwrap());
            let time = if seconds < 0 {
                SystemTime::UNIX_EPOCH - magnitude
            } else {
                SystemTime::UNIX_EPOCH + magnitude
            };
            assert_eq!(format_time(time), text);
            assert_eq!(Civil::of(time).unix_seconds(), seconds, "{text}");
        }
        let just_before = SystemTime::UNIX_EPOCH - Duration::from_millis(1);
        assert_eq!(format_time(just_before), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn dates_are_read_strictly() {
        let date = |tag: u8, text: &[u8]| {
            let mut der = vec![tag, u8::try_from(text.len()).unwrap()];
            der.extend_from_slice(text);
            let element = tlv(&der, 0, &(0..der.len())).unwrap();
            read_date(&der, element, "notAfter").map(|d| format_time(d.time))
        };
        assert_eq!(
            date(TAG_UTC_TIME, b"500101000000Z").unwrap(),
            "1950-01-01T00:00:00Z"
        );
        assert_eq!(
            date(TAG_UTC_TIME, b"491231235959Z").unwrap(),
            "2049-12-31T23:59:59Z"
        );
        assert_eq!(
            date(TAG_GENERALIZED_TIME, b"19600101000000Z").unwrap(),
            "1960-01-01T00:00:00Z"
        );
        for (tag, bad) in [
            (TAG_UTC_TIME, &b"600230000000Z"[..]),
            (TAG_UTC_TIME, b"6001010000Z"),
            (TAG_UTC_TIME, b"600101000060Z"),
            (TAG_UTC_TIME, b"600101000000+"),
            (TAG_GENERALIZED_TIME, b"19600101000000.5Z"),
            (TAG_GENERALIZED_TIME, b"1960010100000 Z"),
        ] {
            assert!(date(tag, bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
