//! Trimming quoted history and signatures from a reply, so only what the
//! sender wrote becomes the message.
//!
//! Text ([`trim_reply`]), in this order:
//! 1. Line ends normalised, no-break spaces made spaces, byte-order marks
//!    (iOS puts one before quoted text) dropped; `format=flowed` is undone
//!    by the caller before.
//! 2. Cut at the first unquoted line that starts what is not the sender's:
//!    Outlook's header block (`From:` then `Sent:`/`Date:` then `To:`/
//!    `Subject:` within a few lines, in English, German, French and
//!    Spanish, bold `*From:*` as Gmail writes it too), a
//!    `-----Original Message-----` line (and its de/fr/es forms), a line of
//!    underscores (Outlook web and mobile), the signature delimiter `-- `,
//!    and mobile signatures ("Sent from my iPhone", "Von meinem iPhone
//!    gesendet", "Envoyé de mon iPhone", "Enviado desde mi iPhone", "Get
//!    Outlook for iOS", …). Everything from there on goes.
//! 3. Attribution lines ("On … wrote:", "Am … schrieb …:", "Le … a écrit :",
//!    "El … escribió:", wrapped over up to three lines as Gmail does) count
//!    as quote headers only when a `>` quote or the end follows, so a
//!    sentence of the sender's own that ends in "wrote:" stays.
//! 4. Placeholders of inline images (`[image: logo.png]`, `[cid:…]`) go.
//! 5. Quoted lines (`>`) and quote headers at the end go (top posting);
//!    before the sender's text they go too when no quote follows that
//!    text (bottom posting). Quotes between the sender's lines are kept
//!    (inline answers need what they answer), their headers are not.
//!
//! HTML ([`html_without_quotes`]) loses its quote blocks by their markup
//! before it becomes text: Gmail's `gmail_quote` and `gmail_signature`,
//! `<blockquote type="cite">` (Apple Mail, Thunderbird), Thunderbird's
//! `moz-cite-prefix` and `moz-signature`, Apple's and Outlook's signature
//! blocks; Outlook's reply header (`appendonsend`, `divRplyFwdMsg`,
//! `mail-editor-reference-message-container`, the bordered header `div`)
//! and Outlook desktop's automatic signature (the `_MailAutoSig`
//! bookmark: its text part has no signature delimiter) and everything
//! after them. Then [`html_to_text`] converts it, with block
//! elements as line breaks; the caller trims the text as above.

use mail_parser::decoders::html::html_to_text;

/// The text the sender wrote: `text` without quoted history and signature.
pub fn trim_reply(text: &str) -> String {
    let text = normalize(text);
    let mut lines: Vec<&str> = text.lines().map(str::trim_end).collect();

    if let Some(cut) = (0..lines.len()).find(|&i| starts_history(&lines, i)) {
        lines.truncate(cut);
    }

    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Kind {
        Text,
        Blank,
        Quote,
        Header,
    }
    let mut kinds: Vec<Kind> = lines
        .iter()
        .map(|l| {
            if l.trim().is_empty() || is_image_placeholder(l) {
                Kind::Blank
            } else if l.starts_with('>') {
                Kind::Quote
            } else {
                Kind::Text
            }
        })
        .collect();
    let mut i = 0;
    while i < lines.len() {
        if kinds[i] == Kind::Text {
            if let Some(n) = attribution_len(&lines, i) {
                let next = (i + n..lines.len()).find(|&j| kinds[j] != Kind::Blank);
                if next.is_none_or(|j| kinds[j] == Kind::Quote) {
                    kinds[i..i + n].fill(Kind::Header);
                    i += n;
                    continue;
                }
            }
        }
        i += 1;
    }

    let end = kinds
        .iter()
        .rposition(|k| *k == Kind::Text)
        .map_or(0, |p| p + 1);
    let first_text = kinds.iter().position(|k| *k == Kind::Text).unwrap_or(end);
    let quote_inside = kinds[first_text..end].contains(&Kind::Quote);
    let start = if quote_inside { 0 } else { first_text };

    let mut out = String::new();
    let mut blank_run = 0;
    for (line, kind) in lines[start..end].iter().zip(&kinds[start..end]) {
        match kind {
            Kind::Header => continue,
            Kind::Blank => {
                blank_run += 1;
                continue;
            }
            Kind::Text | Kind::Quote => {}
        }
        if !out.is_empty() {
            out.push_str(if blank_run > 0 { "\n\n" } else { "\n" });
        }
        blank_run = 0;
        out.push_str(line);
    }
    out
}

/// HTML without its quote blocks and signature, as text (not yet trimmed
/// by [`trim_reply`]).
pub fn html_without_quotes(html: &str) -> String {
    html_as_text(&strip_quotes_html(html))
}

/// The HTML with quote blocks and signatures removed, and Outlook's reply
/// header and what follows it cut (still HTML: the caller also looks for
/// which inline images the sender's own part refers to).
pub(crate) fn strip_quotes_html(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let lower = html.to_ascii_lowercase();
    let mut pos = 0;
    while let Some(tag) = next_start_tag(html, pos) {
        if cuts_rest(&tag) {
            out.push_str(&html[pos..tag.start]);
            return out;
        }
        if drops_element(&tag) {
            out.push_str(&html[pos..tag.start]);
            pos = element_end(&lower, &tag);
            continue;
        }
        out.push_str(&html[pos..tag.end]);
        pos = tag.end;
    }
    out.push_str(&html[pos..]);
    out
}

/// The bookmark Outlook desktop puts where its automatic signature starts.
pub(crate) const OUTLOOK_SIGNATURE: &str = "_MailAutoSig";

/// Where a soft line break goes in HTML: a block element's boundary. A
/// private-use character survives `html_to_text` as a word of its own.
const BREAK: char = '\u{E000}';
const BLOCKS: &[&str] = &[
    "div",
    "p",
    "li",
    "tr",
    "table",
    "blockquote",
    "pre",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "ul",
    "ol",
];

fn html_as_text(html: &str) -> String {
    let html = html.replace(BREAK, "");
    // Word's HTML (Outlook desktop) writes each line as a paragraph
    // without margins: its end is one line break, not two.
    let word = html.contains("MsoNormal");
    let mut marked = String::with_capacity(html.len() + 64);
    let mut pos = 0;
    while let Some(lt) = html[pos..].find('<').map(|i| pos + i) {
        marked.push_str(&html[pos..lt]);
        let rest = &html[lt + 1..];
        let name: String = rest
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        let word_paragraph_end = word && name == "p" && rest.starts_with('/');
        if BLOCKS.contains(&name.as_str()) && !word_paragraph_end {
            marked.push_str(" \u{E000} ");
        }
        marked.push('<');
        pos = lt + 1;
    }
    marked.push_str(&html[pos..]);

    let text = html_to_text(&marked);
    let mut out = String::with_capacity(text.len());
    let mut skip_spaces = false;
    for c in text.chars() {
        if c == BREAK {
            let kept = out.trim_end_matches([' ', '\t']).len();
            out.truncate(kept);
            if !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
            }
            skip_spaces = true;
            continue;
        }
        if skip_spaces && (c == ' ' || c == '\t') {
            continue;
        }
        skip_spaces = c == '\n';
        out.push(c);
    }
    out
}

struct StartTag<'a> {
    start: usize,
    end: usize,
    name: String,
    attrs: &'a str,
}

impl StartTag<'_> {
    fn attr(&self, name: &str) -> Option<&str> {
        attr_value(self.attrs, name)
    }

    fn has_class(&self, class: &str) -> bool {
        self.attr("class")
            .is_some_and(|c| c.split_ascii_whitespace().any(|c| c == class))
    }
}

/// The next start tag at or after `from`, skipping comments, end tags
/// and a `<` that opens no tag.
fn next_start_tag(html: &str, mut from: usize) -> Option<StartTag<'_>> {
    loop {
        let lt = from + html.get(from..)?.find('<')?;
        let rest = &html[lt..];
        if rest.starts_with("<!--") {
            from = rest.find("-->").map_or(html.len(), |e| lt + e + 3);
            continue;
        }
        let name_len = rest[1..]
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(rest.len() - 1);
        let Some(len) = (name_len > 0).then(|| tag_len(rest)).flatten() else {
            from = lt + 1;
            continue;
        };
        let gt = lt + len;
        return Some(StartTag {
            start: lt,
            end: gt,
            name: rest[1..1 + name_len].to_ascii_lowercase(),
            attrs: &html[lt + 1 + name_len..gt - 1],
        });
    }
}

/// The length of the tag starting at `s[0] == '<'`, up to and with its
/// `>`, quotes respected.
fn tag_len(s: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in s.char_indices().skip(1) {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => return Some(i + 1),
            _ => {}
        }
    }
    None
}

fn attr_value<'a>(attrs: &'a str, wanted: &str) -> Option<&'a str> {
    let mut rest = attrs;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
        if rest.is_empty() {
            return None;
        }
        let name_len = rest
            .find(|c: char| c.is_whitespace() || c == '=' || c == '/')
            .unwrap_or(rest.len());
        let name = &rest[..name_len];
        rest = rest[name_len..].trim_start();
        let mut value = "";
        if let Some(after) = rest.strip_prefix('=') {
            let after = after.trim_start();
            if let Some(q) = after.chars().next().filter(|c| *c == '"' || *c == '\'') {
                let body = &after[1..];
                let close = body.find(q).unwrap_or(body.len());
                value = &body[..close];
                rest = body.get(close + 1..).unwrap_or("");
            } else {
                let len = after.find(char::is_whitespace).unwrap_or(after.len());
                value = &after[..len];
                rest = &after[len..];
            }
        }
        if name.eq_ignore_ascii_case(wanted) {
            return Some(value);
        }
        if name.is_empty() {
            // Stray characters: step over one to make progress.
            rest = rest.get(1..).unwrap_or("");
        }
    }
}

/// Outlook's reply header: it and everything after it is history.
fn cuts_rest(tag: &StartTag<'_>) -> bool {
    let id = tag.attr("id").unwrap_or("");
    if [
        "appendonsend",
        "divRplyFwdMsg",
        "mail-editor-reference-message-container",
    ]
    .iter()
    .any(|k| id.eq_ignore_ascii_case(k))
    {
        return true;
    }
    if tag.has_class("OutlookMessageHeader") {
        return true;
    }
    // Outlook desktop's automatic signature starts with this bookmark.
    if tag.name == "a" && tag.attr("name") == Some(OUTLOOK_SIGNATURE) {
        return true;
    }
    // Outlook desktop: the header block is a div with only a top border.
    tag.name == "div"
        && tag.attr("style").is_some_and(|s| {
            let s = s.to_ascii_lowercase().replace(' ', "");
            s.contains("border:none") && s.contains("border-top:solid")
        })
}

/// Quote blocks and signatures: the element and its content go.
fn drops_element(tag: &StartTag<'_>) -> bool {
    let class_hit = [
        "gmail_quote",
        "gmail_quote_container",
        "gmail_signature",
        "gmail_signature_prefix",
        "moz-cite-prefix",
        "moz-signature",
    ]
    .iter()
    .any(|c| tag.has_class(c));
    let id = tag.attr("id").unwrap_or("");
    class_hit
        || (tag.name == "blockquote"
            && tag
                .attr("type")
                .is_some_and(|t| t.eq_ignore_ascii_case("cite")))
        || ["AppleMailSignature", "Signature", "signature"].contains(&id)
}

/// Where the element opened by `tag` ends (after its end tag; the end of
/// the document if it is never closed). `lower` is the document in lower
/// case (ASCII only: the same byte offsets).
fn element_end(lower: &str, tag: &StartTag<'_>) -> usize {
    if tag.attrs.trim_end().ends_with('/') {
        return tag.end;
    }
    let mut depth = 1usize;
    let mut pos = tag.end;
    let open = format!("<{}", tag.name);
    let close = format!("</{}", tag.name);
    loop {
        let next_open = lower[pos..].find(&open).map(|i| pos + i).filter(|&i| {
            lower[i + open.len()..]
                .chars()
                .next()
                .is_some_and(|c| !c.is_ascii_alphanumeric())
        });
        let Some(next_close) = lower[pos..].find(&close).map(|i| pos + i) else {
            return lower.len();
        };
        match next_open {
            Some(o) if o < next_close => {
                depth += 1;
                pos = o + open.len();
            }
            _ => {
                depth -= 1;
                let end = lower[next_close..]
                    .find('>')
                    .map_or(lower.len(), |e| next_close + e + 1);
                if depth == 0 {
                    return end;
                }
                pos = end;
            }
        }
    }
}

fn normalize(text: &str) -> String {
    text.replace("\r\n", "\n")
        .replace('\r', "\n")
        .replace(['\u{00A0}', '\u{202F}'], " ")
        .replace(['\u{FEFF}', '\u{200B}'], "")
}

/// A line that starts what is not the sender's (see the module doc, 2).
fn starts_history(lines: &[&str], i: usize) -> bool {
    let line = lines[i];
    if line.starts_with('>') {
        return false;
    }
    is_signature_delimiter(line)
        || is_mobile_signature(line)
        || is_original_message(line)
        || is_underscores(line)
        || is_outlook_header(lines, i)
}

fn is_signature_delimiter(line: &str) -> bool {
    line.trim_end() == "--"
}

fn is_mobile_signature(line: &str) -> bool {
    let l = line.trim().to_lowercase();
    if l.chars().count() > 60 {
        return false;
    }
    const STARTS: &[&str] = &[
        "sent from my ",
        "sent from outlook",
        "sent from mail for windows",
        "sent from yahoo mail",
        "get outlook for ",
        "von meinem ",
        "gesendet von outlook",
        "gesendet von mail für windows",
        "outlook für ",
        "envoyé de mon ",
        "envoyé depuis mon ",
        "envoyé à partir de outlook",
        "obtenir outlook pour ",
        "enviado desde mi ",
        "enviado desde outlook",
        "obtener outlook para ",
    ];
    STARTS.iter().any(|s| l.starts_with(s))
        && (!l.starts_with("von meinem ") || l.ends_with("gesendet"))
}

fn is_original_message(line: &str) -> bool {
    let l = line.trim();
    if !l.starts_with("--") {
        return false;
    }
    let inner = l.trim_matches(|c: char| c == '-' || c.is_whitespace());
    let inner = inner.to_lowercase();
    [
        "original message",
        "ursprüngliche nachricht",
        "originalnachricht",
        "message d'origine",
        "message d’origine",
        "mensaje original",
    ]
    .contains(&inner.as_str())
}

fn is_underscores(line: &str) -> bool {
    let l = line.trim();
    l.len() >= 10 && l.bytes().all(|b| b == b'_')
}

/// The label of an Outlook header line (`From:`, `*Von:*`, `De :`), lower.
fn header_label(line: &str) -> Option<String> {
    let l = line.trim_start().trim_start_matches('*');
    let colon = l.find(':')?;
    let label = l[..colon].trim_end_matches('*').trim();
    (label.chars().count() <= 12 && !label.is_empty()).then(|| label.to_lowercase())
}

fn is_outlook_header(lines: &[&str], i: usize) -> bool {
    const FROM: &[&str] = &["from", "von", "de"];
    const SENT: &[&str] = &[
        "sent", "date", "gesendet", "datum", "envoyé", "enviado", "fecha",
    ];
    const TO: &[&str] = &[
        "to", "subject", "an", "betreff", "à", "a", "objet", "para", "asunto", "cc",
    ];
    if !header_label(lines[i]).is_some_and(|l| FROM.contains(&l.as_str())) {
        return false;
    }
    let next: Vec<String> = lines[i + 1..]
        .iter()
        .take(5)
        .filter_map(|l| header_label(l))
        .collect();
    next.iter().any(|l| SENT.contains(&l.as_str())) && next.iter().any(|l| TO.contains(&l.as_str()))
}

/// How many lines from `i` form an attribution ("On … wrote:"), if they do.
fn attribution_len(lines: &[&str], i: usize) -> Option<usize> {
    let mut joined = String::new();
    for n in 1..=3 {
        let line = lines.get(i + n - 1)?.trim();
        if n > 1 && line.is_empty() {
            return None;
        }
        if !joined.is_empty() {
            joined.push(' ');
        }
        joined.push_str(line);
        if joined.len() > 400 {
            return None;
        }
        if is_attribution(&joined) {
            return Some(n);
        }
    }
    None
}

fn is_attribution(s: &str) -> bool {
    let l = s.to_lowercase();
    let l = l.trim_end();
    (l.starts_with("on ") && l.ends_with("wrote:"))
        || (l.starts_with("am ") && l.contains(" schrieb") && l.ends_with(':'))
        || (l.starts_with("le ") && (l.ends_with("a écrit :") || l.ends_with("a écrit:")))
        || (l.starts_with("el ") && l.ends_with("escribió:"))
}

fn is_image_placeholder(line: &str) -> bool {
    let l = line.trim();
    l.starts_with('[')
        && l.ends_with(']')
        && (l.starts_with("[image:") || l.starts_with("[cid:") || l.starts_with("[Bild:"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_posting_loses_the_quote_and_its_header() {
        let t = "Thanks, that works.\n\nOn Mon, 30 Nov 2026 at 07:51, Liaison <\nnotify@liaison.example> wrote:\n\n> Ana wrote:\n> Hi\n";
        assert_eq!(trim_reply(t), "Thanks, that works.");
    }

    #[test]
    fn attribution_in_four_languages() {
        for header in [
            "On 30 Nov 2026, at 07:51, Liaison <n@l.example> wrote:",
            "Am 30.11.2026 um 07:51 schrieb Liaison <n@l.example>:",
            "Le lun. 30 nov. 2026 à 07:51, Liaison <n@l.example> a écrit\u{a0}:",
            "El lun, 30 nov 2026 a las 7:51, Liaison (<n@l.example>) escribió:",
        ] {
            let t = format!("Ja.\n\n{header}\n> quoted\n");
            assert_eq!(trim_reply(&t), "Ja.", "{header}");
        }
    }

    #[test]
    fn own_sentence_ending_in_wrote_stays() {
        let t = "On Monday the lawyer wrote:\nthe contract is fine.";
        assert_eq!(trim_reply(t), t);
    }

    #[test]
    fn bottom_posting_and_inline_answers() {
        let bottom = "On 11/30/26 07:51, Liaison wrote:\n> question?\n\nMy answer.\n";
        assert_eq!(trim_reply(bottom), "My answer.");
        let inline = "On 11/30/26 07:51, Liaison wrote:\n> Logo?\nAttached.\n> Date?\nFriday.\n\n> rest\n> of it\n";
        assert_eq!(trim_reply(inline), "> Logo?\nAttached.\n> Date?\nFriday.");
    }

    #[test]
    fn outlook_blocks_and_signatures_cut() {
        let t = "Fine.\n\n*From:* Liaison\n*Sent:* Monday\n*To:* Chris\nold";
        assert_eq!(trim_reply(t), "Fine.");
        let t = "Gut.\n\nVon: Liaison <n@l.example>\nGesendet: Montag, 30. November 2026 07:51\nAn: Chris\nBetreff: x\n\nold";
        assert_eq!(trim_reply(t), "Gut.");
        let t = "Ok\r\n\r\n-----Original Message-----\r\nFrom: x\r\n";
        assert_eq!(trim_reply(t), "Ok");
        let t = "Ok\n________________________________\nFrom: x";
        assert_eq!(trim_reply(t), "Ok");
        let t = "Ok\n\n-- \nChris Doe\nACME";
        assert_eq!(trim_reply(t), "Ok");
        let t = "Ok\n\nVon meinem iPhone gesendet\n\n> Am 30.11.2026 um 07:51 schrieb X:\n";
        assert_eq!(trim_reply(t), "Ok");
        let t = "D'accord.\n\nDe\u{a0}: Liaison <n@l.example>\nEnvoyé\u{a0}: lundi 30 novembre 2026 07:51\nÀ\u{a0}: Chris\nObjet\u{a0}: x\n\nold";
        assert_eq!(trim_reply(t), "D'accord.");
        let t = "Vale.\n\nDe: Liaison <n@l.example>\nEnviado: lunes, 30 de noviembre de 2026 7:51\nPara: Chris\nAsunto: x\n\nold";
        assert_eq!(trim_reply(t), "Vale.");
        let t = "Sure.\n\nFrom: Liaison <n@l.example>\nDate: Monday, 30 November 2026 at 07:51\nTo: Chris\nSubject: x\n\nold";
        assert_eq!(trim_reply(t), "Sure.");
        let t = "Ok\n\n-----Ursprüngliche Nachricht-----\nVon: x\n";
        assert_eq!(trim_reply(t), "Ok");
        let t =
            "Ja.\n\nAm Mo., 30. Nov. 2026 um 07:51 Uhr schrieb Liaison <\nn@l.example>:\n\n> old\n";
        assert_eq!(trim_reply(t), "Ja.");
        // A "From:" of the sender's own without a header block stays.
        let t = "From: the supplier, the price is 12.\nTo: be checked.";
        assert_eq!(trim_reply(t), t);
    }

    #[test]
    fn only_a_quote_is_nothing() {
        assert_eq!(trim_reply("\n> On x wrote:\n> hi\n"), "");
        assert_eq!(trim_reply("[image: logo.png]\n\n-- \nsig"), "");
    }

    #[test]
    fn html_quote_blocks_go() {
        let gmail = r#"<div dir="ltr">Thanks,<div>that works.</div><div><br></div></div><br><div class="gmail_quote gmail_quote_container"><div dir="ltr" class="gmail_attr">On Mon wrote:<br></div><blockquote class="gmail_quote" style="margin:0"><div>old <div>nested</div></div></blockquote></div>"#;
        assert_eq!(
            trim_reply(&html_without_quotes(gmail)),
            "Thanks,\nthat works."
        );
        let apple = r#"<html><body><div dir="ltr">Yes &amp; no</div><div dir="ltr"><br><blockquote type="cite">On 30 Nov wrote:<br><br></blockquote></div><blockquote type="cite"><div dir="ltr">old</div></blockquote></body></html>"#;
        assert_eq!(trim_reply(&html_without_quotes(apple)), "Yes & no");
        let owa = r#"<div>Fine</div><div id="appendonsend"></div><hr><div id="divRplyFwdMsg"><b>From:</b> x</div><div>old</div>"#;
        assert_eq!(trim_reply(&html_without_quotes(owa)), "Fine");
        let tb = r#"<p>Sure.</p><div class="moz-cite-prefix">On 11/30/26 wrote:<br></div><blockquote type="cite" cite="mid:x">old</blockquote><pre class="moz-signature" cols="72">-- 
Chris</pre>"#;
        assert_eq!(trim_reply(&html_without_quotes(tb)), "Sure.");
    }

    #[test]
    fn hostile_input_is_safe_and_linear() {
        let start = std::time::Instant::now();
        let siblings = "<div class=\"gmail_quote\">old</div>new ".repeat(20_000);
        let text = html_without_quotes(&siblings);
        assert!(!text.contains("old") && text.contains("new"));
        let nested = format!(
            "kept{}old",
            "<blockquote type=\"cite\"><div>".repeat(20_000)
        );
        assert_eq!(trim_reply(&html_without_quotes(&nested)), "kept");
        let lines = "> q\nOn x wrote:\nFrom: a\n".repeat(20_000);
        trim_reply(&lines);
        // Debug build; quadratic work would take minutes.
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
        // A stray "<" or quote does not stop the quote removal.
        let stray = "x <3 it's <div class=\"gmail_quote\">old</div>";
        assert!(!html_without_quotes(stray).contains("old"));
        for bad in [
            "<",
            "<div",
            "<div class='gmail_quote",
            "<!--",
            "<blockquote type=cite>",
        ] {
            assert_eq!(trim_reply(&html_without_quotes(bad)), "", "{bad}");
        }
    }
}
