//! Keyed hashing of key identities, so that the free-text model can be trained and run on pseudonymised
//! data.
//!
//! `KeyId::Code(name)` becomes `KeyId::Hashed(h)` where `h` is the first 8 bytes (big-endian) of
//! HMAC-SHA256 (RFC 2104, FIPS 180-4) of the UTF-8 name under a secret (per tenant). This is the same
//! construction as `keyprint-client`'s `KeyHasher`, so hashes computed here match what clients send.
//! The free-text model only compares key identities for equality, so with one secret for the population
//! model, the enrolment and the probes, scores are bit-identical to those on plain identities.

use hmac::{Hmac, Mac};
use keyprint_core::event::{KeyEvent, KeyId, Stream};
use sha2::Sha256;

/// A keyed hash of key identities (HMAC-SHA256 truncated to 64 bits).
#[derive(Clone)]
pub struct KeyedHash {
    mac: Hmac<Sha256>,
}

impl KeyedHash {
    /// A hash keyed by `secret` (any length; 32 random bytes recommended).
    pub fn new(secret: &[u8]) -> Self {
        KeyedHash {
            mac: Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts any key length"),
        }
    }

    /// First 8 bytes (big-endian) of HMAC-SHA256(secret, `code`).
    pub fn hash_code(&self, code: &str) -> u64 {
        let mut m = self.mac.clone();
        m.update(code.as_bytes());
        let out = m.finalize().into_bytes();
        u64::from_be_bytes(out[..8].try_into().expect("32-byte digest"))
    }

    /// `KeyId::Hashed` for a key identity; an already hashed identity passes unchanged.
    pub fn hash_key(&self, key: &KeyId) -> KeyId {
        match key {
            KeyId::Code(c) => KeyId::Hashed(self.hash_code(c)),
            KeyId::Hashed(h) => KeyId::Hashed(*h),
        }
    }

    /// The events with every identity hashed (times unchanged).
    pub fn hash_events(&self, events: &[KeyEvent]) -> Vec<KeyEvent> {
        events
            .iter()
            .map(|e| KeyEvent {
                key: self.hash_key(&e.key),
                press_us: e.press_us,
                release_us: e.release_us,
            })
            .collect()
    }

    /// A stream with every identity hashed (origin and times unchanged).
    pub fn hash_stream(&self, stream: &Stream<KeyEvent>) -> Stream<KeyEvent> {
        Stream {
            origin: stream.origin.clone(),
            events: self.hash_events(&stream.events),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4231_case_2_prefix() {
        // HMAC-SHA256("Jefe", "what do ya want for nothing?") = 5bdcc146bf60754e 6a04...
        let h = KeyedHash::new(b"Jefe").hash_code("what do ya want for nothing?");
        assert_eq!(h, 0x5bdc_c146_bf60_754e);
    }

    #[test]
    fn equal_keys_hash_equal_and_secrets_differ() {
        let a = KeyedHash::new(b"tenant-a");
        let b = KeyedHash::new(b"tenant-b");
        let k = KeyId::code("KeyA");
        assert_eq!(a.hash_key(&k), a.hash_key(&KeyId::code("KeyA")));
        assert_ne!(a.hash_key(&k), a.hash_key(&KeyId::code("KeyB")));
        assert_ne!(a.hash_key(&k), b.hash_key(&k));
        let h = a.hash_key(&k);
        assert_eq!(a.hash_key(&h), h);
    }
}
