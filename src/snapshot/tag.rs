//! Snapshot tags: what a user may type, what the HMP fallback can carry, and suggestions.
//!
//! Pure functions only; nothing here talks to QEMU. QMP passes any tag through JSON intact, so
//! [`validate_tag`] only refuses what makes no sense anywhere (empty, control characters,
//! overlong, already used). HMP parses its command line (spaces split, quotes and backslashes
//! are interpreted, and a number may be taken for a snapshot id), so [`check_hmp_tag`] allows
//! only a small safe character set there.

use super::{Snapshot, SnapshotError};
use chrono::{DateTime, TimeZone};

/// The longest tag accepted, in bytes.
pub const MAX_TAG_BYTES: usize = 128;

/// Punctuation the HMP fallback accepts in a tag, besides ASCII letters and digits.
pub const HMP_SAFE_PUNCTUATION: &str = "._:+-";

/// Why a tag was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TagError {
    /// The tag is empty or only whitespace.
    #[error("the snapshot tag is empty")]
    Empty,
    /// The tag contains a control character (newline, tab, escape...).
    #[error("the snapshot tag contains a control character ({}) at byte {at}", found.escape_debug())]
    ControlChar {
        /// Byte offset of the character.
        at: usize,
        /// The character.
        found: char,
    },
    /// The tag is longer than [`MAX_TAG_BYTES`].
    #[error("the snapshot tag is {len} bytes long; at most {max} are allowed")]
    TooLong {
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The tag is only digits. QEMU looks a snapshot up by its numeric id before its tag, so
    /// such a tag can later name a different snapshot (the one whose id it is).
    #[error(
        "the snapshot tag '{tag}' is only digits; QEMU takes a number for a snapshot id, so \
         use at least one letter"
    )]
    AllDigits {
        /// The tag.
        tag: String,
    },
    /// A snapshot with this tag already exists: ask the user for another one.
    #[error("a snapshot tagged '{}' already exists; choose another tag", tag.escape_debug())]
    Exists {
        /// The tag.
        tag: String,
    },
}

/// Checks a tag for a new snapshot: not empty, no control characters, not only digits (QEMU
/// would take it for an id), at most [`MAX_TAG_BYTES`] bytes, and not the tag of any snapshot
/// in `existing`.
pub fn validate_tag(tag: &str, existing: &[Snapshot]) -> Result<(), TagError> {
    if tag.trim().is_empty() {
        return Err(TagError::Empty);
    }
    if let Some((at, found)) = tag.char_indices().find(|(_, c)| c.is_control()) {
        return Err(TagError::ControlChar { at, found });
    }
    if is_all_digits(tag) {
        return Err(TagError::AllDigits {
            tag: tag.to_string(),
        });
    }
    if tag.len() > MAX_TAG_BYTES {
        return Err(TagError::TooLong {
            len: tag.len(),
            max: MAX_TAG_BYTES,
        });
    }
    if existing.iter().any(|snapshot| snapshot.tag == tag) {
        return Err(TagError::Exists {
            tag: tag.to_string(),
        });
    }
    Ok(())
}

/// Checks that `tag` can go through an HMP command line unchanged: only ASCII letters, digits
/// and [`HMP_SAFE_PUNCTUATION`], and not only digits (HMP may take a number for a snapshot id).
/// `why` says why HMP is in use, for the error message.
pub fn check_hmp_tag(tag: &str, why: &'static str) -> Result<(), SnapshotError> {
    let unsafe_tag = |reason| SnapshotError::HmpUnsafeTag {
        tag: tag.to_string(),
        reason,
        why,
    };
    if tag.is_empty() {
        return Err(unsafe_tag("an empty tag"));
    }
    if tag.contains(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == '\\') {
        return Err(unsafe_tag("spaces, quotes or backslashes"));
    }
    if !tag
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || HMP_SAFE_PUNCTUATION.contains(c))
    {
        return Err(unsafe_tag("characters outside its safe set"));
    }
    if is_all_digits(tag) {
        return Err(unsafe_tag(
            "an all-digit tag (HMP may take it for a snapshot id)",
        ));
    }
    Ok(())
}

/// True for a non-empty tag made only of ASCII digits: QEMU's qcow2 driver looks such a string
/// up as a snapshot id before it looks at tags.
fn is_all_digits(tag: &str) -> bool {
    !tag.is_empty() && tag.bytes().all(|b| b.is_ascii_digit())
}

/// A tag for a snapshot taken at `now`, e.g. `snap-2026-11-25-1712`. It is safe for HMP too.
pub fn suggest_tag<Tz: TimeZone>(now: &DateTime<Tz>) -> String
where
    Tz::Offset: std::fmt::Display,
{
    now.format("snap-%Y-%m-%d-%H%M").to_string()
}

/// Like [`suggest_tag`], with `-2`, `-3`... appended if `existing` already uses the tag.
pub fn suggest_free_tag<Tz: TimeZone>(now: &DateTime<Tz>, existing: &[Snapshot]) -> String
where
    Tz::Offset: std::fmt::Display,
{
    let base = suggest_tag(now);
    let taken = |tag: &str| existing.iter().any(|s| s.tag == tag);
    if !taken(&base) {
        return base;
    }
    (2u64..)
        .map(|n| format!("{base}-{n}"))
        .find(|tag| !taken(tag))
        .unwrap_or(base)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Local, Utc};
    use std::time::Duration;

    fn snapshot(tag: &str) -> Snapshot {
        Snapshot {
            tag: tag.to_string(),
            id: "1".into(),
            vm_state_size: 0,
            date: DateTime::<Utc>::UNIX_EPOCH.with_timezone(&Local),
            vm_clock: Duration::ZERO,
            disks: vec!["disk0".into()],
            vmstate_disk: None,
            partial: false,
            missing: vec![],
        }
    }

    #[test]
    fn validate_accepts_ordinary_and_quoted_tags() {
        assert_eq!(validate_tag("before upgrade", &[]), Ok(()));
        assert_eq!(validate_tag(r#"it's "quoted" \ ok"#, &[]), Ok(()));
        assert_eq!(validate_tag("ünïcødé-✓", &[]), Ok(()));
        assert_eq!(validate_tag(&"x".repeat(MAX_TAG_BYTES), &[]), Ok(()));
    }

    #[test]
    fn validate_refuses_empty_control_long_and_existing() {
        assert_eq!(validate_tag("", &[]), Err(TagError::Empty));
        assert_eq!(validate_tag("   ", &[]), Err(TagError::Empty));
        assert_eq!(
            validate_tag("a\nb", &[]),
            Err(TagError::ControlChar { at: 1, found: '\n' })
        );
        assert_eq!(
            validate_tag("esc\u{1b}[31m", &[]),
            Err(TagError::ControlChar {
                at: 3,
                found: '\u{1b}'
            })
        );
        assert_eq!(
            validate_tag("del\u{7f}", &[]),
            Err(TagError::ControlChar {
                at: 3,
                found: '\u{7f}'
            })
        );
        // 43 three-byte characters: 129 bytes although only 43 characters.
        let long = "✓".repeat(43);
        assert_eq!(
            validate_tag(&long, &[]),
            Err(TagError::TooLong { len: 129, max: 128 })
        );
        let existing = [snapshot("a"), snapshot("b c")];
        assert_eq!(
            validate_tag("b c", &existing),
            Err(TagError::Exists { tag: "b c".into() })
        );
        assert_eq!(validate_tag("b", &existing), Ok(()));
        assert_eq!(
            validate_tag("1", &[]),
            Err(TagError::AllDigits { tag: "1".into() })
        );
        assert_eq!(
            validate_tag("20261201", &[]),
            Err(TagError::AllDigits {
                tag: "20261201".into()
            })
        );
        assert_eq!(validate_tag("1a", &[]), Ok(()));
        assert_eq!(validate_tag(" 1", &[]), Ok(()));
    }

    #[test]
    fn tag_errors_read_well() {
        let error = validate_tag("a\tb", &[]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the snapshot tag contains a control character (\\t) at byte 1"
        );
        let error = validate_tag("x", &[snapshot("x")]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "a snapshot tagged 'x' already exists; choose another tag"
        );
    }

    #[test]
    fn hmp_accepts_only_the_safe_set() {
        for tag in ["snap-2026-11-25-1712", "a.b_c:d+e-f", "v1", "1a", "-x"] {
            assert!(check_hmp_tag(tag, "test").is_ok(), "{tag}");
        }
        for (tag, reason) in [
            ("has space", "spaces"),
            ("quote\"d", "quotes"),
            ("it's", "quotes"),
            ("back\\slash", "backslashes"),
            ("semi;colon", "safe set"),
            ("ünï", "safe set"),
            ("tab\t", "spaces"),
            ("123", "all-digit"),
            ("", "empty"),
        ] {
            let error = check_hmp_tag(tag, "this QEMU has no snapshot-save").unwrap_err();
            let text = error.to_string();
            assert!(text.contains(reason), "{tag:?}: {text}");
            assert!(text.contains("this QEMU has no snapshot-save"), "{text}");
            assert!(text.contains("HMP fallback cannot pass"), "{text}");
        }
    }

    #[test]
    fn suggestions_are_timestamped_free_and_hmp_safe() {
        let now = Utc.with_ymd_and_hms(2026, 11, 25, 17, 12, 59).unwrap();
        assert_eq!(suggest_tag(&now), "snap-2026-11-25-1712");
        assert!(check_hmp_tag(&suggest_tag(&now), "test").is_ok());
        assert_eq!(suggest_free_tag(&now, &[]), "snap-2026-11-25-1712");
        let taken = [
            snapshot("snap-2026-11-25-1712"),
            snapshot("snap-2026-11-25-1712-2"),
        ];
        assert_eq!(suggest_free_tag(&now, &taken), "snap-2026-11-25-1712-3");
    }
}
