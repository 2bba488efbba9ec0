//! US-layout key map: characters and DuckyScript key names to W3C `KeyboardEvent.code` names
//! (<https://www.w3.org/TR/uievents-code/>), as a USB HID keyboard on a host set to the US layout types them.

/// The W3C code for Shift as the interpreter presses it for capitals and shifted symbols.
pub const SHIFT: &str = "ShiftLeft";

/// How a printable character is typed on a US keyboard: the key's W3C code, and whether Shift is held.
///
/// Covers printable ASCII (`' '..='~'`), `'\n'` (Enter) and `'\t'` (Tab); `None` for anything else
/// (a US HID keyboard cannot type it without OS-specific tricks).
pub fn char_to_key(c: char) -> Option<(&'static str, bool)> {
    use keyprint_core::event::DIGIT_CODES as DIGITS;
    use keyprint_core::event::LETTER_CODES as LETTERS;
    Some(match c {
        'a'..='z' => (LETTERS[c as usize - 'a' as usize], false),
        'A'..='Z' => (LETTERS[c as usize - 'A' as usize], true),
        '0'..='9' => (DIGITS[c as usize - '0' as usize], false),
        ')' => ("Digit0", true),
        '!' => ("Digit1", true),
        '@' => ("Digit2", true),
        '#' => ("Digit3", true),
        '$' => ("Digit4", true),
        '%' => ("Digit5", true),
        '^' => ("Digit6", true),
        '&' => ("Digit7", true),
        '*' => ("Digit8", true),
        '(' => ("Digit9", true),
        ' ' => ("Space", false),
        '\n' => ("Enter", false),
        '\t' => ("Tab", false),
        '-' => ("Minus", false),
        '_' => ("Minus", true),
        '=' => ("Equal", false),
        '+' => ("Equal", true),
        '[' => ("BracketLeft", false),
        '{' => ("BracketLeft", true),
        ']' => ("BracketRight", false),
        '}' => ("BracketRight", true),
        '\\' => ("Backslash", false),
        '|' => ("Backslash", true),
        ';' => ("Semicolon", false),
        ':' => ("Semicolon", true),
        '\'' => ("Quote", false),
        '"' => ("Quote", true),
        '`' => ("Backquote", false),
        '~' => ("Backquote", true),
        ',' => ("Comma", false),
        '<' => ("Comma", true),
        '.' => ("Period", false),
        '>' => ("Period", true),
        '/' => ("Slash", false),
        '?' => ("Slash", true),
        _ => return None,
    })
}

/// A DuckyScript modifier name (`GUI`, `WINDOWS`, `COMMAND`, `CTRL`, `CONTROL`, `ALT`, `OPTION`, `SHIFT`;
/// case-insensitive) to its left-hand W3C code.
pub fn modifier_code(name: &str) -> Option<&'static str> {
    Some(match name.to_ascii_uppercase().as_str() {
        "GUI" | "WINDOWS" | "COMMAND" | "META" => "MetaLeft",
        "CTRL" | "CONTROL" => "ControlLeft",
        "ALT" | "OPTION" => "AltLeft",
        "SHIFT" => SHIFT,
        _ => return None,
    })
}

/// A DuckyScript non-modifier key name (case-insensitive: `ENTER`, `ESC`, `TAB`, `SPACE`, `BACKSPACE`,
/// `DELETE`, arrows, `F1`–`F24`, lock keys, `PRINTSCREEN`, `PAUSE`, `MENU`/`APP`, media keys `MK_VOLUP`,
/// `MK_VOLDOWN`, `MK_MUTE`, `MK_NEXT`, `MK_PREV`, `MK_PP`, `MK_STOP`, system keys `POWER`, `SLEEP`, `WAKE`,
/// keypad `KP_0`–`KP_9`, `KP_DOT`, `KP_SLASH`, `KP_ASTERISK`, `KP_MINUS`, `KP_PLUS`, `KP_ENTER`, `KP_EQUAL`)
/// to its W3C code.
pub fn key_name_code(name: &str) -> Option<&'static str> {
    const F: [&str; 24] = [
        "F1", "F2", "F3", "F4", "F5", "F6", "F7", "F8", "F9", "F10", "F11", "F12", "F13", "F14",
        "F15", "F16", "F17", "F18", "F19", "F20", "F21", "F22", "F23", "F24",
    ];
    let up = name.to_ascii_uppercase();
    if let Some(n) = up.strip_prefix('F').and_then(|d| d.parse::<usize>().ok()) {
        return (1..=24).contains(&n).then(|| F[n - 1]);
    }
    Some(match up.as_str() {
        "ENTER" | "RETURN" => "Enter",
        "ESCAPE" | "ESC" => "Escape",
        "TAB" => "Tab",
        "SPACE" => "Space",
        "BACKSPACE" => "Backspace",
        "DELETE" | "DEL" => "Delete",
        "INSERT" => "Insert",
        "HOME" => "Home",
        "END" => "End",
        "PAGEUP" => "PageUp",
        "PAGEDOWN" => "PageDown",
        "UP" | "UPARROW" => "ArrowUp",
        "DOWN" | "DOWNARROW" => "ArrowDown",
        "LEFT" | "LEFTARROW" => "ArrowLeft",
        "RIGHT" | "RIGHTARROW" => "ArrowRight",
        "CAPSLOCK" => "CapsLock",
        "NUMLOCK" => "NumLock",
        "SCROLLLOCK" => "ScrollLock",
        "PRINTSCREEN" => "PrintScreen",
        "PAUSE" | "BREAK" => "Pause",
        "MENU" | "APP" => "ContextMenu",
        // Media and system keys (HID consumer / system control pages; W3C codes).
        "MK_VOLUP" | "MEDIA_VOLUME_UP" => "AudioVolumeUp",
        "MK_VOLDOWN" | "MEDIA_VOLUME_DOWN" => "AudioVolumeDown",
        "MK_MUTE" | "MEDIA_MUTE" => "AudioVolumeMute",
        "MK_NEXT" | "MEDIA_NEXT" => "MediaTrackNext",
        "MK_PREV" | "MEDIA_PREV" => "MediaTrackPrevious",
        "MK_PP" | "MEDIA_PLAY_PAUSE" => "MediaPlayPause",
        "MK_STOP" | "MEDIA_STOP" => "MediaStop",
        "POWER" => "Power",
        "SLEEP" => "Sleep",
        "WAKE" => "WakeUp",
        // Numeric keypad.
        "KP_0" => "Numpad0",
        "KP_1" => "Numpad1",
        "KP_2" => "Numpad2",
        "KP_3" => "Numpad3",
        "KP_4" => "Numpad4",
        "KP_5" => "Numpad5",
        "KP_6" => "Numpad6",
        "KP_7" => "Numpad7",
        "KP_8" => "Numpad8",
        "KP_9" => "Numpad9",
        "KP_DOT" => "NumpadDecimal",
        "KP_SLASH" => "NumpadDivide",
        "KP_ASTERISK" => "NumpadMultiply",
        "KP_MINUS" => "NumpadSubtract",
        "KP_PLUS" => "NumpadAdd",
        "KP_ENTER" => "NumpadEnter",
        "KP_EQUAL" => "NumpadEqual",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_ascii_is_complete_and_shift_is_right() {
        for c in ' '..='~' {
            assert!(char_to_key(c).is_some(), "{c:?}");
        }
        assert_eq!(char_to_key('A'), Some(("KeyA", true)));
        assert_eq!(char_to_key('a'), Some(("KeyA", false)));
        assert_eq!(char_to_key('?'), Some(("Slash", true)));
        assert_eq!(char_to_key('é'), None);
        assert_eq!(key_name_code("f12"), Some("F12"));
        assert_eq!(key_name_code("F25"), None);
        assert_eq!(modifier_code("command"), Some("MetaLeft"));
    }
}
