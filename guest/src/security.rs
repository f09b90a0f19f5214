//! Response hardening: the security headers every answer carries, a
//! Content-Security-Policy that allows a page's own inline `<style>` and
//! `<script>` blocks by their SHA-256 hash (never `unsafe-inline`), and the
//! constant-time comparison used for `state`.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use base64::Engine as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::http::{Header, Response};

/// The policy of every answer; pages add hashes for their inline blocks.
pub const BASE_POLICY: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// Headers every answer carries, besides the Content-Security-Policy.
pub const HEADERS: [(&str, &str); 4] = [
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("cache-control", "no-store"),
    ("x-frame-options", "DENY"),
];

const CSP: &str = "content-security-policy";

/// Add the security headers, and a policy fitted to the body when the
/// response does not carry one yet.
pub fn harden(response: &mut Response) {
    for (name, value) in HEADERS {
        response.headers.push(Header::new(name, value));
    }
    if response.header(CSP).is_none() {
        let html = response
            .header("content-type")
            .is_some_and(|ct| ct.starts_with("text/html"));
        let policy = match core::str::from_utf8(&response.body) {
            Ok(body) if html => policy_for(&[body]),
            _ => BASE_POLICY.into(),
        };
        response.headers.push(Header::new(CSP, &policy));
    }
}

/// A policy allowing the inline blocks of all `pages` (a page that replaces
/// itself with another, like the bridge, lists both). Pages with scripts may
/// also fetch from their own origin.
pub fn policy_for(pages: &[&str]) -> String {
    let styles = hashes(pages, "style");
    let scripts = hashes(pages, "script");
    let mut policy = String::from(BASE_POLICY);
    if !styles.is_empty() {
        policy.push_str(&format!("; style-src {}", styles.join(" ")));
    }
    if !scripts.is_empty() {
        policy.push_str(&format!(
            "; script-src {}; connect-src 'self'",
            scripts.join(" ")
        ));
    }
    policy
}

/// `'sha256-…'` sources for every inline `<tag>` block of `pages`, deduplicated.
fn hashes(pages: &[&str], tag: &str) -> Vec<String> {
    let mut sources: Vec<String> = Vec::new();
    for page in pages {
        for block in inline_blocks(page, tag) {
            let digest = Sha256::digest(block.as_bytes());
            let source = format!(
                "'sha256-{}'",
                base64::engine::general_purpose::STANDARD.encode(digest)
            );
            if !sources.contains(&source) {
                sources.push(source);
            }
        }
    }
    sources
}

/// The text content of each `<tag …>…</tag>` block, tag names matched
/// case-insensitively.
fn inline_blocks<'a>(html: &'a str, tag: &str) -> Vec<&'a str> {
    let lower = html.to_ascii_lowercase();
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

/// Whether two secrets are equal, in time that does not depend on where they differ.
pub fn secrets_match(given: &str, expected: &str) -> bool {
    given.as_bytes().ct_eq(expected.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_blocks_are_found_whatever_the_case_and_attributes() {
        let html = "<STYLE media=all>a{}</style><scripted></scripted><script>x()</SCRIPT>";
        assert_eq!(inline_blocks(html, "style"), ["a{}"]);
        assert_eq!(inline_blocks(html, "script"), ["x()"]);
        assert!(inline_blocks("<style>unterminated", "style").is_empty());
    }

    #[test]
    fn policies_hash_blocks_and_never_allow_unsafe_inline() {
        // echo -n 'a{}' | openssl dgst -sha256 -binary | base64
        let policy = policy_for(&["<style>a{}</style>"]);
        assert!(
            policy.ends_with("; style-src 'sha256-X1RutGBrXCt9KkSaXMK7tHftWiRscFHOhxsS8tv8hBk='"),
            "{policy}"
        );
        assert!(!policy.contains("script-src"));
        let bridge = policy_for(&["<script>go()</script>", "<style>a{}</style>"]);
        assert!(bridge.contains("script-src 'sha256-") && bridge.contains("connect-src 'self'"));
        assert!(!bridge.contains("unsafe-inline"));
        assert!(bridge.starts_with(BASE_POLICY));
    }

    #[test]
    fn harden_adds_every_header_once_and_keeps_a_given_policy() {
        let mut plain = Response::new(404, "text/plain", "Not Found");
        harden(&mut plain);
        assert_eq!(plain.header(CSP), Some(BASE_POLICY));
        assert_eq!(plain.header("x-frame-options"), Some("DENY"));

        let mut custom = Response::new(200, "text/html", "<p>hi</p>");
        custom.headers.push(Header::new(CSP, "default-src 'none'"));
        harden(&mut custom);
        assert_eq!(custom.headers.iter().filter(|h| h.name == CSP).count(), 1);
    }

    #[test]
    fn secrets_compare_exactly() {
        assert!(secrets_match("abc", "abc"));
        assert!(!secrets_match("abc", "abd"));
        assert!(!secrets_match("ab", "abc"));
    }
}
