//! The built-in pages (success, error, fragment bridge) and the small fixed
//! bodies, rendered from the templates in `assets/`. The one thing from a
//! request ever put into a page is the provider's `error` and
//! `error_description` on the error page: HTML-escaped and bounded.

use alloc::string::String;
use core::fmt::Write;

use crate::policy::Sources;

// `STYLE_SOURCE`, `BRIDGE_SCRIPT_SOURCE` and `DONE_SCRIPT_SOURCE`: the
// built-in blocks' hash sources, computed by build.rs.
include!(concat!(env!("OUT_DIR"), "/known_hashes.rs"));

/// The success page's message, as in the original module.
pub const SUCCESS_MESSAGE: &str = "Credentials received successfully. You may close this window.";
/// The error page's message, as in the original module.
pub const ERROR_MESSAGE: &str =
    "Authentication could not be completed. Close this window and try again.";

/// The message when a callback fails the `state` or issuer check.
pub const REJECTED_MESSAGE: &str =
    "This sign-in response could not be verified. Close this window and start the sign-in again.";

/// Said under the success and error messages.
pub const NEXT_STEP: &str =
    "You can close this tab and return to the terminal or app you signed in from.";

/// Longest provider `error` code shown (RFC 6749 codes are short ASCII words).
const MAX_ERROR_CODE: usize = 64;
/// Longest `error_description` shown; the rest is cut.
const MAX_ERROR_DESCRIPTION: usize = 400;

const TEMPLATE: &str = include_str!("../assets/page.html");
/// The built-in stylesheet, inlined into every built-in page.
pub const STYLE: &str = include_str!("../assets/style.css");
/// The bridge page's script.
pub const BRIDGE_SCRIPT: &str = include_str!("../assets/bridge.js");
/// The success and error pages' script: the code leaves the address bar and
/// history, and a tab the application opened closes itself.
pub const DONE_SCRIPT: &str = include_str!("../assets/done.js");

/// Which built-in page to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// Credentials arrived.
    Success,
    /// The provider reported an error.
    Error,
    /// Nothing conclusive in the query: read the `#fragment` and post it back.
    Bridge,
    /// The callback failed a `state` or `iss` check.
    Rejected,
}

/// What the provider said when it reported an error (RFC 6749 section
/// 4.1.2.1), for the built-in error page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProviderError<'a> {
    /// The `error` code, e.g. `access_denied`.
    pub code: &'a str,
    /// The `error_description`, if any.
    pub description: Option<&'a str>,
}

impl ProviderError<'_> {
    /// What to do about the common codes.
    pub fn hint(&self) -> Option<&'static str> {
        Some(match self.code {
            "access_denied" => {
                "The request was declined, at the sign-in page or by the provider. Start the \
                 sign-in again to grant access."
            }
            "invalid_scope" => {
                "The application asked for permissions (scopes) the provider does not know \
                 or allow for it: its configuration needs changing."
            }
            "unauthorized_client" => {
                "The provider does not let this application sign in this way: its \
                 registration with the provider needs changing."
            }
            "invalid_request" => {
                "The provider found the sign-in request malformed; a redirect URI that does \
                 not match the registered one is a common cause."
            }
            _ => return None,
        })
    }

    /// The details paragraph and the hint, escaped and bounded.
    fn write_html(&self, html: &mut String) {
        html.push_str(r#"<p class="details">The provider said <code>"#);
        escape_into(html, self.code, MAX_ERROR_CODE);
        html.push_str("</code>");
        if let Some(description) = self.description.filter(|d| !d.is_empty()) {
            html.push_str(": ");
            escape_into(html, description, MAX_ERROR_DESCRIPTION);
        }
        html.push_str("</p>");
        html.push_str(r#"<p class="next">"#);
        if let Some(hint) = self.hint() {
            html.push_str(hint);
            html.push(' ');
        }
        html.push_str(NEXT_STEP);
        html.push_str("</p>");
    }
}

/// Append `text`, at most `limit` bytes of it (cut at a character, with an
/// ellipsis), with `&`, `<`, `>`, `"` and `'` escaped, and every character
/// that is invisible or reorders the text around it shown as a visible
/// escape (`\u{202e}`): a description may be in any script (RFC 6749
/// section 4.1.2.1 allows printable ASCII only, but providers localise it),
/// yet a right-to-left override must not turn `0000-555-008-1` into a
/// phone number to call.
fn escape_into(html: &mut String, text: &str, limit: usize) {
    let mut end = text.len().min(limit);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    for c in text[..end].chars() {
        match c {
            '&' => html.push_str("&amp;"),
            '<' => html.push_str("&lt;"),
            '>' => html.push_str("&gt;"),
            '"' => html.push_str("&quot;"),
            '\'' => html.push_str("&#39;"),
            c if hidden(c) => {
                let _ = write!(html, "\\u{{{:x}}}", u32::from(c));
            }
            c => html.push(c),
        }
    }
    if end < text.len() {
        html.push('\u{2026}');
    }
}

/// Whether `c` shows nothing, or changes how the text around it shows:
/// control and format characters (bidi controls among them), separators
/// other than the space, unassigned, private-use and surrogate code points,
/// and default-ignorable ones.
fn hidden(c: char) -> bool {
    use unicode_properties::{GeneralCategory as Category, UnicodeGeneralCategory};
    matches!(
        c.general_category(),
        Category::Control
            | Category::Format
            | Category::LineSeparator
            | Category::ParagraphSeparator
            | Category::Unassigned
            | Category::PrivateUse
            | Category::Surrogate
    ) || DEFAULT_IGNORABLE.iter().any(|range| range.contains(&c))
}

/// The code points with the `Default_Ignorable_Code_Point` property
/// (Unicode 16.0, DerivedCoreProperties.txt): rendered as nothing.
const DEFAULT_IGNORABLE: [core::ops::RangeInclusive<char>; 17] = [
    '\u{00ad}'..='\u{00ad}',
    '\u{034f}'..='\u{034f}',
    '\u{061c}'..='\u{061c}',
    '\u{115f}'..='\u{1160}',
    '\u{17b4}'..='\u{17b5}',
    '\u{180b}'..='\u{180f}',
    '\u{200b}'..='\u{200f}',
    '\u{202a}'..='\u{202e}',
    '\u{2060}'..='\u{206f}',
    '\u{3164}'..='\u{3164}',
    '\u{fe00}'..='\u{fe0f}',
    '\u{feff}'..='\u{feff}',
    '\u{ffa0}'..='\u{ffa0}',
    '\u{fff0}'..='\u{fff8}',
    '\u{1bca0}'..='\u{1bca3}',
    '\u{1d173}'..='\u{1d17a}',
    '\u{e0000}'..='\u{e0fff}',
];

impl Page {
    /// The page's complete HTML.
    pub fn render(self) -> String {
        self.render_with(None)
    }

    /// The error page, with what the provider said and a hint.
    pub fn render_error(error: &ProviderError) -> String {
        Page::Error.render_with(Some(error))
    }

    fn render_with(self, error: Option<&ProviderError>) -> String {
        let (tone, title, message, script) = match self {
            Page::Success => ("success", "Signed in", SUCCESS_MESSAGE, DONE_SCRIPT),
            Page::Error => ("error", "Sign-in failed", ERROR_MESSAGE, DONE_SCRIPT),
            Page::Bridge => (
                "pending",
                "Completing sign-in",
                "Handing the sign-in over to the application\u{2026}",
                BRIDGE_SCRIPT,
            ),
            Page::Rejected => ("error", "Sign-in not verified", REJECTED_MESSAGE, ""),
        };
        let mut html = String::with_capacity(TEMPLATE.len() + STYLE.len() + script.len() + 256);
        let mut rest = TEMPLATE;
        while let Some(start) = rest.find("{{") {
            html.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after.find("}}").unwrap_or(after.len());
            match &after[..end] {
                "style" => html.push_str(STYLE),
                "tone" => html.push_str(tone),
                "title" | "heading" => html.push_str(title),
                "message" => html.push_str(message),
                "details" => match (self, error) {
                    (Page::Error, Some(error)) => error.write_html(&mut html),
                    (Page::Success | Page::Error, _) => {
                        html.push_str(r#"<p class="next">"#);
                        html.push_str(NEXT_STEP);
                        html.push_str("</p>");
                    }
                    _ => {}
                },
                "script" if !script.is_empty() => {
                    html.push_str("<script>");
                    html.push_str(script);
                    html.push_str("</script>");
                }
                _ => {}
            }
            rest = after.get(end + 2..).unwrap_or_default();
        }
        html.push_str(rest);
        html
    }

    /// The hash sources of this page's inline blocks, known at build time.
    pub fn sources(self) -> Sources {
        let scripts = match self {
            Page::Bridge => [BRIDGE_SCRIPT_SOURCE.into()].into(),
            Page::Success | Page::Error => [DONE_SCRIPT_SOURCE.into()].into(),
            _ => Default::default(),
        };
        Sources {
            styles: [STYLE_SOURCE.into()].into(),
            scripts,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_carry_their_message_and_no_placeholders() {
        for (page, needle) in [
            (Page::Success, SUCCESS_MESSAGE),
            (Page::Error, ERROR_MESSAGE),
            (Page::Bridge, "location.hash"),
        ] {
            let html = page.render();
            assert!(html.starts_with("<!doctype html>"), "{page:?}");
            assert!(html.contains(needle), "{page:?}");
            assert!(!html.contains("{{"), "{page:?} left a placeholder");
        }
    }

    #[test]
    fn provider_errors_are_shown_escaped_bounded_and_explained() {
        let html = Page::render_error(&ProviderError {
            code: "access_denied",
            description: Some("<script>alert('x')</script> & \"more\""),
        });
        assert!(html.contains("<code>access_denied</code>: &lt;script&gt;alert(&#39;x&#39;)"));
        assert!(html.contains("&amp; &quot;more&quot;") && !html.contains("<script>alert"));
        assert!(html.contains("Start the sign-in again"));
        let long = "é".repeat(MAX_ERROR_DESCRIPTION);
        let html = Page::render_error(&ProviderError {
            code: "server_error",
            description: Some(&long),
        });
        let shown = html.matches('é').count();
        assert_eq!(shown, MAX_ERROR_DESCRIPTION / 2, "cut at a character");
        assert!(html.contains("é\u{2026}</p>") && html.contains(NEXT_STEP));
        for code in ["invalid_scope", "unauthorized_client", "invalid_request"] {
            let error = ProviderError {
                code,
                description: None,
            };
            assert!(error.hint().is_some(), "{code}");
            assert!(Page::render_error(&error).contains(error.hint().unwrap()));
        }
    }

    #[test]
    fn invisible_and_reordering_characters_are_shown_as_escapes() {
        let html = Page::render_error(&ProviderError {
            code: "access_denied",
            description: Some("call \u{202e}0000-555-008-1\u{202c} now\u{200b}\u{2066}x\u{2069}\n"),
        });
        assert!(
            html.contains(
                "call \\u{202e}0000-555-008-1\\u{202c} now\\u{200b}\\u{2066}x\\u{2069}\\u{a}"
            ),
            "{html}"
        );
        for c in [
            '\u{202e}',
            '\u{200b}',
            '\u{2066}',
            '\u{ad}',
            '\u{fe0f}',
            '\u{e0041}',
        ] {
            assert!(!html.contains(c) && hidden(c), "{c:?}");
        }
        let localised = "Zugriff verweigert: 用户拒绝了授权 — مرفوض";
        let html = Page::render_error(&ProviderError {
            code: "access_denied",
            description: Some(localised),
        });
        assert!(
            html.contains(localised),
            "printable text of any script stays"
        );
    }

    #[test]
    fn precomputed_sources_match_a_fresh_hash() {
        use crate::policy::sha256_source;
        assert_eq!(STYLE_SOURCE, sha256_source(STYLE));
        assert_eq!(BRIDGE_SCRIPT_SOURCE, sha256_source(BRIDGE_SCRIPT));
        assert_eq!(DONE_SCRIPT_SOURCE, sha256_source(DONE_SCRIPT));
    }

    #[test]
    fn known_sources_match_the_rendered_blocks() {
        for page in [Page::Success, Page::Error, Page::Bridge, Page::Rejected] {
            assert_eq!(Sources::of_html(&page.render()), page.sources(), "{page:?}");
        }
    }

    #[test]
    fn scripts_clear_the_address_bar() {
        for page in [Page::Success, Page::Error] {
            let html = page.render();
            assert!(html.contains("history.replaceState"), "{page:?}");
            assert!(html.contains("window.close()"), "{page:?}");
        }
        assert!(!Page::Rejected.render().contains("<script>"));
        let bridge = Page::Bridge.render();
        assert!(bridge.contains("fragment_params"));
        assert!(bridge.contains("history.replaceState"));
    }
}
