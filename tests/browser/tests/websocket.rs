//! MQTT over WebSocket as the browser driver speaks it, against a scripted peer: a stand-in for
//! the page's `WebSocket` class (installed on `globalThis` before `connect`) that records the
//! subprotocols offered and the frames written, plays the broker, and delivers whatever frames
//! the test asks for. No broker or network is needed. The `// checks:` lines name the MQTT
//! statements each test checks (see tests/conformance.rs in the main crate).
#![cfg(all(target_arch = "wasm32", target_os = "unknown"))]

use js_sys::{Array, Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// Replaces `globalThis.WebSocket` with the scripted peer and returns its log:
/// `{ sockets: [{ protocols, closed, frames: [{ text, first }] }], answer(ws), deliver(ws, data) }`.
/// The peer completes the handshake only when the `mqtt` subprotocol is offered (as a broker
/// speaking MQTT over WebSocket does); it answers a CONNECT written in a binary frame with
/// CONNACK (accepted, split over two frames) and ignores anything else.
const PEER: &str = r#"
const log = { sockets: [] };
class PeerWebSocket {
  constructor(url, protocols) {
    this.url = url;
    this.protocols = protocols === undefined ? [] : [].concat(protocols);
    this.binaryType = 'blob';
    this.readyState = 0;
    this.protocol = '';
    this.onopen = null; this.onmessage = null; this.onclose = null; this.onerror = null;
    this.closed = 0;
    this.frames = [];
    log.sockets.push(this);
    setTimeout(() => {
      if (!this.protocols.includes('mqtt')) {
        this.readyState = 3;
        if (this.onclose) this.onclose(new CloseEvent('close', { code: 1006, reason: 'no mqtt subprotocol' }));
        return;
      }
      this.protocol = 'mqtt';
      this.readyState = 1;
      if (this.onopen) this.onopen(new Event('open'));
    }, 0);
  }
  send(data) {
    const text = typeof data === 'string';
    const bytes = text ? null : Uint8Array.from(data instanceof ArrayBuffer ? new Uint8Array(data) : data);
    this.frames.push({ text, first: bytes ? bytes[0] : -1 });
    if (!text && bytes[0] >> 4 === 1) {
      // CONNECT: its protocol level follows the protocol name (00 04 'MQTT').
      let i = 1;
      while (bytes[i] & 0x80) i++;
      const level = bytes[i + 7];
      const connack = level === 5 ? [0x20, 0x03, 0x00, 0x00, 0x00] : [0x20, 0x02, 0x00, 0x00];
      // One packet in two frames: the receiver may not assume frame boundaries.
      setTimeout(() => log.deliver(this, new Uint8Array(connack.slice(0, 1)).buffer), 0);
      setTimeout(() => log.deliver(this, new Uint8Array(connack.slice(1)).buffer), 0);
    }
  }
  close(code) {
    this.closed++;
    this.readyState = 3;
  }
}
PeerWebSocket.CONNECTING = 0; PeerWebSocket.OPEN = 1; PeerWebSocket.CLOSING = 2; PeerWebSocket.CLOSED = 3;
log.deliver = (ws, data) => {
  if (ws.readyState === 1 && ws.onmessage) ws.onmessage(new MessageEvent('message', { data }));
};
globalThis.WebSocket = PeerWebSocket;
return log;
"#;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(f: &Function, ms: i32) -> JsValue;
}

fn install_peer() -> JsValue {
    Function::new_no_args(PEER).call0(&JsValue::NULL).unwrap()
}

fn get(o: &JsValue, k: &str) -> JsValue {
    Reflect::get(o, &k.into()).unwrap()
}

fn obj(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &(*k).into(), v).unwrap();
    }
    o.into()
}

fn call(o: &JsValue, method: &str, args: &[JsValue]) -> JsValue {
    let f: Function = get(o, method).unchecked_into();
    f.apply(o, &args.iter().collect::<Array>()).unwrap()
}

/// Awaits `p`, failing after five seconds.
async fn within(p: Promise) -> Result<JsValue, JsValue> {
    let timeout = Promise::new(&mut |_, reject| {
        let cb = Closure::once_into_js(move || {
            let _ = reject.call1(&JsValue::UNDEFINED, &"timed out".into());
        });
        set_timeout(cb.unchecked_ref(), 5_000);
    });
    JsFuture::from(Promise::race(&Array::of2(&p, &timeout))).await
}

fn sockets(peer: &JsValue) -> Vec<JsValue> {
    get(peer, "sockets")
        .unchecked_into::<Array>()
        .iter()
        .collect()
}

/// The client offers the `mqtt` subprotocol and writes every packet in a binary frame (CONNECT
/// included, or the peer would not answer); a CONNACK split over two frames still connects.
/// A text frame from the server is a protocol violation: the client closes the connection.
// checks: v3.1.1 MQTT-6.0.0-1, v3.1.1 MQTT-6.0.0-2, v3.1.1 MQTT-6.0.0-3
// checks: v5 MQTT-6.0.0-1, v5 MQTT-6.0.0-2, v5 MQTT-6.0.0-3
#[wasm_bindgen_test]
async fn websocket_subprotocol_binary_frames_and_text_frames_close() {
    for version in [4, 5] {
        let peer = install_peer();
        let options = obj(&[
            ("protocolVersion", version.into()),
            ("keepalive", 0.into()),
            ("reconnectPeriod", 0.into()),
            ("clientId", format!("ws-peer-{version}").into()),
        ]);
        let connecting = wasmqtt_browser::connect(
            "ws://127.0.0.1:9/mqtt".into(),
            Some(options.unchecked_into()),
        );
        let client = within(connecting)
            .await
            .expect("connected through the peer");
        let socks = sockets(&peer);
        assert_eq!(socks.len(), 1, "one socket");
        let ws = &socks[0];
        let protocols: Vec<String> = get(ws, "protocols")
            .unchecked_into::<Array>()
            .iter()
            .filter_map(|p| p.as_string())
            .collect();
        assert!(
            protocols.iter().any(|p| p == "mqtt"),
            "subprotocols offered: {protocols:?}"
        );
        // A QoS 0 publish goes out too, in a binary frame.
        let published = call(&client, "publish", &["t/ws".into(), "x".into()]);
        within(published.unchecked_into()).await.expect("published");
        let frames: Vec<JsValue> = get(ws, "frames").unchecked_into::<Array>().iter().collect();
        assert!(frames.len() >= 2, "CONNECT and PUBLISH");
        for f in &frames {
            assert_eq!(get(f, "text").as_bool(), Some(false), "binary frames only");
        }
        assert_eq!(
            get(&frames[0], "first").as_f64(),
            Some(16.0),
            "CONNECT first"
        );
        assert_eq!(get(ws, "closed").as_f64(), Some(0.0));

        // A text frame: the client closes the connection (and, without reconnection, ends).
        let ended = Promise::new(&mut |resolve, _| {
            call(&client, "on", &["end".into(), resolve.into()]);
        });
        let deliver: Function = get(&peer, "deliver").unchecked_into();
        deliver
            .call2(&peer, ws, &"not MQTT".into())
            .expect("deliver a text frame");
        assert_eq!(
            get(ws, "closed").as_f64(),
            Some(1.0),
            "the client closed the WebSocket"
        );
        within(ended)
            .await
            .expect("the client reports the connection ended");
    }
}
