//! wasmqtt's JavaScript API, exercised as JavaScript sees it (methods looked up and called on
//! the exported objects), in headless Chromium.
//!
//! The tests that need a broker read its WebSocket URL from `WASMQTT_TEST_WS_URL` at build time
//! (scripts/test.sh starts a mosquitto with a WebSocket listener and sets it); without it they
//! are skipped with a message. Every wait is bounded by [`within`].
#![cfg(all(target_arch = "wasm32", target_os = "unknown"))]

use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const WS_URL: Option<&str> = option_env!("WASMQTT_TEST_WS_URL");
const STEP_MS: i32 = 10_000;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(f: &Function, ms: i32) -> JsValue;
}

fn broker() -> Option<&'static str> {
    if WS_URL.is_none() {
        web_sys_log(
            "WASMQTT_TEST_WS_URL not set at build time: skipping a test that needs a broker",
        );
    }
    WS_URL
}

fn web_sys_log(s: &str) {
    let console = Reflect::get(&js_sys::global(), &"console".into()).unwrap();
    let log: Function = Reflect::get(&console, &"log".into())
        .unwrap()
        .unchecked_into();
    let _ = log.call1(&console, &s.into());
}

/// `{ k: v, ... }`.
fn obj(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &(*k).into(), v).unwrap();
    }
    o.into()
}

fn get(o: &JsValue, k: &str) -> JsValue {
    Reflect::get(o, &k.into()).unwrap()
}

/// Calls `o.method(...args)` as JavaScript would; a thrown exception comes back as `Err`.
fn call(o: &JsValue, method: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let f: Function = get(o, method)
        .dyn_into()
        .unwrap_or_else(|_| panic!("no method {method}"));
    f.apply(o, &args.iter().collect::<Array>())
}

/// Awaits `p`, failing after `ms`.
async fn within(ms: i32, p: Promise) -> Result<JsValue, JsValue> {
    let timeout = Promise::new(&mut |_, reject| {
        let cb = Closure::once_into_js(move || {
            let _ = reject.call1(&JsValue::UNDEFINED, &"timed out".into());
        });
        set_timeout(cb.unchecked_ref(), ms);
    });
    JsFuture::from(Promise::race(&Array::of2(&p, &timeout))).await
}

async fn settle(p: JsValue) -> Result<JsValue, JsValue> {
    within(STEP_MS, p.unchecked_into()).await
}

/// The `code` of a rejected Promise's error (panics if it resolved).
async fn rejection_code(p: JsValue) -> String {
    match settle(p).await {
        Ok(v) => panic!("expected a rejection, got {v:?}"),
        Err(e) => {
            assert!(e.is_instance_of::<js_sys::Error>(), "not an Error: {e:?}");
            assert_eq!(get(&e, "name").as_string().as_deref(), Some("MqttError"));
            assert!(get(&e, "message")
                .as_string()
                .is_some_and(|m| !m.is_empty()));
            get(&e, "code").as_string().expect("a code")
        }
    }
}

fn thrown_code(r: Result<JsValue, JsValue>) -> String {
    let e = r.expect_err("expected an exception");
    get(&e, "code").as_string().expect("a code")
}

fn connect(url: JsValue, options: JsValue) -> JsValue {
    let options = (!options.is_undefined()).then(|| options.unchecked_into::<Object>());
    wasmqtt_browser::connect(url, options).into()
}

async fn connected(extra: &[(&str, JsValue)]) -> JsValue {
    let mut opts = vec![("keepalive", JsValue::from(10))];
    opts.extend_from_slice(extra);
    settle(connect(broker().unwrap().into(), obj(&opts)))
        .await
        .expect("connect")
}

/// A Promise of the next message `client` receives on `filter`, through `onMessage`.
fn next_message(client: &JsValue, filter: &str) -> Promise {
    let client = client.clone();
    let filter = filter.to_string();
    Promise::new(&mut |resolve, _| {
        let cb = Closure::<dyn FnMut(JsValue)>::new(move |m: JsValue| {
            let _ = resolve.call1(&JsValue::UNDEFINED, &m);
        });
        call(
            &client,
            "onMessage",
            &[filter.as_str().into(), cb.into_js_value()],
        )
        .unwrap();
    })
}

fn unique(prefix: &str) -> String {
    format!("{prefix}/{}", (js_sys::Math::random() * 1e9) as u64)
}

// ------------------------------------------------------------------ no broker needed

#[wasm_bindgen_test]
async fn connect_rejects_bad_urls_with_invalid_url() {
    for url in [
        JsValue::from(42),
        JsValue::UNDEFINED,
        "not a url".into(),
        "http://127.0.0.1:1883/".into(),
        "mqtt://127.0.0.1:1883".into(),
    ] {
        assert_eq!(
            rejection_code(connect(url, JsValue::UNDEFINED)).await,
            "INVALID_URL"
        );
    }
}

#[wasm_bindgen_test]
async fn connect_rejects_bad_options_with_typed_errors() {
    let url = JsValue::from("ws://127.0.0.1:9/");
    let cases = [
        (JsValue::from("options"), "INVALID_ARGUMENT"),
        (obj(&[("protocolVersion", 3.into())]), "INVALID_ARGUMENT"),
        (obj(&[("keepalive", (-1).into())]), "INVALID_ARGUMENT"),
        (obj(&[("keepalive", 1.5.into())]), "INVALID_ARGUMENT"),
        (obj(&[("clientId", 5.into())]), "INVALID_ARGUMENT"),
        (obj(&[("clean", "yes".into())]), "INVALID_ARGUMENT"),
        (
            obj(&[("will", obj(&[("topic", "a/+".into())]))]),
            "INVALID_TOPIC",
        ),
        (
            obj(&[("will", obj(&[("topic", "a".into()), ("qos", 3.into())]))]),
            "INVALID_QOS",
        ),
        // The core's rules (Options::validate), with its codes: no clamping in the driver.
        (obj(&[("maxInflight", 0.into())]), "INVALID_ARGUMENT"),
        (obj(&[("maxQueuedMessages", 0.into())]), "INVALID_ARGUMENT"),
        (obj(&[("maxQueuedBytes", 0.into())]), "INVALID_ARGUMENT"),
        (obj(&[("connectTimeout", 0.into())]), "INVALID_ARGUMENT"),
        (obj(&[("maxPacketSize", 8.into())]), "INVALID_ARGUMENT"),
        (
            obj(&[
                ("reconnectPeriod", 1000.into()),
                ("maxReconnectDelay", 500.into()),
            ]),
            "INVALID_ARGUMENT",
        ),
        (
            obj(&[("on", obj(&[("nope", 1.into())]))]),
            "INVALID_ARGUMENT",
        ),
        (
            obj(&[("on", obj(&[("close", 1.into())]))]),
            "INVALID_ARGUMENT",
        ),
    ];
    for (opts, code) in cases {
        assert_eq!(rejection_code(connect(url.clone(), opts)).await, code);
    }
}

#[wasm_bindgen_test]
async fn connect_to_a_closed_port_rejects_with_connection_lost() {
    let code = rejection_code(connect("ws://127.0.0.1:9/".into(), JsValue::UNDEFINED)).await;
    assert_eq!(code, "CONNECTION_LOST");
}

// ------------------------------------------------------------------ against mosquitto

#[wasm_bindgen_test]
async fn round_trip_at_every_qos_with_string_and_binary_payloads() {
    if broker().is_none() {
        return;
    }
    let c = connected(&[]).await;
    assert_eq!(get(&c, "state").as_string().as_deref(), Some("connected"));
    assert_eq!(get(&c, "connected").as_bool(), Some(true));
    let base = unique("api/rt");
    let granted = settle(
        call(
            &c,
            "subscribe",
            &[format!("{base}/#").into(), obj(&[("qos", 2.into())])],
        )
        .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(granted.as_f64(), Some(2.0));

    for qos in 0..=2u8 {
        let topic = format!("{base}/q{qos}");
        let got = next_message(&c, &topic);
        let text = format!("text at QoS {qos}");
        let r = settle(
            call(
                &c,
                "publish",
                &[
                    topic.as_str().into(),
                    text.as_str().into(),
                    obj(&[("qos", qos.into())]),
                ],
            )
            .unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(get(&r, "reasonCode").as_f64(), Some(0.0));
        let m = within(STEP_MS, got).await.unwrap();
        assert_eq!(get(&m, "topic").as_string(), Some(topic.clone()));
        assert_eq!(get(&m, "text").as_string(), Some(text));
        assert_eq!(get(&m, "qos").as_f64(), Some(f64::from(qos)));
        assert!(get(&m, "payload").is_instance_of::<Uint8Array>());

        let bytes: Vec<u8> = (0..=255).collect();
        let got = next_message(&c, &topic);
        settle(
            call(
                &c,
                "publish",
                &[
                    topic.as_str().into(),
                    Uint8Array::from(&bytes[..]).into(),
                    obj(&[("qos", qos.into())]),
                ],
            )
            .unwrap(),
        )
        .await
        .unwrap();
        let m = within(STEP_MS, got).await.unwrap();
        assert_eq!(
            get(&m, "payload").unchecked_into::<Uint8Array>().to_vec(),
            bytes
        );
    }
    settle(call(&c, "end", &[]).unwrap()).await.unwrap();
    assert_eq!(get(&c, "state").as_string().as_deref(), Some("closed"));
}

#[wasm_bindgen_test]
async fn the_global_listener_sees_every_message_and_large_payloads_arrive_whole() {
    if broker().is_none() {
        return;
    }
    let c = connected(&[]).await;
    let topic = unique("api/big");
    let got = Promise::new(&mut |resolve, _| {
        let cb = Closure::<dyn FnMut(JsValue)>::new(move |m: JsValue| {
            let _ = resolve.call1(&JsValue::UNDEFINED, &m);
        });
        call(&c, "on", &["message".into(), cb.into_js_value()]).unwrap();
    });
    settle(
        call(
            &c,
            "subscribe",
            &[topic.as_str().into(), obj(&[("qos", 1.into())])],
        )
        .unwrap(),
    )
    .await
    .unwrap();
    // 300 KB: many TCP segments, reassembled by the session from whatever frames arrive.
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    settle(
        call(
            &c,
            "publish",
            &[
                topic.as_str().into(),
                Uint8Array::from(&big[..]).into(),
                obj(&[("qos", 1.into())]),
            ],
        )
        .unwrap(),
    )
    .await
    .unwrap();
    let m = within(STEP_MS, got).await.unwrap();
    assert_eq!(
        get(&m, "payload").unchecked_into::<Uint8Array>().to_vec(),
        big
    );
    settle(call(&c, "end", &[]).unwrap()).await.unwrap();
}

#[wasm_bindgen_test]
async fn many_publishes_in_one_task_all_complete_in_order() {
    if broker().is_none() {
        return;
    }
    let c = connected(&[]).await;
    let topic = unique("api/burst");
    let n = 500;
    let all: Array = (0..n)
        .map(|i| {
            call(
                &c,
                "publish",
                &[
                    topic.as_str().into(),
                    format!("{i}").into(),
                    obj(&[("qos", 1.into())]),
                ],
            )
            .unwrap()
        })
        .collect();
    let results = settle(Promise::all(&all).into()).await.unwrap();
    assert_eq!(results.unchecked_into::<Array>().length(), n);
    settle(call(&c, "end", &[]).unwrap()).await.unwrap();
}

#[wasm_bindgen_test]
async fn bad_input_from_javascript_is_a_rejected_promise_or_a_typed_exception() {
    if broker().is_none() {
        return;
    }
    let c = connected(&[]).await;
    let publish = |t: JsValue, p: JsValue, o: JsValue| call(&c, "publish", &[t, p, o]).unwrap();
    assert_eq!(
        rejection_code(publish("a/b".into(), "x".into(), obj(&[("qos", 3.into())]))).await,
        "INVALID_QOS"
    );
    assert_eq!(
        rejection_code(publish(
            "a/b".into(),
            "x".into(),
            obj(&[("qos", "1".into())])
        ))
        .await,
        "INVALID_QOS"
    );
    assert_eq!(
        rejection_code(publish("a/+/b".into(), "x".into(), JsValue::UNDEFINED)).await,
        "INVALID_TOPIC"
    );
    assert_eq!(
        rejection_code(publish("".into(), "x".into(), JsValue::UNDEFINED)).await,
        "INVALID_TOPIC"
    );
    assert_eq!(
        rejection_code(publish(7.into(), "x".into(), JsValue::UNDEFINED)).await,
        "INVALID_TOPIC"
    );
    assert_eq!(
        rejection_code(publish("a/b".into(), 42.into(), JsValue::UNDEFINED)).await,
        "INVALID_ARGUMENT"
    );
    assert_eq!(
        rejection_code(publish("a/b".into(), obj(&[]), JsValue::UNDEFINED)).await,
        "INVALID_ARGUMENT"
    );
    assert_eq!(
        rejection_code(publish("a/b".into(), "x".into(), "qos 1".into())).await,
        "INVALID_ARGUMENT"
    );
    assert_eq!(
        rejection_code(publish(
            "a/b".into(),
            "x".into(),
            obj(&[("retain", 1.into())])
        ))
        .await,
        "INVALID_ARGUMENT"
    );

    let sub = |f: JsValue, o: JsValue| call(&c, "subscribe", &[f, o]).unwrap();
    assert_eq!(
        rejection_code(sub("a/#/b".into(), JsValue::UNDEFINED)).await,
        "INVALID_FILTER"
    );
    assert_eq!(
        rejection_code(sub(JsValue::NULL, JsValue::UNDEFINED)).await,
        "INVALID_FILTER"
    );
    assert_eq!(
        rejection_code(sub(Array::new().into(), JsValue::UNDEFINED)).await,
        "INVALID_FILTER"
    );
    assert_eq!(
        rejection_code(sub("a".into(), obj(&[("qos", 9.into())]))).await,
        "INVALID_QOS"
    );
    assert_eq!(
        rejection_code(call(&c, "unsubscribe", &["a/b#".into()]).unwrap()).await,
        "INVALID_FILTER"
    );

    assert_eq!(
        thrown_code(call(
            &c,
            "on",
            &["nonsense".into(), Function::new_no_args("").into()]
        )),
        "INVALID_ARGUMENT"
    );
    assert_eq!(
        thrown_code(call(&c, "on", &["message".into(), 5.into()])),
        "INVALID_ARGUMENT"
    );
    assert_eq!(
        thrown_code(call(
            &c,
            "onMessage",
            &["a/#/b".into(), Function::new_no_args("").into()]
        )),
        "INVALID_FILTER"
    );

    // The client is unharmed by all of that.
    let topic = unique("api/after-bad-input");
    settle(
        call(
            &c,
            "publish",
            &[
                topic.as_str().into(),
                "ok".into(),
                obj(&[("qos", 1.into())]),
            ],
        )
        .unwrap(),
    )
    .await
    .unwrap();
    settle(call(&c, "end", &[]).unwrap()).await.unwrap();
    // After end(): typed refusals, not hangs.
    assert_eq!(
        rejection_code(publish("a/b".into(), "x".into(), obj(&[("qos", 1.into())]))).await,
        "SESSION_CLOSED"
    );
    assert_eq!(
        rejection_code(call(&c, "subscribe", &["a".into()]).unwrap()).await,
        "SESSION_CLOSED"
    );
}

#[wasm_bindgen_test]
async fn subscribe_many_unsubscribe_and_handlers() {
    if broker().is_none() {
        return;
    }
    let c = connected(&[]).await;
    let base = unique("api/subs");
    let filters: Array = [format!("{base}/a"), format!("{base}/+/b")]
        .iter()
        .map(|s| JsValue::from(s.as_str()))
        .collect();
    let codes = settle(
        call(
            &c,
            "subscribe",
            &[filters.clone().into(), obj(&[("qos", 1.into())])],
        )
        .unwrap(),
    )
    .await
    .unwrap();
    let codes: Vec<f64> = codes
        .unchecked_into::<Array>()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(codes, [1.0, 1.0]);

    let id = call(
        &c,
        "onMessage",
        &[
            format!("{base}/+/b").into(),
            Function::new_no_args("").into(),
        ],
    )
    .unwrap();
    assert_eq!(
        call(&c, "offMessage", std::slice::from_ref(&id))
            .unwrap()
            .as_bool(),
        Some(true)
    );
    assert_eq!(
        call(&c, "offMessage", &[id]).unwrap().as_bool(),
        Some(false)
    );

    let got = next_message(&c, &format!("{base}/+/b"));
    settle(
        call(
            &c,
            "publish",
            &[format!("{base}/x/b").into(), "wild".into()],
        )
        .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(
        get(&within(STEP_MS, got).await.unwrap(), "text")
            .as_string()
            .as_deref(),
        Some("wild")
    );

    settle(call(&c, "unsubscribe", &[filters.into()]).unwrap())
        .await
        .unwrap();
    settle(call(&c, "end", &[]).unwrap()).await.unwrap();
}

#[wasm_bindgen_test]
async fn events_retained_messages_and_mqtt_3_1_1() {
    if broker().is_none() {
        return;
    }
    let c = connected(&[
        ("protocolVersion", 4.into()),
        ("clientId", unique("v311").replace('/', "-").into()),
    ])
    .await;
    let topic = unique("api/retained");
    settle(
        call(
            &c,
            "publish",
            &[
                topic.as_str().into(),
                "kept".into(),
                obj(&[("qos", 1.into()), ("retain", true.into())]),
            ],
        )
        .unwrap(),
    )
    .await
    .unwrap();
    // A handler passed to subscribe sees the retained message that follows SUBACK.
    let got = Promise::new(&mut |resolve, _| {
        let cb = Closure::<dyn FnMut(JsValue)>::new(move |m: JsValue| {
            let _ = resolve.call1(&JsValue::UNDEFINED, &m);
        });
        let p = call(
            &c,
            "subscribe",
            &[
                topic.as_str().into(),
                obj(&[("qos", 1.into())]),
                cb.into_js_value(),
            ],
        )
        .unwrap();
        drop(p);
    });
    let m = within(STEP_MS, got).await.unwrap();
    assert_eq!(get(&m, "retain").as_bool(), Some(true));
    assert_eq!(get(&m, "text").as_string().as_deref(), Some("kept"));
    // Clear it, then end and see the events.
    settle(
        call(
            &c,
            "publish",
            &[
                topic.as_str().into(),
                "".into(),
                obj(&[("qos", 1.into()), ("retain", true.into())]),
            ],
        )
        .unwrap(),
    )
    .await
    .unwrap();
    let ended = Promise::new(&mut |resolve, _| {
        call(&c, "on", &["end".into(), resolve.into()]).unwrap();
    });
    let states = Array::new();
    let s2 = states.clone();
    let cb = Closure::<dyn FnMut(JsValue)>::new(move |s: JsValue| {
        s2.push(&s);
    });
    call(&c, "on", &["state".into(), cb.into_js_value()]).unwrap();
    settle(call(&c, "end", &[]).unwrap()).await.unwrap();
    within(STEP_MS, ended).await.unwrap();
    assert_eq!(
        states
            .iter()
            .map(|s| s.as_string().unwrap())
            .collect::<Vec<_>>(),
        ["closed"]
    );
}
