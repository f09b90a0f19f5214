//! The `wasi:http/incoming-handler` export: the same routing and pages as
//! `oauth:callback/handler`, for `wasmtime serve` and other wasi:http hosts.
//! Settings are the defaults; a completing request writes the result line to
//! stdout (each request gets a fresh instance there, so there is no one-shot).

use alloc::string::String;
use alloc::vec::Vec;

use wasip2::http::types::{
    Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};
use wasip2::io::streams::StreamError;

use crate::http::{Header, MAX_BODY, Request, Response, Settings};

/// `blocking-write-and-flush` takes at most this many bytes per call.
const WRITE_CHUNK: usize = 4096;

struct IncomingHandler;

impl wasip2::exports::http::incoming_handler::Guest for IncomingHandler {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let response = match read_request(&request) {
            Some(request) => {
                let reply = crate::handle(&Settings::default(), &request);
                if let Some(completion) = &reply.completed {
                    let now = wasip2::clocks::wall_clock::now().seconds;
                    let mut line = completion.json_line(now);
                    line.push('\n');
                    write_all(&wasip2::cli::stdout::get_stdout(), line.as_bytes());
                }
                reply.response
            }
            None => {
                let mut refused =
                    Response::new(413, "text/plain; charset=utf-8", "Payload Too Large");
                crate::security::harden(&mut refused);
                refused
            }
        };
        send(response, response_out);
    }
}

wasip2::http::proxy::export!(IncomingHandler);

/// The request in the handler's terms; none when the body is over the limit.
fn read_request(request: &IncomingRequest) -> Option<Request> {
    let path_with_query = request.path_with_query().unwrap_or_else(|| "/".into());
    let (path, query) = match path_with_query.split_once('?') {
        Some((path, query)) => (path.into(), Some(query.into())),
        None => (path_with_query, None),
    };
    let headers = request
        .headers()
        .entries()
        .into_iter()
        .map(|(name, value)| Header { name, value })
        .collect();
    Some(Request {
        method: method_name(request.method()),
        path,
        query,
        headers,
        body: read_body(request)?,
    })
}

fn method_name(method: Method) -> String {
    let name = match method {
        Method::Get => "GET",
        Method::Head => "HEAD",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Delete => "DELETE",
        Method::Connect => "CONNECT",
        Method::Options => "OPTIONS",
        Method::Trace => "TRACE",
        Method::Patch => "PATCH",
        Method::Other(other) => return other,
    };
    name.into()
}

fn read_body(request: &IncomingRequest) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    let Ok(incoming) = request.consume() else {
        return Some(body);
    };
    let Ok(stream) = incoming.stream() else {
        return Some(body);
    };
    loop {
        match stream.blocking_read((MAX_BODY + 1 - body.len()) as u64) {
            Ok(chunk) => body.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(_)) => break,
        }
        if body.len() > MAX_BODY {
            return None;
        }
    }
    Some(body)
}

fn send(response: Response, out: ResponseOutparam) {
    let entries: Vec<(String, Vec<u8>)> = response
        .headers
        .into_iter()
        .map(|h| (h.name, h.value))
        .collect();
    let headers = Fields::from_list(&entries).unwrap_or_else(|_| Fields::new());
    let outgoing = OutgoingResponse::new(headers);
    let _ = outgoing.set_status_code(response.status);
    let Ok(body) = outgoing.body() else { return };
    ResponseOutparam::set(out, Ok(outgoing));
    if let Ok(stream) = body.write() {
        write_all(&stream, &response.body);
    }
    let _ = OutgoingBody::finish(body, None);
}

fn write_all(stream: &wasip2::io::streams::OutputStream, bytes: &[u8]) {
    for chunk in bytes.chunks(WRITE_CHUNK) {
        if stream.blocking_write_and_flush(chunk).is_err() {
            return;
        }
    }
}
