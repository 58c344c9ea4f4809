//! The brokers of `connect`: its URL and the `servers` (or `brokers`) option, read into the
//! core's [`Broker`]s (the session's [`Options::brokers`](wasmqtt::session::Options)), and the
//! WebSocket URL the driver opens for one of them.
//!
//! The URLs are parsed by the core ([`Broker::parse`], its [`UrlError`] text and code); what is
//! checked here is only what the browser adds: a page can open nothing but WebSockets, so an
//! `mqtt://` or `mqtts://` broker is refused with `INVALID_URL`, and the WebSocket URL built
//! from each broker must be one the browser's `URL` parser accepts.

use super::js::{self, JsResult, MqttError};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use js_sys::{Array, Object};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasmqtt::broker::{Broker, Scheme, UrlError, DEFAULT_WEBSOCKET_PATH};

/// The first argument of `connect` and its options: `connect(url, options)`, or
/// `connect(options)` with the brokers in `options.servers` (as MQTT.js allows).
pub(crate) fn split_arguments(url: JsValue, options: Option<Object>) -> (JsValue, JsValue) {
    let url_is_options =
        options.is_none() && url.is_object() && !url.is_function() && !Array::is_array(&url);
    if url_is_options {
        (JsValue::UNDEFINED, url)
    } else {
        (url, options.map_or(JsValue::UNDEFINED, Into::into))
    }
}

fn url_error(e: &UrlError) -> MqttError {
    MqttError::new(e.code(), e.to_string())
}

fn invalid_url(message: impl Into<String>) -> MqttError {
    MqttError::new("INVALID_URL", message)
}

/// A broker the browser can open: `ws` or `wss`, and a WebSocket URL its `URL` parser takes.
fn websocket_only(b: Broker) -> JsResult<Broker> {
    if !b.scheme.is_websocket() {
        return Err(invalid_url(format!(
            "a browser can only open WebSockets: use ws:// or wss:// instead of {}:// ({b})",
            b.scheme
        )));
    }
    // `new WebSocket` throws on what its URL parser refuses, and on a fragment.
    let ws = websocket_url(&b);
    if ws.contains('#') || web_sys::Url::new(&ws).is_err() {
        return Err(invalid_url(format!(
            "the browser cannot open a WebSocket to {b}"
        )));
    }
    Ok(b)
}

/// A URL string through the core's parser, then [`websocket_only`].
fn parse_url(s: &str) -> JsResult<Broker> {
    websocket_only(Broker::parse(s).map_err(|e| url_error(&e))?)
}

/// One entry of `servers`: a URL string, or MQTT.js's `{ host, port, protocol }` (with an
/// optional `path`). `protocol` defaults to `default_scheme`, `port` to the scheme's, `path` to
/// `/mqtt`. Every refusal is an `INVALID_URL` naming the entry.
fn server_of(v: &JsValue, i: u32, default_scheme: Scheme) -> JsResult<Broker> {
    server_entry(v, default_scheme).map_err(|e| invalid_url(format!("servers[{i}]: {}", e.message)))
}

fn server_entry(v: &JsValue, default_scheme: Scheme) -> JsResult<Broker> {
    if let Some(s) = v.as_string() {
        return parse_url(&s);
    }
    let obj = match js::options_object(v, "it") {
        Ok(Some(o)) => o,
        _ => return Err(invalid_url("must be a URL string or an object")),
    };
    let o = Some(&obj);
    let host = js::opt_string(o, "host")?
        .filter(|h| !h.is_empty())
        .ok_or_else(|| invalid_url("'host' must be a host name or address"))?;
    let scheme = match js::opt_string(o, "protocol")? {
        None => default_scheme,
        // MQTT.js writes it with or without the colon of `URL.protocol`.
        Some(p) => {
            let name = p.strip_suffix(':').unwrap_or(&p);
            Scheme::from_name(name)
                .ok_or_else(|| url_error(&UrlError::UnsupportedScheme(String::from(name))))?
        }
    };
    let port = match js::opt_uint(o, "port", 1.0, u16::MAX as f64)? {
        Some(p) => p as u16,
        None => scheme.default_port(),
    };
    let path = js::opt_string(o, "path")?.unwrap_or_else(|| String::from(DEFAULT_WEBSOCKET_PATH));
    // Through the core's parser, as a URL: the same host checks as for a string.
    let host_text = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host
    };
    let sep = if path.starts_with('/') { "" } else { "/" };
    parse_url(&format!("{scheme}://{host_text}:{port}{sep}{path}"))
}

/// The brokers to try, in order: the URL (when given), then `options.servers` (or its alias
/// `options.brokers`). At least one; each `ws://` or `wss://`.
pub(crate) fn brokers_of(url: &JsValue, options: Option<&Object>) -> JsResult<Vec<Broker>> {
    let mut out = Vec::new();
    if !(url.is_undefined() || url.is_null()) {
        let s = url
            .as_string()
            .ok_or_else(|| invalid_url("the URL must be a string"))?;
        out.push(parse_url(&s)?);
    }
    let servers = js::field(options, "servers")?;
    let alias = js::field(options, "brokers")?;
    let list = match (servers, alias) {
        (Some(_), Some(_)) => {
            return Err(MqttError::new(
                "INVALID_ARGUMENT",
                "give the brokers as 'servers' or as 'brokers', not both",
            ))
        }
        (Some(l), None) | (None, Some(l)) => Some(l),
        (None, None) => None,
    };
    if let Some(list) = list {
        let arr = list
            .dyn_ref::<Array>()
            .ok_or_else(|| invalid_url("'servers' must be an array"))?;
        // Objects without a protocol take the URL's scheme (`wss` for a `wss://` URL).
        let default_scheme = out.first().map_or(Scheme::Ws, |b| b.scheme);
        for (i, v) in arr.iter().enumerate() {
            out.push(server_of(&v, i as u32, default_scheme)?);
        }
    }
    if out.is_empty() {
        return Err(invalid_url(
            "no broker: give a ws:// or wss:// URL or a non-empty 'servers' list",
        ));
    }
    Ok(out)
}

/// The URL the WebSocket opens for `b`: `scheme://host:port/path`. Never the credentials (the
/// CONNECT packet carries them; the session puts the URL's there).
pub(crate) fn websocket_url(b: &Broker) -> String {
    format!("{}://{}{}", b.scheme, b.authority(), b.path)
}

/// How a broker is named to JavaScript (`ConnectionInfo.broker`, `CloseInfo.broker`,
/// `Client.broker`): its URL without the password (the core's `Display`).
pub(crate) fn broker_name(b: &Broker) -> JsValue {
    JsValue::from_str(&b.to_string())
}
