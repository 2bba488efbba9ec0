//! `keyprint devices …` and `keyprint enrolment …`: the admin side of registered devices, their credentials,
//! and enrolment review, over the HTTP API (`/v1/devices`, `/v1/users/{user}/enrolment`).

use crate::service_cmds::{ApiArgs, PageArgs, enc, get_list, print_next, print_page_json};
use anyhow::Context;
use clap::{Args, Subcommand};
use keyprint_wire::{DeviceCredential, DeviceInfo, DeviceRegistration, RegisterDevice};

/// `keyprint devices`.
#[derive(Subcommand, Debug)]
pub enum DevicesCmd {
    /// Register a company-owned device (admin); prints its one-time registration token (24 h), which the
    /// device exchanges for its own credential (`keyprint agent enroll`, or `POST /v1/devices/enroll`).
    Register(RegisterArgs),
    /// List devices and their credentials (read or admin).
    List(ListArgs),
    /// Revoke a device (admin): every credential of it stops working at once.
    Revoke(DeviceArgs),
    /// Rotate a device's credential (admin, or the device's own credential): prints the new token; every
    /// earlier credential is revoked.
    Rotate(DeviceArgs),
}

/// Flags of `keyprint devices list`.
#[derive(Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    api: ApiArgs,
    #[command(flatten)]
    page: PageArgs,
}

/// Flags of `keyprint devices register`.
#[derive(Args, Debug)]
pub struct RegisterArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// Device id (asset tag, hostname).
    device: String,
    /// A user the device belongs to (repeatable). Without any, the device is shared: it may send for any
    /// user but never adds to anyone's enrolment.
    #[arg(long = "user")]
    users: Vec<String>,
    /// Free label.
    #[arg(long)]
    label: Option<String>,
}

/// Flags naming one device.
#[derive(Args, Debug)]
pub struct DeviceArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// Device id.
    device: String,
}

/// `keyprint enrolment`.
#[derive(Subcommand, Debug)]
pub enum EnrolmentCmd {
    /// Lift a hold on a user's enrolment (admin): the template becomes active.
    Approve(EnrolmentArgs),
    /// Discard a user's enrolment samples (admin): the user enrols again from a device registered to them;
    /// alerts and trust history stay.
    Reset(EnrolmentArgs),
}

/// Flags of `keyprint enrolment approve|reset`.
#[derive(Args, Debug)]
pub struct EnrolmentArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// User.
    user: String,
    /// One engine (`fixed-text`, `free-text`, `mouse`); every engine when absent.
    #[arg(long)]
    engine: Option<String>,
}

fn call(
    a: &ApiArgs,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> anyhow::Result<serde_json::Value> {
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let mut r = reqwest::Client::new()
            .request(
                method.clone(),
                format!("{}{path}", a.url.trim_end_matches('/')),
            )
            .bearer_auth(&a.token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await.with_context(|| format!("{method} {path}"))?;
        let status = r.status();
        let bytes = r.bytes().await?;
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        anyhow::ensure!(
            status.is_success(),
            "{status}: {} ({})",
            v["reason"]
                .as_str()
                .unwrap_or(&String::from_utf8_lossy(&bytes)),
            v["code"].as_str().unwrap_or("?")
        );
        Ok(v)
    })
}

fn print_device(d: &DeviceInfo) {
    let live: Vec<&str> = d
        .credentials
        .iter()
        .filter(|c| c.revoked_ms.is_none())
        .map(|c| c.key_id.as_str())
        .collect();
    println!(
        "{:<20} {:<8} users [{}]  live credentials [{}]  {} revoked{}",
        d.device,
        d.state,
        d.users.join(", "),
        live.join(", "),
        d.credentials.len() - live.len(),
        d.label
            .as_ref()
            .map(|l| format!("  ({l})"))
            .unwrap_or_default()
    );
}

/// Runs `keyprint devices …`.
///
/// # Errors
/// The server's refusal (status, reason, code) or a transport failure.
pub fn devices(c: &DevicesCmd) -> anyhow::Result<()> {
    match c {
        DevicesCmd::Register(r) => {
            let v = call(
                &r.api,
                reqwest::Method::POST,
                "/v1/devices",
                Some(serde_json::to_value(RegisterDevice {
                    device: r.device.clone(),
                    users: r.users.clone(),
                    label: r.label.clone(),
                })?),
            )?;
            if r.api.json {
                println!("{}", serde_json::to_string_pretty(&v)?);
                return Ok(());
            }
            let reg: DeviceRegistration = serde_json::from_value(v)?;
            println!(
                "device {} registered; one-time registration token (valid 24 h, shown once):\n{}",
                reg.device, reg.registration_token
            );
        }
        DevicesCmd::List(l) => {
            let (rows, next) = get_list(&l.api, "/v1/devices", &l.page)?;
            if l.api.json {
                return print_page_json(&rows, &next);
            }
            let list: Vec<DeviceInfo> = serde_json::from_value(serde_json::Value::Array(rows))?;
            for d in &list {
                print_device(d);
            }
            print_next(&next);
        }
        DevicesCmd::Revoke(d) => {
            let v = call(
                &d.api,
                reqwest::Method::DELETE,
                &format!("/v1/devices/{}", enc(&d.device)),
                None,
            )?;
            print_device(&serde_json::from_value(v)?);
        }
        DevicesCmd::Rotate(d) => {
            let v = call(
                &d.api,
                reqwest::Method::POST,
                &format!("/v1/devices/{}/rotate", enc(&d.device)),
                None,
            )?;
            let cred: DeviceCredential = serde_json::from_value(v)?;
            println!(
                "device {}: new credential {} (every earlier one is revoked); token, shown once:\n{}",
                cred.device, cred.key_id, cred.token
            );
        }
    }
    Ok(())
}

/// Runs `keyprint enrolment …`.
///
/// # Errors
/// The server's refusal or a transport failure.
pub fn enrolment(c: &EnrolmentCmd) -> anyhow::Result<()> {
    let (a, action) = match c {
        EnrolmentCmd::Approve(a) => (a, "approve"),
        EnrolmentCmd::Reset(a) => (a, "reset"),
    };
    let v = call(
        &a.api,
        reqwest::Method::POST,
        &format!("/v1/users/{}/enrolment", enc(&a.user)),
        Some(serde_json::json!({"action": action, "engine": a.engine})),
    )?;
    println!(
        "{}: {action} applied to {}",
        a.user,
        v["engines"]
            .as_array()
            .map(|e| e
                .iter()
                .filter_map(|x| x.as_str())
                .collect::<Vec<_>>()
                .join(", "))
            .unwrap_or_default()
    );
    Ok(())
}
