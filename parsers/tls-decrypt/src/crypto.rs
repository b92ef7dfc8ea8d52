//! Keys and record protection: which suites lagtap decrypts, the TLS 1.3 key
//! schedule (HKDF-Expand-Label, RFC 8446 §7.1), the TLS 1.2 key block (the PRF of
//! RFC 5246 §5), and opening a record with ring's AEADs.
//!
//! The derivations are a few lines over ring's HKDF and HMAC; no crate offers them
//! without also wanting to run the handshake itself.

use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::{hkdf, hmac};

/// Hash of a suite's key schedule.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Hash {
    Sha256,
    Sha384,
}

impl Hash {
    pub fn len(self) -> usize {
        match self {
            Hash::Sha256 => 32,
            Hash::Sha384 => 48,
        }
    }
    fn hkdf(self) -> hkdf::Algorithm {
        match self {
            Hash::Sha256 => hkdf::HKDF_SHA256,
            Hash::Sha384 => hkdf::HKDF_SHA384,
        }
    }
    fn hmac(self) -> hmac::Algorithm {
        match self {
            Hash::Sha256 => hmac::HMAC_SHA256,
            Hash::Sha384 => hmac::HMAC_SHA384,
        }
    }
}

/// An AEAD cipher suite lagtap can decrypt.
#[derive(Copy, Clone, Debug)]
pub struct Suite {
    pub aead: &'static aead::Algorithm,
    pub hash: Hash,
    /// TLS 1.2: AES-GCM carries an 8-byte explicit nonce per record and a 4-byte
    /// implicit salt; ChaCha20-Poly1305 (RFC 7905) and TLS 1.3 a 12-byte IV.
    pub explicit_nonce: bool,
}

/// The suite by IANA id, for the version negotiated: AES-128/256-GCM and
/// ChaCha20-Poly1305 with any key exchange. `None` for the rest (CBC, CCM, ...),
/// which the caller reports by name as undecryptable.
pub fn suite(id: u16, tls13: bool) -> Option<Suite> {
    let (aead, hash): (&'static aead::Algorithm, Hash) = match id {
        0x1301 => (&aead::AES_128_GCM, Hash::Sha256),
        0x1302 => (&aead::AES_256_GCM, Hash::Sha384),
        0x1303 => (&aead::CHACHA20_POLY1305, Hash::Sha256),
        _ if tls13 => return None,
        _ => {
            let s = tls_parser::TlsCipherSuite::from_id(id)?;
            use tls_parser::{TlsCipherEnc as E, TlsCipherEncMode as M, TlsPRF as P};
            let hash = match s.prf {
                P::Sha384 => Hash::Sha384,
                P::Sha256 | P::Default => Hash::Sha256,
                _ => return None,
            };
            match (s.enc, s.enc_mode, s.enc_size) {
                (E::Aes, M::Gcm, 128) => (&aead::AES_128_GCM, hash),
                (E::Aes, M::Gcm, 256) => (&aead::AES_256_GCM, hash),
                (E::Chacha20_Poly1305, _, _) => (&aead::CHACHA20_POLY1305, Hash::Sha256),
                _ => return None,
            }
        }
    };
    Some(Suite {
        aead,
        hash,
        explicit_nonce: !tls13 && aead != &aead::CHACHA20_POLY1305,
    })
}

/// The IANA name of a suite, for reports.
pub fn suite_name(id: u16) -> String {
    match id {
        0x1301 => "TLS_AES_128_GCM_SHA256".into(),
        0x1302 => "TLS_AES_256_GCM_SHA384".into(),
        0x1303 => "TLS_CHACHA20_POLY1305_SHA256".into(),
        _ => tls_parser::TlsCipherSuite::from_id(id)
            .map_or_else(|| format!("0x{id:04x}"), |s| s.name.to_string()),
    }
}

struct Len(usize);
impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-Expand-Label(secret, label, context, len) of RFC 8446 §7.1.
pub fn expand_label(
    hash: Hash,
    secret: &[u8],
    label: &[u8],
    context: &[u8],
    len: usize,
) -> Vec<u8> {
    let prk = hkdf::Prk::new_less_safe(hash.hkdf(), secret);
    let full_label_len = (6 + label.len()) as u8;
    let info: [&[u8]; 6] = [
        &(len as u16).to_be_bytes(),
        &[full_label_len],
        b"tls13 ",
        label,
        &[context.len() as u8],
        context,
    ];
    let mut out = vec![0u8; len];
    // Lengths here are at most 48 bytes, far below HKDF's 255·hash limit.
    if let Ok(okm) = prk.expand(&info, Len(len)) {
        let _ = okm.fill(&mut out);
    }
    out
}

/// The TLS 1.2 PRF, P_hash(secret, label + seed) (RFC 5246 §5).
pub fn prf12(hash: Hash, secret: &[u8], label: &[u8], seed: &[u8], len: usize) -> Vec<u8> {
    let key = hmac::Key::new(hash.hmac(), secret);
    let mut label_seed = Vec::with_capacity(label.len() + seed.len());
    label_seed.extend_from_slice(label);
    label_seed.extend_from_slice(seed);
    let mut a = hmac::sign(&key, &label_seed).as_ref().to_vec();
    let mut out = Vec::with_capacity(len + hash.len());
    while out.len() < len {
        let mut ctx = hmac::Context::with_key(&key);
        ctx.update(&a);
        ctx.update(&label_seed);
        out.extend_from_slice(ctx.sign().as_ref());
        a = hmac::sign(&key, &a).as_ref().to_vec();
    }
    out.truncate(len);
    out
}

/// One direction's record protection: key, IV and the next sequence number.
pub struct DirKeys {
    key: LessSafeKey,
    iv: [u8; 12],
    pub seq: u64,
    explicit_nonce: bool,
    tls13: bool,
    /// TLS 1.3: the traffic secret these keys came from (KeyUpdate derives the next).
    pub secret: Vec<u8>,
    pub hash: Hash,
}

impl DirKeys {
    /// TLS 1.3 keys from a traffic secret.
    pub fn tls13(suite: &Suite, secret: &[u8]) -> Option<DirKeys> {
        let key = expand_label(suite.hash, secret, b"key", b"", suite.aead.key_len());
        let iv = expand_label(suite.hash, secret, b"iv", b"", 12);
        Some(DirKeys {
            key: LessSafeKey::new(UnboundKey::new(suite.aead, &key).ok()?),
            iv: iv.try_into().ok()?,
            seq: 0,
            explicit_nonce: false,
            tls13: true,
            secret: secret.to_vec(),
            hash: suite.hash,
        })
    }

    /// The keys after a KeyUpdate (RFC 8446 §7.2).
    pub fn updated(&self, suite: &Suite) -> Option<DirKeys> {
        let next = expand_label(
            self.hash,
            &self.secret,
            b"traffic upd",
            b"",
            self.hash.len(),
        );
        DirKeys::tls13(suite, &next)
    }

    /// TLS 1.2 keys for (client, server) from the master secret.
    pub fn tls12(
        suite: &Suite,
        master: &[u8],
        client_random: &[u8],
        server_random: &[u8],
    ) -> Option<(DirKeys, DirKeys)> {
        let key_len = suite.aead.key_len();
        let iv_len = if suite.explicit_nonce { 4 } else { 12 };
        let mut seed = server_random.to_vec();
        seed.extend_from_slice(client_random);
        let block = prf12(
            suite.hash,
            master,
            b"key expansion",
            &seed,
            2 * (key_len + iv_len),
        );
        let (ck, rest) = block.split_at(key_len);
        let (sk, rest) = rest.split_at(key_len);
        let (civ, siv) = rest.split_at(iv_len);
        let make = |k: &[u8], iv: &[u8]| -> Option<DirKeys> {
            let mut iv12 = [0u8; 12];
            iv12[..iv.len()].copy_from_slice(iv);
            Some(DirKeys {
                key: LessSafeKey::new(UnboundKey::new(suite.aead, k).ok()?),
                iv: iv12,
                seq: 0,
                explicit_nonce: suite.explicit_nonce,
                tls13: false,
                secret: Vec::new(),
                hash: suite.hash,
            })
        };
        Some((make(ck, civ)?, make(sk, siv)?))
    }

    /// Opens the record with header `header` (5 bytes) and body `body` (ciphertext
    /// and tag, after TLS 1.2's explicit nonce) at sequence number `seq`, in place.
    /// Returns the plaintext range in `body`, which always starts at 0: TLS 1.2's
    /// plaintext is moved over its explicit nonce by the decryption itself (ring's
    /// `open_within`), so the caller never shifts a 16 KB record to drop 8 bytes.
    /// TLS 1.3: the range still holds the content type and padding at its end.
    pub fn open(
        &self,
        seq: u64,
        header: &[u8; 5],
        body: &mut [u8],
    ) -> Option<std::ops::Range<usize>> {
        let tag = self.key.algorithm().tag_len();
        let mut nonce = self.iv;
        let start = if self.explicit_nonce {
            if body.len() < 8 + tag {
                return None;
            }
            nonce[4..].copy_from_slice(&body[..8]);
            8
        } else {
            if body.len() < tag {
                return None;
            }
            for (n, s) in nonce[4..].iter_mut().zip(seq.to_be_bytes()) {
                *n ^= s;
            }
            0
        };
        let plain_len = body.len() - start - tag;
        let aad_tls12: [u8; 13];
        let aad: &[u8] = if self.tls13 {
            header
        } else {
            let mut a = [0u8; 13];
            a[..8].copy_from_slice(&seq.to_be_bytes());
            a[8..11].copy_from_slice(&header[..3]);
            a[11..].copy_from_slice(&(plain_len as u16).to_be_bytes());
            aad_tls12 = a;
            &aad_tls12
        };
        self.key
            .open_within(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                body,
                start..,
            )
            .ok()?;
        Some(0..plain_len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 8448 §3 (simple 1-RTT handshake): the server handshake traffic secret
    /// and the key and IV derived from it.
    #[test]
    fn expand_label_gives_rfc8448s_handshake_keys() {
        let secret = unhex(
            "b6 7b 7d 69 0c c1 6c 4e 75 e5 42 13 cb 2d 37 b4 e9 c9 12 bc de d9 10 5d
             42 be fd 59 d3 91 ad 38",
        );
        assert_eq!(
            expand_label(Hash::Sha256, &secret, b"key", b"", 16),
            unhex("3f ce 51 60 09 c2 17 27 d0 f2 e4 e8 6e e4 03 bc")
        );
        assert_eq!(
            expand_label(Hash::Sha256, &secret, b"iv", b"", 12),
            unhex("5d 31 3e b2 67 12 76 ee 13 00 0b 30")
        );
    }

    #[test]
    fn only_aead_suites_are_decryptable() {
        assert!(suite(0x1301, true).is_some());
        assert!(suite(0xc02f, false).unwrap().explicit_nonce); // ECDHE-RSA-AES128-GCM-SHA256
        assert_eq!(suite(0xc030, false).unwrap().hash, Hash::Sha384);
        assert!(!suite(0xcca8, false).unwrap().explicit_nonce); // ECDHE-RSA-CHACHA20
        assert!(suite(0xc013, false).is_none()); // ECDHE-RSA-AES128-SHA (CBC)
        assert_eq!(suite_name(0xc013), "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA");
    }
}
