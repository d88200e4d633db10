//! Text that other people see (names, labels, filenames): one line, no
//! control characters, no invisible format characters.
//!
//! A name like "Dana\u{202E}reganaM" renders reversed, a zero-width space
//! makes two different names look equal, a newline in a filename forges a
//! header line. So every single-line label is cleaned where it is stored:
//! control characters (Unicode category Cc: C0, DEL, C1) become spaces,
//! format characters (Cf: bidi embeddings, overrides and isolates, zero-width
//! space, word joiner, BOM, invisible operators, tags, …) are removed,
//! whitespace runs collapse to one space, and the ends are trimmed.
//!
//! Kept on purpose: U+200C ZERO WIDTH NON-JOINER and U+200D ZERO WIDTH
//! JOINER, which Persian, Indic scripts and emoji sequences (👩‍💻) need to be
//! spelled right; neither reorders or hides text.

/// Whether `c` is a Unicode format character (category Cf) that cleaning
/// removes: every Cf code point of Unicode 16 except ZWNJ and ZWJ.
pub fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061C}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08E2}'
            | '\u{180E}'
            | '\u{200B}'
            | '\u{200E}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0001}'
            | '\u{E0020}'..='\u{E007F}'
    )
}

/// `s` as one clean line: controls become spaces, invisible format
/// characters go, whitespace collapses, ends are trimmed. May be empty.
pub fn clean_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for c in s.chars() {
        if is_invisible_format(c) {
            continue;
        }
        if c.is_control() || c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push(c);
    }
    out
}

/// Whether `s` is already clean: [`clean_line`] would not change it.
pub fn is_clean_line(s: &str) -> bool {
    clean_line(s) == s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_bidi_and_zero_width_keeps_joiners() {
        assert_eq!(clean_line("Dana\u{202E}reganaM"), "DanareganaM");
        assert_eq!(clean_line("\u{2066}Acme\u{2069}"), "Acme");
        assert_eq!(clean_line("Ac\u{200B}me\u{FEFF}"), "Acme");
        assert_eq!(clean_line("👩\u{200D}💻"), "👩\u{200D}💻");
        assert_eq!(clean_line("می\u{200C}خواهم"), "می\u{200C}خواهم");
    }

    #[test]
    fn controls_become_single_spaces_and_ends_are_trimmed() {
        assert_eq!(clean_line("  a\r\nb\t\tc\u{7}d\u{85} "), "a b c d");
        assert_eq!(clean_line("\u{0}\u{1F}"), "");
        assert_eq!(clean_line("Café Crème"), "Café Crème");
        assert!(is_clean_line("Été launch"));
        assert!(!is_clean_line("Été\nlaunch"));
        assert!(!is_clean_line(" x"));
    }
}
