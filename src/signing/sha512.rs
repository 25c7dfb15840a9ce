//! SHA-512 (RustCrypto's `sha2`), for `bpfgate check` of sha512 fs-verity files.

use sha2::Digest as _;

/// SHA-512 of `data`.
pub fn digest(data: &[u8]) -> [u8; 64] {
    sha2::Sha512::digest(data).into()
}

#[cfg(test)]
mod tests {
    use crate::signing::sha256::hex;

    #[test]
    fn nist_vectors() {
        for (input, want) in [
            (&b"abc"[..], "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"),
            (b"", "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"),
            (&[b'a'; 200], "4b11459c33f52a22ee8236782714c150a3b2c60994e9acee17fe68947a3e6789f31e7668394592da7bef827cddca88c4e6f86e4df7ed1ae6cba71f3e98faee9f"),
        ] {
            assert_eq!(hex(&super::digest(input)), want, "{} bytes", input.len());
        }
    }
}
