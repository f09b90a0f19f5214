//! Response hardening: the security headers every answer carries, a
//! Content-Security-Policy that allows a page's own inline `<style>` and
//! `<script>` blocks by their SHA-256 hash (never `unsafe-inline`), the
//! fetch metadata rule, and the constant-time comparison used for `state`.

use alloc::collections::BTreeSet;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use base64::Engine as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::http::{Header, Request, Response};
use crate::pages::{BRIDGE_SCRIPT, STYLE};

// `STYLE_SOURCE` and `BRIDGE_SCRIPT_SOURCE`: the built-in blocks' hash
// sources, computed by build.rs.
include!(concat!(env!("OUT_DIR"), "/known_hashes.rs"));

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

/// Headers every answer carries, besides the Content-Security-Policy.
pub const HEADERS: [(&str, &str); 4] = [
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("cache-control", "no-store"),
    ("x-frame-options", "DENY"),
];

const CSP: &str = "content-security-policy";

/// Add the security headers, and the base policy when the response does
/// not carry one (pages set theirs, fitted to their inline blocks).
pub fn harden(response: &mut Response) {
    for (name, value) in HEADERS {
        response.headers.push(Header::new(name, value));
    }
    if response.header(CSP).is_none() {
        response.headers.push(Header::new(CSP, BASE_POLICY));
    }
}

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
                list.insert(hash_source(block));
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

/// `'sha256-…'` for one block; the built-in blocks' are precomputed.
fn hash_source(block: &str) -> String {
    match block {
        STYLE => STYLE_SOURCE.into(),
        BRIDGE_SCRIPT => BRIDGE_SCRIPT_SOURCE.into(),
        _ => sha256_source(block),
    }
}

/// `'sha256-<base64 of the SHA-256 of text>'`.
fn sha256_source(text: &str) -> String {
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

/// Whether a browser request may reach the callback route, by its fetch
/// metadata (`Sec-Fetch-*`): only a top-level navigation (the provider's
/// redirect or `form_post`) or a request from this origin (the bridge's POST).
/// An `<img>`, `<iframe>`, `<script>` or `fetch` from another page (another
/// loopback port included) is refused, so no page the user has open can
/// complete the flow. Requests without fetch metadata (curl, scripts, older
/// browsers) may.
pub fn fetch_allowed(request: &Request) -> bool {
    let [site, mode, dest] =
        ["sec-fetch-site", "sec-fetch-mode", "sec-fetch-dest"].map(|name| request.header(name));
    if site.is_none() && mode.is_none() && dest.is_none() {
        return true;
    }
    let is = |value: Option<&[u8]>, expected: &str| {
        value.is_some_and(|value| value.eq_ignore_ascii_case(expected.as_bytes()))
    };
    (is(mode, "navigate") && is(dest, "document")) || is(site, "same-origin")
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
    fn precomputed_sources_match_a_fresh_hash() {
        let fresh = |text: &str| {
            let digest = Sha256::digest(text.as_bytes());
            format!(
                "'sha256-{}'",
                base64::engine::general_purpose::STANDARD.encode(digest)
            )
        };
        assert_eq!(STYLE_SOURCE, fresh(STYLE));
        assert_eq!(BRIDGE_SCRIPT_SOURCE, fresh(BRIDGE_SCRIPT));
        assert_eq!(hash_source(STYLE), STYLE_SOURCE);
    }

    #[test]
    fn secrets_compare_exactly() {
        assert!(secrets_match("abc", "abc"));
        assert!(!secrets_match("abc", "abd"));
        assert!(!secrets_match("ab", "abc"));
    }
}
