//! Signed, expiring upload and read grants, the sandbox's stand-in for Azure SAS tokens.
//!
//! A grant names one registration (content id + generation) and an expiry; it is
//! `base64url(payload) "." base64url(HMAC-SHA256(secret, payload))`, so a client that mangles,
//! re-encodes or reuses a URL from an earlier registration is caught.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use super::state::UploadTarget;

/// Which URL a grant is for; a read grant cannot be used to write and vice versa.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GrantKind {
    Write,
    Read,
}

impl GrantKind {
    fn tag(self) -> &'static str {
        match self {
            GrantKind::Write => "w",
            GrantKind::Read => "r",
        }
    }
}

/// Why a grant was refused (the blob store answers 403 with this text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum GrantError {
    #[error("malformed signature token")]
    Malformed,
    #[error("signature mismatch")]
    BadSignature,
    #[error("token is for another operation")]
    WrongKind,
    #[error("token expired")]
    Expired,
}

pub(crate) struct Signer {
    secret: [u8; 32],
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer([redacted])")
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

impl Signer {
    pub fn random() -> Self {
        Self {
            secret: rand::random(),
        }
    }

    pub fn sign(&self, kind: GrantKind, target: &UploadTarget, ttl_ms: u64) -> String {
        let expires = now_ms().saturating_add(ttl_ms);
        let payload = format!(
            "{}|{}|{}|{}",
            kind.tag(),
            target.content_id,
            target.generation,
            expires
        );
        let mac = hmac_sha256(&self.secret, payload.as_bytes());
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode(mac)
        )
    }

    pub fn verify(&self, kind: GrantKind, token: &str) -> Result<UploadTarget, GrantError> {
        let (payload_b64, mac_b64) = token.split_once('.').ok_or(GrantError::Malformed)?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload_b64)
            .map_err(|_| GrantError::Malformed)?;
        let mac = URL_SAFE_NO_PAD
            .decode(mac_b64)
            .map_err(|_| GrantError::Malformed)?;
        let expected = hmac_sha256(&self.secret, &payload);
        if !constant_time_eq(&mac, &expected) {
            return Err(GrantError::BadSignature);
        }
        let payload = String::from_utf8(payload).map_err(|_| GrantError::Malformed)?;
        let mut parts = payload.split('|');
        let (Some(tag), Some(id), Some(generation), Some(expires), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(GrantError::Malformed);
        };
        if tag != kind.tag() {
            return Err(GrantError::WrongKind);
        }
        let expires: u64 = expires.parse().map_err(|_| GrantError::Malformed)?;
        if now_ms() > expires {
            return Err(GrantError::Expired);
        }
        Ok(UploadTarget {
            content_id: id.to_owned(),
            generation: generation.parse().map_err(|_| GrantError::Malformed)?,
        })
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// RFC 2104 HMAC with SHA-256 (block size 64).
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(message);
    let inner = inner.finalize();
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner);
    outer.finalize().into()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            super::super::state::hex(&mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn grants_round_trip_and_reject_tampering_kind_and_expiry() {
        let signer = Signer::random();
        let target = UploadTarget {
            content_id: "cont_1".into(),
            generation: 2,
        };
        let token = signer.sign(GrantKind::Write, &target, 60_000);
        assert_eq!(signer.verify(GrantKind::Write, &token).unwrap(), target);
        assert_eq!(
            signer.verify(GrantKind::Read, &token),
            Err(GrantError::WrongKind)
        );
        let mut tampered = token.clone();
        tampered.insert(0, 'A');
        assert!(signer.verify(GrantKind::Write, &tampered).is_err());
        let other = Signer::random();
        assert_eq!(
            other.verify(GrantKind::Write, &token),
            Err(GrantError::BadSignature)
        );
        let expired = signer.sign(GrantKind::Write, &target, 0);
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert_eq!(
            signer.verify(GrantKind::Write, &expired),
            Err(GrantError::Expired)
        );
    }
}
