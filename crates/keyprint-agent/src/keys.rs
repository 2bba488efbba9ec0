//! Linux key codes (`KEY_*` of the kernel's `include/uapi/linux/input-event-codes.h`) → W3C
//! `KeyboardEvent.code` values (W3C UI Events KeyboardEvent code Values, whose tables give each code's USB
//! HID usage; the kernel's `hid-input.c` maps those usages to these `KEY_*` numbers). X11 key codes are the
//! same numbers plus 8 (the xf86-input-evdev / libinput convention), see [`w3c_code_of_x11`].
//!
//! Codes absent from the table (media keys, vendor keys) map to `None`: the agent counts them and they
//! enter the edge as the class `other` would — not at all, because a key the table cannot name carries no
//! typing rhythm worth the risk of an unreviewed mapping.

/// `(linux key code, W3C code)`, sorted by key code.
const TABLE: &[(u16, &str)] = &[
    (1, "Escape"),
    (2, "Digit1"),
    (3, "Digit2"),
    (4, "Digit3"),
    (5, "Digit4"),
    (6, "Digit5"),
    (7, "Digit6"),
    (8, "Digit7"),
    (9, "Digit8"),
    (10, "Digit9"),
    (11, "Digit0"),
    (12, "Minus"),
    (13, "Equal"),
    (14, "Backspace"),
    (15, "Tab"),
    (16, "KeyQ"),
    (17, "KeyW"),
    (18, "KeyE"),
    (19, "KeyR"),
    (20, "KeyT"),
    (21, "KeyY"),
    (22, "KeyU"),
    (23, "KeyI"),
    (24, "KeyO"),
    (25, "KeyP"),
    (26, "BracketLeft"),
    (27, "BracketRight"),
    (28, "Enter"),
    (29, "ControlLeft"),
    (30, "KeyA"),
    (31, "KeyS"),
    (32, "KeyD"),
    (33, "KeyF"),
    (34, "KeyG"),
    (35, "KeyH"),
    (36, "KeyJ"),
    (37, "KeyK"),
    (38, "KeyL"),
    (39, "Semicolon"),
    (40, "Quote"),
    (41, "Backquote"),
    (42, "ShiftLeft"),
    (43, "Backslash"),
    (44, "KeyZ"),
    (45, "KeyX"),
    (46, "KeyC"),
    (47, "KeyV"),
    (48, "KeyB"),
    (49, "KeyN"),
    (50, "KeyM"),
    (51, "Comma"),
    (52, "Period"),
    (53, "Slash"),
    (54, "ShiftRight"),
    (55, "NumpadMultiply"),
    (56, "AltLeft"),
    (57, "Space"),
    (58, "CapsLock"),
    (59, "F1"),
    (60, "F2"),
    (61, "F3"),
    (62, "F4"),
    (63, "F5"),
    (64, "F6"),
    (65, "F7"),
    (66, "F8"),
    (67, "F9"),
    (68, "F10"),
    (69, "NumLock"),
    (70, "ScrollLock"),
    (71, "Numpad7"),
    (72, "Numpad8"),
    (73, "Numpad9"),
    (74, "NumpadSubtract"),
    (75, "Numpad4"),
    (76, "Numpad5"),
    (77, "Numpad6"),
    (78, "NumpadAdd"),
    (79, "Numpad1"),
    (80, "Numpad2"),
    (81, "Numpad3"),
    (82, "Numpad0"),
    (83, "NumpadDecimal"),
    (86, "IntlBackslash"),
    (87, "F11"),
    (88, "F12"),
    (89, "IntlRo"),
    (92, "Convert"),
    (93, "KanaMode"),
    (94, "NonConvert"),
    (96, "NumpadEnter"),
    (97, "ControlRight"),
    (98, "NumpadDivide"),
    (99, "PrintScreen"),
    (100, "AltRight"),
    (102, "Home"),
    (103, "ArrowUp"),
    (104, "PageUp"),
    (105, "ArrowLeft"),
    (106, "ArrowRight"),
    (107, "End"),
    (108, "ArrowDown"),
    (109, "PageDown"),
    (110, "Insert"),
    (111, "Delete"),
    (113, "AudioVolumeMute"),
    (114, "AudioVolumeDown"),
    (115, "AudioVolumeUp"),
    (116, "Power"),
    (117, "NumpadEqual"),
    (119, "Pause"),
    (121, "NumpadComma"),
    (122, "Lang1"),
    (123, "Lang2"),
    (124, "IntlYen"),
    (125, "MetaLeft"),
    (126, "MetaRight"),
    (127, "ContextMenu"),
    (183, "F13"),
    (184, "F14"),
    (185, "F15"),
    (186, "F16"),
    (187, "F17"),
    (188, "F18"),
    (189, "F19"),
    (190, "F20"),
    (191, "F21"),
    (192, "F22"),
    (193, "F23"),
    (194, "F24"),
];

/// The W3C `KeyboardEvent.code` of a Linux `KEY_*` code, if the table names it.
pub fn w3c_code(linux_key: u16) -> Option<&'static str> {
    TABLE
        .binary_search_by_key(&linux_key, |&(k, _)| k)
        .ok()
        .map(|i| TABLE[i].1)
}

/// The W3C code of an X11 key code (the Linux code plus 8).
pub fn w3c_code_of_x11(x11_keycode: u32) -> Option<&'static str> {
    u16::try_from(x11_keycode.checked_sub(8)?)
        .ok()
        .and_then(w3c_code)
}

/// The Linux key code of a W3C code (the inverse table; used to write recordings in tests and replays).
pub fn linux_key(code: &str) -> Option<u16> {
    TABLE.iter().find(|&&(_, c)| c == code).map(|&(k, _)| k)
}

/// Every Linux `KEY_*` code of the table, ascending (the keys the quarantine's virtual keyboard declares).
pub fn codes() -> impl Iterator<Item = u16> {
    TABLE.iter().map(|&(k, _)| k)
}

/// True for Linux codes that are mouse or joystick buttons (`BTN_*`, 0x100–0x15f), not keys.
pub fn is_button(code: u16) -> bool {
    (0x100..0x160).contains(&code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_unique() {
        assert!(TABLE.windows(2).all(|w| w[0].0 < w[1].0));
        let mut codes: Vec<_> = TABLE.iter().map(|t| t.1).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), TABLE.len());
    }

    #[test]
    fn known_codes_and_x11_offset() {
        assert_eq!(w3c_code(30), Some("KeyA"));
        assert_eq!(w3c_code(57), Some("Space"));
        assert_eq!(w3c_code(0), None);
        assert_eq!(w3c_code_of_x11(38), Some("KeyA"));
        assert_eq!(w3c_code_of_x11(3), None);
        assert_eq!(linux_key("KeyQ"), Some(16));
        assert!(is_button(0x110));
    }
}
