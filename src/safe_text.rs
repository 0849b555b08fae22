//! Text from peers made safe to show. QEMU's replies, error texts, snapshot tags and ids, VM
//! and device names can hold any character a guest, an image or a stranger put there; printed
//! raw, control characters drive the user's terminal (`ESC ]0;…` retitles it, `ESC [2J` clears
//! it) and invisible or bidi characters make the terminal's idea of a line's width differ from
//! ours, so rows misalign. Plain-text output escapes them ([`for_terminal`]), JSON output keeps
//! them as JSON escapes ([`json_line`]), and the full-screen view replaces them cell by cell
//! (`ui::render`).

use std::borrow::Cow;
use std::fmt::Write as _;

/// True for characters that must not reach a terminal as they are: control characters (C0,
/// DEL, C1), line and paragraph separators, and Unicode's default-ignorable code points (soft
/// hyphen, zero-width and bidi controls, Hangul fillers, variation selectors, tags), whose
/// width terminals disagree on.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            u32::from(c),
            0x00AD
                | 0x034F
                | 0x061C
                | 0x115F..=0x1160
                | 0x17B4..=0x17B5
                | 0x180B..=0x180F
                | 0x200B..=0x200F
                | 0x2028..=0x202E
                | 0x2060..=0x206F
                | 0x3164
                | 0xFE00..=0xFE0F
                | 0xFEFF
                | 0xFFA0
                | 0xFFF0..=0xFFF8
                | 0x1BCA0..=0x1BCA3
                | 0x1D173..=0x1D17A
                | 0xE0000..=0xE0FFF
        )
}

/// `text` with every [`is_unsafe`] character written as a Rust-style escape (`\u{1b}`), for
/// plain-text output (stderr lines, the snapshot table). Borrowed when nothing needed escaping.
pub fn for_terminal(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe(c) {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Serialized JSON (from `serde_json`) with the [`is_unsafe`] characters it leaves as they are
/// (DEL, C1 controls, default-ignorables) written as `\uXXXX` escapes. `serde_json` escapes
/// every C0 control inside strings, so those left raw are its own whitespace (newline, tab),
/// kept; the others can only stand inside strings, so the JSON keeps its meaning.
pub fn json_line(json: &str) -> Cow<'_, str> {
    let needs_escape = |c: char| is_unsafe(c) && !matches!(c, '\n' | '\r' | '\t');
    // ASCII without DEL (nearly every line) is safe: `serde_json` leaves no C0 control raw but
    // its own whitespace, which is kept. Both checks run a word at a time.
    let plain = json.is_ascii() && memchr::memchr(0x7f, json.as_bytes()).is_none();
    if plain || !json.chars().any(needs_escape) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 12);
    for c in json.chars() {
        if needs_escape(c) {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_escapes_what_drives_or_confuses_a_terminal() {
        assert!(matches!(for_terminal("disk0 ünï ✓"), Cow::Borrowed(_)));
        assert_eq!(
            for_terminal("1\u{1b}]0;PWNED\u{7}\u{1b}[2J"),
            "1\\u{1b}]0;PWNED\\u{7}\\u{1b}[2J"
        );
        assert_eq!(
            for_terminal("a\u{ad}b\u{3164}c\u{9b}"),
            "a\\u{ad}b\\u{3164}c\\u{9b}"
        );
        assert_eq!(for_terminal("rtl\u{202e}txt"), "rtl\\u{202e}txt");
    }

    #[test]
    fn json_keeps_its_meaning_with_escapes() {
        let value = serde_json::json!({"name": "a\u{9b}b\u{ad}\u{e0041}\u{1b}"});
        let line = serde_json::to_string(&value).unwrap();
        let safe = json_line(&line);
        assert!(!safe.chars().any(is_unsafe), "{safe}");
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, value);
        let pretty = serde_json::to_string_pretty(&value).unwrap();
        let back: serde_json::Value = serde_json::from_str(&json_line(&pretty)).unwrap();
        assert_eq!(back, value);
    }
}
