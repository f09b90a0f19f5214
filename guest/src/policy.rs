//! The Content-Security-Policy model: a policy that allows a page's own
//! inline `<style>` and `<script>` blocks by their SHA-256 hash (never
//! `unsafe-inline`), on top of a base that no answer may loosen.

use alloc::collections::BTreeSet;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use base64::Engine as _;
use sha2::{Digest, Sha256};

/// The directives no answer may loosen: no framing, no `<base>`, no form
/// targets (written once, for both policies below).
macro_rules! framing_policy {
    () => {
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    };
}

/// Added beside a policy a swapped-in handler sets itself.
pub const FRAMING_POLICY: &str = framing_policy!();

/// The policy of every answer; pages add hashes for their inline blocks.
pub const BASE_POLICY: &str = concat!("default-src 'none'; ", framing_policy!());

/// The hash sources (`'sha256-…'`) of inline `<style>` and `<script>` blocks
/// a policy allows, each once (in a set: pages with thousands of blocks
/// cost `n log n`, not `n²`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Sources {
    /// For `style-src`.
    pub styles: BTreeSet<String>,
    /// For `script-src`.
    pub scripts: BTreeSet<String>,
}

impl Sources {
    /// The sources of every inline block in `html`.
    pub fn of_html(html: &str) -> Sources {
        let lower = html.to_ascii_lowercase();
        let mut sources = Sources::default();
        for (tag, list) in [
            ("style", &mut sources.styles),
            ("script", &mut sources.scripts),
        ] {
            for block in inline_blocks(html, &lower, tag) {
                list.insert(sha256_source(block));
            }
        }
        sources
    }

    /// Add `other`'s sources (a page that replaces itself with another, like
    /// the bridge, must allow both).
    pub fn merge(&mut self, other: Sources) {
        self.styles.extend(other.styles);
        self.scripts.extend(other.scripts);
    }

    /// The policy allowing these blocks and nothing else. Pages with scripts
    /// may also fetch from their own origin.
    pub fn policy(&self) -> String {
        let mut policy = String::from(BASE_POLICY);
        let join = |sources: &BTreeSet<String>| {
            sources
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(" ")
        };
        if !self.styles.is_empty() {
            policy.push_str(&format!("; style-src {}", join(&self.styles)));
        }
        if !self.scripts.is_empty() {
            policy.push_str(&format!(
                "; script-src {}; connect-src 'self'",
                join(&self.scripts)
            ));
        }
        policy
    }
}

/// `'sha256-<base64 of the SHA-256 of text>'`.
pub fn sha256_source(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    let encoded = base64::engine::general_purpose::STANDARD.encode(digest);
    format!("'sha256-{encoded}'")
}

/// The text content of each `<tag …>…</tag>` block of `html`, found in its
/// ASCII-lowercase copy `lower` (same offsets), so tags match in any case.
fn inline_blocks<'a>(html: &'a str, lower: &str, tag: &str) -> Vec<&'a str> {
    let (open, close) = (format!("<{tag}"), format!("</{tag}"));
    let mut blocks = Vec::new();
    let mut at = 0;
    while let Some(found) = lower[at..].find(&open) {
        let name_end = at + found + open.len();
        let boundary = lower[name_end..].chars().next();
        if !matches!(boundary, Some(c) if c == '>' || c.is_ascii_whitespace()) {
            at = name_end;
            continue;
        }
        let Some(start) = lower[name_end..].find('>').map(|i| name_end + i + 1) else {
            break;
        };
        let Some(end) = lower[start..].find(&close).map(|i| start + i) else {
            break;
        };
        blocks.push(&html[start..end]);
        at = end + close.len();
    }
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_blocks_are_found_whatever_the_case_and_attributes() {
        let html = "<STYLE media=all>a{}</style><scripted></scripted><script>x()</SCRIPT>";
        let lower = html.to_ascii_lowercase();
        assert_eq!(inline_blocks(html, &lower, "style"), ["a{}"]);
        assert_eq!(inline_blocks(html, &lower, "script"), ["x()"]);
        let open = "<style>unterminated";
        assert!(inline_blocks(open, open, "style").is_empty());
    }

    #[test]
    fn policies_hash_blocks_and_never_allow_unsafe_inline() {
        // echo -n 'a{}' | openssl dgst -sha256 -binary | base64
        let policy = Sources::of_html("<style>a{}</style>").policy();
        assert!(
            policy.ends_with("; style-src 'sha256-X1RutGBrXCt9KkSaXMK7tHftWiRscFHOhxsS8tv8hBk='"),
            "{policy}"
        );
        assert!(!policy.contains("script-src"));
        let mut sources = Sources::of_html("<script>go()</script>");
        sources.merge(Sources::of_html("<style>a{}</style><style>a{}</style>"));
        assert_eq!(sources.styles.len(), 1, "sources are deduplicated");
        let bridge = sources.policy();
        assert!(bridge.contains("script-src 'sha256-") && bridge.contains("connect-src 'self'"));
        assert!(!bridge.contains("unsafe-inline"));
        assert!(bridge.starts_with(BASE_POLICY));
    }
}
