//! Certificate files for BPFGATE_CERTS: DER, or PEM holding one or more CERTIFICATE blocks. Used by build.rs
//! (which bakes them in) and unit-tested here; a bad file fails the build with the reason.

use std::path::Path;

/// Reads one file of certificates: DER, or PEM with one or more CERTIFICATE blocks.
pub fn read(path: &Path) -> Result<Vec<(String, Vec<u8>)>, String> {
    let data = std::fs::read(path).map_err(|e| e.to_string())?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    parse(&name, &data)
}

/// Parses DER, or PEM with one or more CERTIFICATE blocks; names each `NAME#INDEX`.
pub fn parse(name: &str, data: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let ders = if data.starts_with(b"-----BEGIN") || data.windows(11).any(|w| w == b"-----BEGIN ") {
        pem_certificates(data)?
    } else {
        vec![data.to_vec()]
    };
    if ders.is_empty() {
        return Err("no CERTIFICATE block in PEM file".into());
    }
    ders.into_iter()
        .enumerate()
        .map(|(i, der)| {
            check_der_sequence(&der)
                .map_err(|e| format!("certificate {i}: not DER X.509 ({e})"))?;
            Ok((format!("{name}#{i}"), der))
        })
        .collect()
}

fn pem_certificates(data: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let text = std::str::from_utf8(data).map_err(|_| "PEM file is not text".to_string())?;
    let mut out = Vec::new();
    let mut body: Option<String> = None;
    for line in text.lines().map(str::trim) {
        match (&mut body, line) {
            (None, "-----BEGIN CERTIFICATE-----") => body = Some(String::new()),
            (Some(b), "-----END CERTIFICATE-----") => {
                out.push(base64(b)?);
                body = None;
            }
            (Some(b), l) => b.push_str(l),
            (None, _) => {}
        }
    }
    if body.is_some() {
        return Err("unterminated CERTIFICATE block".into());
    }
    Ok(out)
}

fn base64(s: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes().filter(|c| !c.is_ascii_whitespace() && *c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return Err(format!("invalid base64 character {:?}", c as char)),
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Ok(out)
}

/// An X.509 certificate is one DER SEQUENCE spanning the whole buffer (read with the one DER reader, der.rs; the
/// kernel parses the certificate itself when the gate loads it, and build.rs checks baked ones fully).
fn check_der_sequence(der: &[u8]) -> Result<(), String> {
    if der.first() != Some(&super::der::SEQUENCE) {
        return Err("does not start with a SEQUENCE".into());
    }
    let mut r = super::der::Reader::new(der);
    let cert = r.any("certificate")?;
    if !r.is_empty() {
        return Err(format!(
            "length {} does not match file size {}",
            cert.raw.len(),
            der.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal DER SEQUENCE standing in for a certificate (the kernel parses the real thing at load).
    fn der(len: usize) -> Vec<u8> {
        let mut v = if len < 0x80 {
            vec![0x30, len as u8]
        } else {
            vec![0x30, 0x82, (len >> 8) as u8, len as u8]
        };
        v.extend((0..len).map(|i| i as u8));
        v
    }

    fn b64(data: &[u8]) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut s = String::new();
        for c in data.chunks(3) {
            let n = (u32::from(c[0]) << 16)
                | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
                | u32::from(*c.get(2).unwrap_or(&0));
            for i in 0..4 {
                s.push(if i <= c.len() {
                    A[(n >> (18 - 6 * i) & 63) as usize] as char
                } else {
                    '='
                });
            }
        }
        s
    }

    fn pem(blocks: &[&[u8]]) -> Vec<u8> {
        let mut s = String::from("subject=CN = test\n");
        for b in blocks {
            s += "-----BEGIN CERTIFICATE-----\n";
            for line in b64(b).as_bytes().chunks(64) {
                s += std::str::from_utf8(line).unwrap();
                s += "\n";
            }
            s += "-----END CERTIFICATE-----\n";
        }
        s.into_bytes()
    }

    #[test]
    fn accepts_der_and_pem_bundles() {
        let (a, b) = (der(40), der(300));
        let got = parse("c.der", &a).unwrap();
        assert_eq!(got, vec![("c.der#0".to_string(), a.clone())]);
        let got = parse("bundle.pem", &pem(&[&a, &b])).unwrap();
        assert_eq!(
            got.iter().map(|(_, d)| d.clone()).collect::<Vec<_>>(),
            vec![a, b]
        );
        assert_eq!(got[1].0, "bundle.pem#1");
    }

    #[test]
    fn rejects_what_is_not_a_certificate() {
        let mut trailing = der(40);
        trailing.push(0);
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"hello".to_vec(), "SEQUENCE"),
            (trailing, "does not match"),
            (vec![0x30], "truncated"),
            (vec![0x30, 0x85, 0, 0, 0, 0, 0], "bad length"),
            (vec![0x30, 0x82, 0x01], "truncated"),
            (
                b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".to_vec(),
                "no CERTIFICATE",
            ),
            (
                b"-----BEGIN CERTIFICATE-----\nAAAA\n".to_vec(),
                "unterminated",
            ),
            (
                b"-----BEGIN CERTIFICATE-----\n@@@@\n-----END CERTIFICATE-----\n".to_vec(),
                "base64",
            ),
        ];
        for (data, want) in cases {
            let e = parse("x", &data).unwrap_err();
            assert!(e.contains(want), "{e:?} should mention {want:?}");
        }
    }
}
