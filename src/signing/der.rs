//! Just enough DER to read what `fsverity sign` writes and the certificates it names: the PKCS#7 SignerInfo
//! (issuer, serial, algorithms, signature) and an X.509 certificate's issuer, serial and subject. Every read is
//! bounds-checked and returns an error naming what was missing; nothing here panics on input.

/// One TLV: its tag, its content, and the whole encoding (tag and length included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    pub tag: u8,
    pub value: &'a [u8],
    pub raw: &'a [u8],
}

pub const SEQUENCE: u8 = 0x30;
pub const SET: u8 = 0x31;
pub const INTEGER: u8 = 0x02;
pub const OID: u8 = 0x06;
pub const OCTET_STRING: u8 = 0x04;
pub const CONTEXT_0: u8 = 0xa0;

/// A cursor over consecutive TLVs.
#[derive(Debug, Clone, Copy)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self { rest: data }
    }

    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The next TLV, whatever its tag.
    pub fn any(&mut self, what: &str) -> Result<Tlv<'a>, String> {
        let d = self.rest;
        let short = || format!("{what}: truncated");
        let (tag, len, hdr) = header(d, what)?;
        let end = hdr.checked_add(len).ok_or_else(short)?;
        let raw = d.get(..end).ok_or_else(short)?;
        self.rest = &d[end..];
        Ok(Tlv {
            tag,
            value: &raw[hdr..],
            raw,
        })
    }

    /// The next TLV, which must have `tag`.
    pub fn expect(&mut self, tag: u8, what: &str) -> Result<Tlv<'a>, String> {
        let t = self.any(what)?;
        if t.tag != tag {
            return Err(format!(
                "{what}: expected tag {tag:#04x}, found {:#04x}",
                t.tag
            ));
        }
        Ok(t)
    }

    /// Skips the next TLV if it has `tag`.
    pub fn skip_if(&mut self, tag: u8) {
        if self.rest.first() == Some(&tag) {
            let mut probe = *self;
            if probe.any("").is_ok() {
                *self = probe;
            }
        }
    }
}

/// A TLV's header: its tag, the content length it announces and the header's own length. The content need not be
/// present (see [`content_is_signed_data`]); [`Reader::any`] checks that it is.
pub fn header(d: &[u8], what: &str) -> Result<(u8, usize, usize), String> {
    let short = || format!("{what}: truncated");
    let tag = *d.first().ok_or_else(short)?;
    if tag & 0x1f == 0x1f {
        return Err(format!("{what}: multi-byte tags are not used here"));
    }
    let l0 = *d.get(1).ok_or_else(short)?;
    if l0 < 0x80 {
        return Ok((tag, usize::from(l0), 2));
    }
    let n = usize::from(l0 & 0x7f);
    if n == 0 || n > 4 {
        return Err(format!("{what}: bad length encoding"));
    }
    let bytes = d.get(2..2 + n).ok_or_else(short)?;
    Ok((
        tag,
        bytes.iter().fold(0usize, |a, b| (a << 8) | usize::from(*b)),
        2 + n,
    ))
}

/// The signer of a PKCS#7 signedData message, as `fsverity sign` writes it (detached, no signed attributes).
#[derive(Debug, PartialEq, Eq)]
pub struct Signer<'a> {
    /// DER of the issuer Name.
    pub issuer: &'a [u8],
    /// Content of the serialNumber INTEGER.
    pub serial: &'a [u8],
    pub digest_oid: &'a [u8],
    pub sig_alg_oid: &'a [u8],
    pub signature: &'a [u8],
    /// Signed attributes are present: the signature then covers them, not the digest alone.
    pub has_attributes: bool,
}

const SIGNED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];

/// Whether `der` starts with a ContentInfo SEQUENCE whose contentType is signedData (what `enroll` checks before
/// storing a signature; the kernel verifies the whole message).
///
/// Only the ContentInfo header and its first element are read: a signature cut short further on is stored as it is
/// (`enroll` is no verifier; the gate then refuses it, and `check` says why).
pub fn content_is_signed_data(der: &[u8]) -> Result<(), String> {
    let (tag, _, hdr) = header(der, "ContentInfo")?;
    if tag != SEQUENCE {
        return Err("ContentInfo is not a SEQUENCE".into());
    }
    let oid = Reader::new(&der[hdr..]).expect(OID, "ContentInfo.contentType")?;
    if oid.value != SIGNED_DATA {
        return Err("ContentInfo is not signedData".into());
    }
    Ok(())
}

/// Reads the first SignerInfo of a DER PKCS#7 signedData message.
pub fn pkcs7_signer(der: &[u8]) -> Result<Signer<'_>, String> {
    let ci = Reader::new(der).expect(SEQUENCE, "ContentInfo")?;
    let mut r = Reader::new(ci.value);
    let oid = r.expect(OID, "ContentInfo.contentType")?;
    if oid.value != SIGNED_DATA {
        return Err("ContentInfo is not signedData".into());
    }
    let explicit = r.expect(CONTEXT_0, "ContentInfo.content")?;
    let sd = Reader::new(explicit.value).expect(SEQUENCE, "SignedData")?;
    let mut r = Reader::new(sd.value);
    r.expect(INTEGER, "SignedData.version")?;
    r.expect(SET, "SignedData.digestAlgorithms")?;
    r.expect(SEQUENCE, "SignedData.contentInfo")?;
    r.skip_if(0xa0); // certificates
    r.skip_if(0xa1); // crls
    let infos = r.expect(SET, "SignedData.signerInfos")?;
    let si = Reader::new(infos.value).expect(SEQUENCE, "SignerInfo")?;
    let mut r = Reader::new(si.value);
    r.expect(INTEGER, "SignerInfo.version")?;
    let sid = r.any("SignerInfo.sid")?;
    if sid.tag != SEQUENCE {
        return Err(
            "the signer is named by key identifier, not issuer and serial number (sign with `fsverity sign`)"
                .into(),
        );
    }
    let mut ias = Reader::new(sid.value);
    let issuer = ias.expect(SEQUENCE, "SignerInfo.issuer")?.raw;
    let serial = ias.expect(INTEGER, "SignerInfo.serialNumber")?.value;
    let digest_alg = r.expect(SEQUENCE, "SignerInfo.digestAlgorithm")?;
    let digest_oid = Reader::new(digest_alg.value)
        .expect(OID, "digestAlgorithm OID")?
        .value;
    let mut has_attributes = false;
    let mut next = r.any("SignerInfo.digestEncryptionAlgorithm")?;
    if next.tag == CONTEXT_0 {
        has_attributes = true;
        next = r.any("SignerInfo.digestEncryptionAlgorithm")?;
    }
    if next.tag != SEQUENCE {
        return Err("SignerInfo.digestEncryptionAlgorithm: not an AlgorithmIdentifier".into());
    }
    let sig_alg_oid = Reader::new(next.value)
        .expect(OID, "digestEncryptionAlgorithm OID")?
        .value;
    let signature = r.expect(OCTET_STRING, "SignerInfo.encryptedDigest")?.value;
    Ok(Signer {
        issuer,
        serial,
        digest_oid,
        sig_alg_oid,
        signature,
        has_attributes,
    })
}

/// An X.509 certificate's issuer (DER), serial (INTEGER content) and subject (DER).
pub type CertIds<'a> = (&'a [u8], &'a [u8], &'a [u8]);

/// The ids of an X.509 certificate.
pub fn certificate_ids(der: &[u8]) -> Result<CertIds<'_>, String> {
    let cert = Reader::new(der).expect(SEQUENCE, "Certificate")?;
    let tbs = Reader::new(cert.value).expect(SEQUENCE, "tbsCertificate")?;
    let mut r = Reader::new(tbs.value);
    r.skip_if(CONTEXT_0); // version
    let serial = r.expect(INTEGER, "serialNumber")?.value;
    r.expect(SEQUENCE, "signature")?;
    let issuer = r.expect(SEQUENCE, "issuer")?.raw;
    r.expect(SEQUENCE, "validity")?;
    let subject = r.expect(SEQUENCE, "subject")?.raw;
    Ok((issuer, serial, subject))
}

/// The CommonName of a DER Name, for messages ("?" when there is none).
pub fn common_name(name: &[u8]) -> String {
    const CN: &[u8] = &[0x55, 0x04, 0x03];
    let Ok(seq) = Reader::new(name).expect(SEQUENCE, "Name") else {
        return "?".into();
    };
    let mut rdns = Reader::new(seq.value);
    while let Ok(rdn) = rdns.expect(SET, "RDN") {
        let mut atvs = Reader::new(rdn.value);
        while let Ok(atv) = atvs.expect(SEQUENCE, "AttributeTypeAndValue") {
            let mut f = Reader::new(atv.value);
            if f.expect(OID, "type").is_ok_and(|o| o.value == CN) {
                if let Ok(v) = f.any("value") {
                    return String::from_utf8_lossy(v.value).into_owned();
                }
            }
        }
    }
    "?".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_truncation() {
        let mut r = Reader::new(&[0x04, 0x02, 0xaa, 0xbb, 0x05, 0x00]);
        let t = r.expect(OCTET_STRING, "x").unwrap();
        assert_eq!(t.value, &[0xaa, 0xbb]);
        assert_eq!(r.any("y").unwrap().tag, 0x05);
        assert!(r.is_empty());
        let mut long = vec![0x04, 0x82, 0x01, 0x00];
        long.extend(std::iter::repeat_n(7u8, 256));
        assert_eq!(Reader::new(&long).any("l").unwrap().value.len(), 256);
        for bad in [
            &[][..],
            &[0x04],
            &[0x04, 0x05, 1],
            &[0x04, 0x85, 1, 1, 1, 1, 1],
            &[0x1f, 0],
        ] {
            assert!(Reader::new(bad).any("bad").is_err(), "{bad:?}");
        }
        assert!(Reader::new(&[0x02, 0x00])
            .expect(SEQUENCE, "seq")
            .unwrap_err()
            .contains("expected tag 0x30"));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for data in [
            &b"garbage"[..],
            &[0x30, 0x03, 0x06, 0x01, 0x00],
            &[0x30, 0x80],
        ] {
            assert!(pkcs7_signer(data).is_err());
            assert!(certificate_ids(data).is_err());
        }
        assert_eq!(common_name(b"junk"), "?");
    }
}
