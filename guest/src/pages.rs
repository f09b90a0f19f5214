//! The built-in pages (success, error, fragment bridge) and the small fixed
//! bodies, rendered from the templates in `assets/`. Nothing from a request is
//! ever put into a page.

use alloc::string::String;

use crate::security::{BRIDGE_SCRIPT_SOURCE, DONE_SCRIPT_SOURCE, STYLE_SOURCE, Sources};

/// The success page's message, as in the original module.
pub const SUCCESS_MESSAGE: &str = "Credentials received successfully. You may close this window.";
/// The error page's message, as in the original module.
pub const ERROR_MESSAGE: &str =
    "Authentication could not be completed. Close this window and try again.";

/// The message when a callback fails the `state` or issuer check.
pub const REJECTED_MESSAGE: &str =
    "This sign-in response could not be verified. Close this window and start the sign-in again.";

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

impl Page {
    /// The page's complete HTML.
    pub fn render(self) -> String {
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
