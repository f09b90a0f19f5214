//! The wit-bindgen glue: exports [`crate::handle`] as `oauth:callback/handler`.
//! The runtime pieces `no_std` leaves out come from `oauth-callback-guest-rt`.

use oauth_callback_guest_rt as _;

use crate::http;
use crate::policy::Sources;

wit_bindgen::generate!({
    path: "wit",
    world: "callback-handler",
});

use exports::oauth::callback::handler as wit;

struct Handler;

impl wit::Guest for Handler {
    fn handle(settings: wit::Settings, request: wit::Request) -> wit::Reply {
        let settings = http::Settings {
            callback_path: settings.callback_path,
            success_page: settings.success_page.map(from_wit_page),
            error_page: settings.error_page.map(from_wit_page),
            expected_state: settings.expected_state,
            expected_issuer: settings.expected_issuer,
            issuer_required: settings.issuer_required,
            form_post_only: settings.form_post_only,
        };
        let request = http::Request {
            method: request.method,
            path: request.path,
            query: request.query,
            headers: request.headers.into_iter().map(from_wit).collect(),
            body: request.body,
        };
        let reply = crate::handle(&settings, &request);
        wit::Reply {
            response: wit::Response {
                status: reply.response.status,
                headers: reply.response.headers.into_iter().map(to_wit).collect(),
                body: reply.response.body,
            },
            completed: reply.completed.map(|c| wit::Completion {
                params: c.params,
                method: c.method,
                path: c.path,
            }),
            refused: reply.refused,
        }
    }
}

/// The page as the host sent it: its sources were hashed once at start.
fn from_wit_page(page: wit::Page) -> http::CustomPage {
    http::CustomPage {
        html: page.html,
        sources: Sources {
            styles: page.style_sources.into_iter().collect(),
            scripts: page.script_sources.into_iter().collect(),
        },
    }
}

fn from_wit(header: wit::Header) -> http::Header {
    http::Header {
        name: header.name,
        value: header.value,
    }
}

fn to_wit(header: http::Header) -> wit::Header {
    wit::Header {
        name: header.name,
        value: header.value,
    }
}

export!(Handler);
