//! Request guards and response hardening: the security headers every
//! answer carries, the fetch metadata rule, and the constant-time
//! comparison used for `state` and `iss`.

use subtle::ConstantTimeEq;

use crate::http::{Header, Request, Response};
use crate::policy::BASE_POLICY;

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

/// Whether a request is a browser's speculative load of the page (a
/// prefetch or prerender: `Sec-Purpose: prefetch`, `prefetch;prerender`;
/// the older `Purpose: prefetch` and `X-Moz: prefetch`), which carries the
/// navigation's own headers but may never be shown. It must not complete
/// the flow: the real navigation that follows would find nobody there.
pub fn speculative(request: &Request) -> bool {
    let says_prefetch = |name: &str| {
        request.header(name).is_some_and(|value| {
            value
                .split(|&b| b == b';' || b == b',')
                .any(|token| token.trim_ascii().eq_ignore_ascii_case(b"prefetch"))
        })
    };
    says_prefetch("sec-purpose") || says_prefetch("purpose") || says_prefetch("x-moz")
}

/// Whether two secrets are equal, in time that does not depend on where they differ.
pub fn secrets_match(given: &str, expected: &str) -> bool {
    given.as_bytes().ct_eq(expected.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefetches_and_prerenders_are_speculative_navigations_are_not() {
        let with = |name: &str, value: &str| Request {
            method: "GET".into(),
            path: "/callback".into(),
            query: None,
            headers: alloc::vec![Header::new(name, value)],
            body: alloc::vec::Vec::new(),
        };
        for (name, value) in [
            ("Sec-Purpose", "prefetch"),
            ("sec-purpose", "prefetch;prerender"),
            ("sec-purpose", "prefetch; anonymous-client-ip"),
            ("Purpose", "prefetch"),
            ("X-Moz", "prefetch"),
        ] {
            assert!(speculative(&with(name, value)), "{name}: {value}");
        }
        for (name, value) in [("sec-fetch-mode", "navigate"), ("purpose", "preview")] {
            assert!(!speculative(&with(name, value)), "{name}: {value}");
        }
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
