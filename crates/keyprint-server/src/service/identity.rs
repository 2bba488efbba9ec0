//! Who may send: tenant API keys, registered devices and their credentials, short-lived browser credentials,
//! and authentication of a bearer token into a [`Principal`].
//!
//! Model (issue 10): capture is for company-owned devices. An admin registers a device (optionally bound to
//! its users) and receives a one-time registration token (`kpr_<id>_<secret>`, 24 h); the device exchanges
//! it once for its own credential (`kp_<key_id>_<secret>`, role [`Role::Device`]). Records are accepted only
//! from a device credential (for that device, and for its bound users when it has any) or a browser
//! credential (one user, one generated device, until it expires). Credentials are listed, revoked and
//! rotated per device. Secrets are 128 random bits, stored as SHA-256: checking a wrong secret costs a
//! lookup and a hash, so there is no per-key verification budget an attacker could exhaust to lock a
//! legitimate credential out (the argon2 keys of earlier releases are still verified, with that budget).

use super::{ApiError, Service, check_id, lock, now_ms, take_token};
use crate::store::{DeviceRow, KeyRow};
use keyprint_wire::{
    BrowserCredential, BrowserCredentialRequest, CredentialInfo, DeviceCredential, DeviceInfo,
    DeviceRegistration, EnrollDevice, ErrorCode, NewKey, RegisterDevice, Role,
};
use sha2::{Digest, Sha256};

/// How long a registration token works, ms.
pub const REGISTRATION_TTL_MS: i64 = 24 * 3_600_000;
/// Default and bounds of a browser credential's lifetime, s.
pub const BROWSER_TTL_S: (u32, u32, u32) = (900, 60, 3_600);
/// Users a device may be bound to.
pub const MAX_DEVICE_USERS: usize = 64;

/// argon2 verifications allowed per second per key id for legacy (argon2-hashed) keys not yet verified.
const LEGACY_VERIFY_PER_S: f64 = 5.0;

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq)]
pub struct Principal {
    /// Tenant.
    pub tenant: String,
    /// Public key id of the credential.
    pub key_id: String,
    /// Role.
    pub role: Role,
    /// The device a device or browser credential belongs to.
    pub device: Option<String>,
    /// Users the credential may send for (device: its bound users, empty = any user but enrols nobody;
    /// browser: its one user).
    pub users: Vec<String>,
    /// Expiry, Unix ms (browser credentials).
    pub expires_ms: Option<i64>,
}

impl Principal {
    /// True when records for `user` from this credential may add to `user`'s enrolment: the credential's
    /// device is registered to that user.
    pub fn may_enrol(&self, user: &str) -> bool {
        matches!(self.role, Role::Device | Role::Browser) && self.users.iter().any(|u| u == user)
    }
}

/// A fresh random secret: 32 hex digits (128 bits).
fn secret_hex(digits: usize) -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..digits)
        .map(|_| format!("{:x}", rng.random_range(0..16u8)))
        .collect()
}

/// `sha256:<hex>` of a secret.
fn hash_secret(secret: &str) -> String {
    let d = Sha256::digest(secret.as_bytes());
    let hex: String = d.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Constant-time equality of two strings of equal length (lengths are public).
fn ct_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn new_key(tenant: &str, role: Role) -> (KeyRow, String) {
    let key_id = secret_hex(12);
    let secret = secret_hex(32);
    let row = KeyRow {
        key_id: key_id.clone(),
        tenant: tenant.into(),
        role,
        hash: hash_secret(&secret),
        device: None,
        user: None,
        created_ms: now_ms(),
        expires_ms: None,
        revoked_ms: None,
    };
    (row, format!("kp_{key_id}_{secret}"))
}

fn device_info(d: DeviceRow, keys: Vec<KeyRow>) -> DeviceInfo {
    let state = if d.revoked_ms.is_some() {
        "revoked"
    } else if d.reg_id.is_some() && keys.is_empty() {
        "pending"
    } else {
        "active"
    };
    DeviceInfo {
        device: d.device,
        users: d.users,
        label: d.label,
        registered_ms: d.registered_ms,
        state: state.into(),
        credentials: keys
            .into_iter()
            .map(|k| CredentialInfo {
                key_id: k.key_id,
                created_ms: k.created_ms,
                revoked_ms: k.revoked_ms,
            })
            .collect(),
    }
}

fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such device")
}

impl Service {
    /// Creates a tenant (if absent) and a new tenant API key of `role` (`ingest`, `read` or `admin`).
    ///
    /// # Errors
    /// `invalid_field` (`role`) for `device` or `browser`: those credentials come from device registration
    /// and `POST /v1/browser-credentials`; storage errors.
    pub fn create_key(&self, tenant: &str, role: Role) -> Result<NewKey, ApiError> {
        if matches!(role, Role::Device | Role::Browser) {
            return Err(ApiError::field(
                ErrorCode::InvalidField,
                "role",
                "device credentials come from POST /v1/devices and POST /v1/devices/enroll; browser \
                 credentials from POST /v1/browser-credentials",
            ));
        }
        let (row, token) = new_key(tenant, role);
        let mut st = lock(&self.store);
        st.create_tenant(tenant)?;
        st.put_key(&row)?;
        Ok(NewKey {
            token,
            key_id: row.key_id,
            role,
        })
    }

    /// Authenticates a bearer token into a [`Principal`]. Verified tokens are cached in memory by SHA-256
    /// of the token; the cache is emptied whenever a credential is revoked or rotated, and expiry is
    /// checked on every call.
    ///
    /// # Errors
    /// `unauthorized` for a missing, malformed, unknown, revoked or expired token (also when its device was
    /// revoked); `rate_limited` only for legacy argon2 keys under a stream of wrong secrets.
    pub fn authenticate(&self, token: &str) -> Result<Principal, ApiError> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let bad = || ApiError::new(ErrorCode::Unauthorized, "unknown or malformed API key");
        let cached = lock(&self.auth_cache).get(&digest).cloned();
        let principal = match cached {
            Some(p) => p,
            None => {
                let rest = token.strip_prefix("kp_").ok_or_else(bad)?;
                let (key_id, secret) = rest.split_once('_').ok_or_else(bad)?;
                let row = lock(&self.store).key(key_id)?.ok_or_else(bad)?;
                if let Some(h) = row.hash.strip_prefix("sha256:") {
                    if !ct_eq(h, &hash_secret(secret)["sha256:".len()..]) {
                        return Err(bad());
                    }
                } else {
                    use argon2::password_hash::{PasswordVerifier, phc::PasswordHash};
                    if !take_token(&self.auth_buckets, key_id, LEGACY_VERIFY_PER_S) {
                        return Err(ApiError::new(
                            ErrorCode::RateLimited,
                            format!(
                                "more than {LEGACY_VERIFY_PER_S} unverified tokens/s for this legacy \
                                 (argon2) key id; rotate it to a current key"
                            ),
                        ));
                    }
                    let parsed = PasswordHash::new(&row.hash).map_err(|_| bad())?;
                    argon2::Argon2::default()
                        .verify_password(secret.as_bytes(), &parsed)
                        .map_err(|_| bad())?;
                }
                if row.revoked_ms.is_some() {
                    return Err(ApiError::new(
                        ErrorCode::Unauthorized,
                        "this credential was revoked",
                    ));
                }
                let users = match (row.role, &row.device, &row.user) {
                    (Role::Browser, _, Some(u)) => vec![u.clone()],
                    (Role::Device, Some(d), _) => {
                        let dev = lock(&self.store).device(&row.tenant, d)?.ok_or_else(bad)?;
                        if dev.revoked_ms.is_some() {
                            return Err(ApiError::new(
                                ErrorCode::Unauthorized,
                                "this device was revoked",
                            ));
                        }
                        dev.users
                    }
                    _ => Vec::new(),
                };
                let p = Principal {
                    tenant: row.tenant,
                    key_id: row.key_id,
                    role: row.role,
                    device: row.device,
                    users,
                    expires_ms: row.expires_ms,
                };
                lock(&self.auth_cache).insert(digest, p.clone());
                p
            }
        };
        if principal.expires_ms.is_some_and(|e| now_ms() >= e) {
            return Err(ApiError::new(
                ErrorCode::Unauthorized,
                "this credential has expired",
            ));
        }
        Ok(principal)
    }

    /// Registers a company-owned device; returns its one-time registration token.
    ///
    /// # Errors
    /// `invalid_field` for a bad device or user id (the id rule of [`check_id`]), more than
    /// [`MAX_DEVICE_USERS`] users, or a label over 256 bytes or with unsafe characters; `already_exists`
    /// when the tenant has the device id (revoked devices keep their id); storage errors.
    pub fn register_device(
        &self,
        tenant: &str,
        req: &RegisterDevice,
    ) -> Result<DeviceRegistration, ApiError> {
        check_id("device", &req.device)?;
        if req.users.len() > MAX_DEVICE_USERS {
            return Err(ApiError::field(
                ErrorCode::InvalidField,
                "users",
                format!("at most {MAX_DEVICE_USERS} users per device"),
            ));
        }
        for (i, u) in req.users.iter().enumerate() {
            check_id(&format!("users[{i}]"), u)?;
        }
        if let Some(l) = &req.label
            && (l.len() > 256 || l.chars().any(super::unsafe_id_char))
        {
            return Err(ApiError::field(
                ErrorCode::InvalidField,
                "label",
                "at most 256 bytes, no control or invisible characters",
            ));
        }
        let reg_id = secret_hex(12);
        let secret = secret_hex(32);
        let now = now_ms();
        let mut users = req.users.clone();
        users.sort();
        users.dedup();
        let row = DeviceRow {
            tenant: tenant.into(),
            device: req.device.clone(),
            users,
            label: req.label.clone(),
            registered_ms: now,
            reg_id: Some(reg_id.clone()),
            reg_hash: Some(hash_secret(&secret)),
            reg_expires_ms: now + REGISTRATION_TTL_MS,
            revoked_ms: None,
        };
        if !lock(&self.store).put_device(&row)? {
            return Err(ApiError::field(
                ErrorCode::AlreadyExists,
                "device",
                "this device id is registered already (list it with GET /v1/devices; rotate its \
                 credential with POST /v1/devices/{device}/rotate)",
            ));
        }
        Ok(DeviceRegistration {
            device: row.device,
            registration_token: format!("kpr_{reg_id}_{secret}"),
            expires_at_ms: row.reg_expires_ms,
        })
    }

    /// Exchanges a one-time registration token for the device's credential.
    ///
    /// # Errors
    /// `unauthorized` for a malformed, unknown, used, expired or revoked registration token; storage errors.
    pub fn enroll_device(&self, req: &EnrollDevice) -> Result<DeviceCredential, ApiError> {
        let bad = |why: &str| ApiError::new(ErrorCode::Unauthorized, why.to_string());
        let unknown = "unknown, used or revoked registration token";
        let rest = req
            .registration_token
            .strip_prefix("kpr_")
            .ok_or_else(|| bad(unknown))?;
        let (reg_id, secret) = rest.split_once('_').ok_or_else(|| bad(unknown))?;
        let dev = lock(&self.store)
            .device_by_registration(reg_id)?
            .ok_or_else(|| bad(unknown))?;
        let ok = dev
            .reg_hash
            .as_deref()
            .and_then(|h| h.strip_prefix("sha256:"))
            .is_some_and(|h| ct_eq(h, &hash_secret(secret)["sha256:".len()..]));
        if !ok {
            return Err(bad(unknown));
        }
        if now_ms() >= dev.reg_expires_ms {
            return Err(bad(
                "registration token expired: register the device again (DELETE then POST /v1/devices) \
                 or ask an admin for a rotation",
            ));
        }
        let (mut key, token) = new_key(&dev.tenant, Role::Device);
        key.device = Some(dev.device.clone());
        if !lock(&self.store).exchange_registration(&dev.tenant, &dev.device, reg_id, &key)? {
            return Err(bad(unknown));
        }
        Ok(DeviceCredential {
            device: dev.device,
            users: dev.users,
            key_id: key.key_id,
            token,
        })
    }

    /// A page of a tenant's devices, by id, with their credentials (never secrets): two queries on the read
    /// side per page.
    ///
    /// # Errors
    /// `invalid_field` (`cursor`) for a cursor that is not this list's; storage errors.
    pub fn devices(
        &self,
        tenant: &str,
        page: &super::PageRequest,
    ) -> Result<keyprint_wire::Page<DeviceInfo>, ApiError> {
        let after = match &page.cursor {
            None => None,
            Some(c) => Some(super::decode_cursor("d1", c, 1)?.remove(0)),
        };
        let rows = self
            .reads
            .devices_page(tenant, after.as_deref(), page.limit + 1)?;
        Ok(super::page_of(
            rows,
            page.limit,
            |(d, _)| super::encode_cursor("d1", &[&d.device]),
            |(d, k)| device_info(d, k),
        ))
    }

    /// One device.
    ///
    /// # Errors
    /// `not_found`; storage errors.
    pub fn device(&self, tenant: &str, device: &str) -> Result<DeviceInfo, ApiError> {
        let mut st = lock(&self.store);
        let d = st.device(tenant, device)?.ok_or_else(not_found)?;
        let keys = st.device_keys(tenant, device)?;
        Ok(device_info(d, keys))
    }

    /// Revokes a device: every credential of it stops working at once, its registration token too; the
    /// device stays listed as `revoked` with its history.
    ///
    /// # Errors
    /// `not_found`; storage errors.
    pub fn revoke_device(&self, tenant: &str, device: &str) -> Result<DeviceInfo, ApiError> {
        if lock(&self.store).device(tenant, device)?.is_none() {
            return Err(not_found());
        }
        lock(&self.store).revoke_device(tenant, device, true, now_ms())?;
        lock(&self.auth_cache).clear();
        self.device(tenant, device)
    }

    /// Rotates a device's credential: a new one is issued and every earlier one revoked. Allowed to an admin
    /// and to the device itself.
    ///
    /// # Errors
    /// `forbidden` when a device credential rotates another device; `not_found`; `forbidden` for a revoked
    /// device; storage errors.
    pub fn rotate_device(
        &self,
        who: &Principal,
        device: &str,
    ) -> Result<DeviceCredential, ApiError> {
        if who.role == Role::Device && who.device.as_deref() != Some(device) {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                "a device credential may rotate only its own device",
            ));
        }
        let dev = lock(&self.store)
            .device(&who.tenant, device)?
            .ok_or_else(not_found)?;
        if dev.revoked_ms.is_some() {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                "this device was revoked; register it under a new id",
            ));
        }
        let (mut key, token) = new_key(&who.tenant, Role::Device);
        key.device = Some(device.to_string());
        {
            let mut st = lock(&self.store);
            st.revoke_device(&who.tenant, device, false, now_ms())?;
            st.put_key(&key)?;
        }
        lock(&self.auth_cache).clear();
        Ok(DeviceCredential {
            device: dev.device,
            users: dev.users,
            key_id: key.key_id,
            token,
        })
    }

    /// Registers `device` bound to `users` and exchanges its registration token at once: for in-process
    /// clients that play both the admin and the device (replay evaluation, load test, demo, tests).
    ///
    /// # Errors
    /// As [`register_device`](Self::register_device) and [`enroll_device`](Self::enroll_device).
    pub fn provision_device(
        &self,
        tenant: &str,
        device: &str,
        users: &[&str],
    ) -> Result<(DeviceCredential, Principal), ApiError> {
        lock(&self.store).create_tenant(tenant)?;
        let reg = self.register_device(
            tenant,
            &RegisterDevice {
                device: device.into(),
                users: users.iter().map(|u| u.to_string()).collect(),
                label: None,
            },
        )?;
        let cred = self.enroll_device(&EnrollDevice {
            registration_token: reg.registration_token,
        })?;
        let who = self.authenticate(&cred.token)?;
        Ok((cred, who))
    }

    /// A short-lived browser credential for `req.user`, bound to a generated device id (`web-<hex>`).
    ///
    /// # Errors
    /// `invalid_field` for a bad user id or a lifetime outside [`BROWSER_TTL_S`]; storage errors.
    pub fn browser_credential(
        &self,
        tenant: &str,
        req: &BrowserCredentialRequest,
    ) -> Result<BrowserCredential, ApiError> {
        check_id("user", &req.user)?;
        let (default, min, max) = BROWSER_TTL_S;
        let ttl = req.ttl_s.unwrap_or(default);
        if !(min..=max).contains(&ttl) {
            return Err(ApiError::field(
                ErrorCode::InvalidField,
                "ttl_s",
                format!("must be {min} to {max} seconds"),
            ));
        }
        let device = format!("web-{}", secret_hex(16));
        let (mut key, token) = new_key(tenant, Role::Browser);
        let expires = key.created_ms + i64::from(ttl) * 1000;
        key.device = Some(device.clone());
        key.user = Some(req.user.clone());
        key.expires_ms = Some(expires);
        lock(&self.store).put_key(&key)?;
        Ok(BrowserCredential {
            token,
            user: req.user.clone(),
            device,
            expires_at_ms: expires,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_hash_and_compare() {
        let h = hash_secret("abc");
        assert!(h.starts_with("sha256:") && h.len() == 7 + 64);
        assert!(ct_eq(&h, &hash_secret("abc")));
        assert!(!ct_eq(&h, &hash_secret("abd")));
        assert!(!ct_eq("a", "ab"));
        assert_eq!(secret_hex(32).len(), 32);
    }
}
