//! Device identity from sysfs, the way udev reads it: `<sysfs>/class/input/eventN/device/` holds `name`,
//! `phys`, `uniq` (the serial), `id/{bustype,vendor,product}` and `capabilities/{key,rel}`; the device's real
//! place is where the `class/input/eventN` link points. Devices under `devices/virtual/` (uinput) are
//! synthetic. The USB device that carries an input device is the nearest ancestor with `authorized` and
//! `idVendor` files; writing `0` to its `authorized` de-authorizes it (the kernel unbinds every interface
//! driver), which is what the `block` policy does.
//!
//! Every path is relative to a configurable sysfs root, so tests run on a fake tree in a temporary folder.

use std::path::{Path, PathBuf};

/// Why a source is synthetic (not a physical device typing).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Synthetic {
    /// A kernel virtual input device (`/sys/devices/virtual/input`, made through uinput).
    Uinput,
    /// The X server's XTEST device (xdotool, password-manager auto-type, x11vnc).
    Xtest,
    /// A remote-desktop server's input device (xrdp, TigerVNC, NoMachine).
    RemoteDesktop,
}

impl Synthetic {
    /// Stable name, used in logs and as the device record's bus.
    pub fn name(self) -> &'static str {
        match self {
            Synthetic::Uinput => "uinput",
            Synthetic::Xtest => "xtest",
            Synthetic::RemoteDesktop => "remote-desktop",
        }
    }
}

/// A capture source's identity: what every event keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceInfo {
    /// Stable id within this agent run (`evdev:event5`, `x11:12`).
    pub id: String,
    /// Device name as the kernel or X server gives it.
    pub name: String,
    /// Bus: `usb`, `bluetooth`, `i8042`, `virtual`, `xtest`, `x11`, …
    pub bus: String,
    /// Vendor id, 4 lowercase hex digits, when known.
    pub vendor: Option<String>,
    /// Product id, 4 lowercase hex digits, when known.
    pub product: Option<String>,
    /// Serial (`uniq`), when the device has one.
    pub serial: Option<String>,
    /// Physical path (`phys`, e.g. `usb-0000:00:14.0-2/input0`).
    pub phys: Option<String>,
    /// Set for virtual and synthetic sources.
    pub synthetic: Option<Synthetic>,
    /// The USB device folder whose `authorized` flag the `block` policy clears.
    pub usb_device: Option<PathBuf>,
    /// Has letter keys.
    pub keyboard: bool,
    /// Has relative X/Y motion.
    pub pointer: bool,
}

impl SourceInfo {
    /// `bus vendor:product "name"` for logs (no serial: it can identify a person's token).
    pub fn describe(&self) -> String {
        format!(
            "{} {}:{} \"{}\"{}",
            self.bus,
            self.vendor.as_deref().unwrap_or("----"),
            self.product.as_deref().unwrap_or("----"),
            self.name,
            self.synthetic
                .map(|s| format!(" (synthetic: {})", s.name()))
                .unwrap_or_default()
        )
    }
}

/// Name of a `BUS_*` number (`include/uapi/linux/input.h`).
pub fn bus_name(bustype: u16) -> String {
    match bustype {
        0x01 => "pci".into(),
        0x03 => "usb".into(),
        0x05 => "bluetooth".into(),
        0x06 => "virtual".into(),
        0x11 => "i8042".into(),
        0x18 => "i2c".into(),
        0x19 => "host".into(),
        n => format!("bus-{n:04x}"),
    }
}

/// True when bit `bit` is set in a sysfs capability bitmap (hex words of `long`, most significant first).
pub fn has_bit(bitmap: &str, bit: usize) -> bool {
    let words: Vec<&str> = bitmap.split_whitespace().collect();
    let idx = bit / 64;
    if idx >= words.len() {
        return false;
    }
    u64::from_str_radix(words[words.len() - 1 - idx], 16).is_ok_and(|w| w >> (bit % 64) & 1 == 1)
}

fn read_trim(p: &Path) -> Option<String> {
    std::fs::read_to_string(p)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn hex4(p: &Path) -> Option<String> {
    read_trim(p)
        .filter(|s| s.len() == 4 && s.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(|s| s.to_ascii_lowercase())
}

/// Reads the identity of input node `node` (e.g. `event5`) under `sysfs_root`. `None` when the node has no
/// sysfs entry (then the agent treats it as an unknown, non-keyboard device).
pub fn identify(sysfs_root: &Path, node: &str) -> Option<SourceInfo> {
    let class = sysfs_root.join("class/input").join(node);
    let real = std::fs::canonicalize(&class).ok()?;
    let dev = class.join("device");
    let bustype = read_trim(&dev.join("id/bustype")).and_then(|s| u16::from_str_radix(&s, 16).ok());
    let keys = read_trim(&dev.join("capabilities/key")).unwrap_or_default();
    let rel = read_trim(&dev.join("capabilities/rel")).unwrap_or_default();
    let virtual_dev = real.components().any(|c| c.as_os_str() == "virtual");
    let name = read_trim(&dev.join("name")).unwrap_or_default();
    let usb_device = real
        .ancestors()
        .find(|a| a.join("authorized").is_file() && a.join("idVendor").is_file())
        .map(Path::to_path_buf);
    Some(SourceInfo {
        id: format!("evdev:{node}"),
        synthetic: if virtual_dev {
            Some(Synthetic::Uinput)
        } else {
            remote_desktop_name(&name).then_some(Synthetic::RemoteDesktop)
        },
        name,
        bus: bustype.map_or_else(|| "unknown".into(), bus_name),
        vendor: hex4(&dev.join("id/vendor")),
        product: hex4(&dev.join("id/product")),
        serial: read_trim(&dev.join("uniq")),
        phys: read_trim(&dev.join("phys")),
        usb_device,
        // KEY_A (30) and KEY_SPACE (57): a keyboard, not a power button or a headset.
        keyboard: has_bit(&keys, 30) && has_bit(&keys, 57),
        pointer: has_bit(&rel, 0) && has_bit(&rel, 1),
    })
}

/// The sysfs name of the input device behind node `node` (`input42` for `event9` when
/// `class/input/event9` resolves to `…/input/input42/event9`): how the agent recognises the uinput keyboard
/// it made (`UI_GET_SYSNAME` tells the same name).
pub fn input_sysname(sysfs_root: &Path, node: &str) -> Option<String> {
    let real = std::fs::canonicalize(sysfs_root.join("class/input").join(node)).ok()?;
    Some(real.parent()?.file_name()?.to_string_lossy().into_owned())
}

/// True for device names of remote-desktop servers' input devices.
pub fn remote_desktop_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "xrdp",
        "tigervnc",
        "x11vnc",
        "nomachine",
        "rustdesk",
        "anydesk",
    ]
    .iter()
    .any(|p| n.contains(p))
}

/// Clears the USB device's `authorized` flag (writes `0`): the kernel unbinds its drivers and the device
/// stops delivering input until an administrator writes `1`.
///
/// # Errors
/// The I/O error of the write (no such file, permission denied without `CAP_SYS_ADMIN`-level access to
/// sysfs).
pub fn deauthorize(usb_device: &Path) -> std::io::Result<()> {
    std::fs::write(usb_device.join("authorized"), b"0\n")
}

/// Builds a fake sysfs entry for input node `node` (used by tests and the replay demo): a USB device folder
/// (`authorized` = 1, `idVendor`, `idProduct`, `serial`) holding an input device with the given identity, or
/// a virtual one. Returns the USB device folder (or the virtual input folder).
#[allow(clippy::too_many_arguments)]
pub fn fake_device(
    sysfs_root: &Path,
    node: &str,
    name: &str,
    usb: Option<(&str, &str, &str)>,
    keyboard: bool,
    pointer: bool,
) -> std::io::Result<PathBuf> {
    let n: String = node.chars().filter(char::is_ascii_digit).collect();
    let (base, input_dev) = match usb {
        Some((v, p, serial)) => {
            let usbdev = sysfs_root.join(format!("devices/pci0000:00/0000:00:14.0/usb1/1-{n}"));
            std::fs::create_dir_all(&usbdev)?;
            std::fs::write(usbdev.join("authorized"), "1\n")?;
            std::fs::write(usbdev.join("idVendor"), format!("{v}\n"))?;
            std::fs::write(usbdev.join("idProduct"), format!("{p}\n"))?;
            let input_dev = usbdev.join(format!("1-{n}:1.0/input/input{n}"));
            std::fs::create_dir_all(input_dev.join("id"))?;
            std::fs::write(input_dev.join("id/bustype"), "0003\n")?;
            std::fs::write(input_dev.join("id/vendor"), format!("{v}\n"))?;
            std::fs::write(input_dev.join("id/product"), format!("{p}\n"))?;
            std::fs::write(input_dev.join("uniq"), format!("{serial}\n"))?;
            std::fs::write(
                input_dev.join("phys"),
                format!("usb-0000:00:14.0-{n}/input0\n"),
            )?;
            (usbdev, input_dev)
        }
        None => {
            let input_dev = sysfs_root.join(format!("devices/virtual/input/input{n}"));
            std::fs::create_dir_all(input_dev.join("id"))?;
            std::fs::write(input_dev.join("id/bustype"), "0006\n")?;
            (input_dev.clone(), input_dev)
        }
    };
    std::fs::write(input_dev.join("name"), format!("{name}\n"))?;
    std::fs::create_dir_all(input_dev.join("capabilities"))?;
    let key_bits = if keyboard { "200000040000000" } else { "0" };
    std::fs::write(input_dev.join("capabilities/key"), format!("{key_bits}\n"))?;
    std::fs::write(
        input_dev.join("capabilities/rel"),
        if pointer { "143\n" } else { "0\n" },
    )?;
    let ev = input_dev.join(node);
    std::fs::create_dir_all(&ev)?;
    std::os::unix::fs::symlink(&input_dev, ev.join("device"))?;
    std::fs::write(
        ev.join("uevent"),
        format!("MAJOR=13\nMINOR=7{n}\nDEVNAME=input/{node}\n"),
    )?;
    let class = sysfs_root.join("class/input");
    std::fs::create_dir_all(&class)?;
    std::os::unix::fs::symlink(&ev, class.join(node))?;
    Ok(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifies_usb_keyboard_and_virtual_device() {
        let d = tempfile::tempdir().unwrap();
        let usb = fake_device(
            d.path(),
            "event5",
            "Rubber Ducky",
            Some(("03EB", "2401", "X1")),
            true,
            false,
        )
        .unwrap();
        fake_device(d.path(), "event9", "xdotool virtual", None, true, false).unwrap();
        let k = identify(d.path(), "event5").unwrap();
        assert_eq!(
            (k.bus.as_str(), k.vendor.as_deref(), k.product.as_deref()),
            ("usb", Some("03eb"), Some("2401"))
        );
        assert_eq!(k.serial.as_deref(), Some("X1"));
        assert!(k.keyboard && !k.pointer && k.synthetic.is_none());
        assert_eq!(
            k.usb_device.as_deref(),
            Some(std::fs::canonicalize(&usb).unwrap().as_path())
        );
        deauthorize(k.usb_device.as_ref().unwrap()).unwrap();
        assert_eq!(
            std::fs::read_to_string(usb.join("authorized")).unwrap(),
            "0\n"
        );
        let v = identify(d.path(), "event9").unwrap();
        assert_eq!(
            (v.synthetic, v.bus.as_str()),
            (Some(Synthetic::Uinput), "virtual")
        );
        assert!(v.usb_device.is_none());
        assert!(identify(d.path(), "event1").is_none());
    }

    #[test]
    fn capability_bitmaps() {
        assert!(has_bit("143", 0) && has_bit("143", 1) && !has_bit("143", 2));
        assert!(has_bit("200000040000000", 30) && has_bit("1 0", 64));
        assert!(has_bit("200000040000000", 57));
    }
}
