//! Pseudonymous key identities: the one keyed hash that turns a W3C `KeyboardEvent.code` name into
//! [`KeyId::Hashed`]. Clients apply it before events leave the device; benchmarks apply it to show that the
//! detectors cost nothing on pseudonymised data. Every component must use this type so that hashes agree.
//!
//! Construction: the first 8 bytes, big-endian, of HMAC-SHA256 (RFC 2104, FIPS 180-4) of the UTF-8 code name,
//! keyed by a per-tenant secret that the server never sees. Equal keys hash equally; the server cannot invert
//! the hash without the secret (a dictionary of ~150 key names is useless without it).

use crate::event::{KeyEvent, KeyId, Stream};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// A keyed hash of key identities (HMAC-SHA256 truncated to 64 bits), keyed by a per-tenant secret.
#[derive(Clone)]
pub struct KeyHasher {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for KeyHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyHasher(<secret>)")
    }
}

impl KeyHasher {
    /// A hasher keyed by `secret` (any length; 32 random bytes recommended).
    pub fn new(secret: &[u8]) -> Self {
        KeyHasher {
            mac: Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts keys of any length"),
        }
    }

    /// The keyed hash of a W3C `KeyboardEvent.code` name.
    pub fn hash_code(&self, code: &str) -> u64 {
        let mut m = self.mac.clone();
        m.update(code.as_bytes());
        let out = m.finalize().into_bytes();
        u64::from_be_bytes(out[..8].try_into().expect("SHA-256 digests are 32 bytes"))
    }

    /// `KeyId::Hashed` for any key identity; an already hashed identity passes unchanged.
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
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?",
        // HMAC-SHA256 = 5bdcc146bf60754e 6a042426089575c7 …
        assert_eq!(
            KeyHasher::new(b"Jefe").hash_code("what do ya want for nothing?"),
            0x5bdc_c146_bf60_754e
        );
    }

    #[test]
    fn equal_keys_equal_hashes_and_secrets_matter() {
        let a = KeyHasher::new(b"tenant-a");
        let b = KeyHasher::new(b"tenant-b");
        assert_eq!(
            a.hash_key(&KeyId::code("KeyA")),
            a.hash_key(&KeyId::code("KeyA"))
        );
        assert_ne!(a.hash_code("KeyA"), a.hash_code("KeyB"));
        assert_ne!(a.hash_code("KeyA"), b.hash_code("KeyA"));
        assert_eq!(a.hash_key(&KeyId::Hashed(7)), KeyId::Hashed(7));
    }
}
