//! `wasmqtt-host rr` (MQTT 5 request/response, like mosquitto_rr; issue 14, item 5): ours as
//! the requester against a responder made of mosquitto_sub and mosquitto_pub, and
//! mosquitto_rr as the requester against a responder made of ours (`sub` and `pub`); the
//! response topic and the correlation data go through; `-W` without a response exits 27.
//!
//! ```text
//! CARGO_INCREMENTAL=0 cargo build --profile wasm --target wasm32-wasip2 -p wasmqtt-cli
//! cargo test --release -p wasmqtt-host --test cli_rr
//! ```

mod cli_common;
use cli_common::{our_sub, ours, text, their_sub, theirs, Running, WAIT};

use std::sync::mpsc::channel;
use wasmqtt_testkit::mosquitto::Mosquitto;

#[test]
fn our_rr_gets_the_answer_of_a_mosquitto_responder() {
    let b = Mosquitto::start();
    let port = b.port().to_string();
    // The responder: prints each request's response topic and correlation data, once
    // subscribed (its SUBACK line).
    let mut responder = their_sub(&[
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-V",
        "5",
        "-t",
        "svc/req",
        "-C",
        "1",
        "-F",
        "%R %D %p",
    ]);
    let (tx, rx) = channel();
    let port2 = port.clone();
    let requester = std::thread::spawn(move || {
        let out = ours(&[
            "rr",
            "-h",
            "127.0.0.1",
            "-p",
            &port2,
            "-t",
            "svc/req",
            "-e",
            "svc/resp/1",
            "-m",
            "ping",
            "-W",
            "15",
        ]);
        let _ = tx.send(());
        out
    });
    let line = responder.wait_line(" ping");
    let mut parts = line.split(' ');
    let (resp, corr) = (
        parts.next().unwrap().to_string(),
        parts.next().unwrap().to_string(),
    );
    assert_eq!(resp, "svc/resp/1", "{line}");
    assert_eq!(corr.len(), 16, "a random correlation data: {line}");
    // First an answer with another correlation data (someone else's): ours ignores it.
    let pub_args = |c: &str, m: &str| {
        theirs(
            "mosquitto_pub",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-V",
                "5",
                "-t",
                &resp,
                "-m",
                m,
                "-D",
                "publish",
                "correlation-data",
                c,
            ],
        )
    };
    assert!(pub_args("not-ours", "wrong").status.success());
    assert!(pub_args(&corr, "pong").status.success());
    rx.recv_timeout(WAIT).expect("rr ends");
    let out = requester.join().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "pong\n");
}

#[test]
fn mosquitto_rr_gets_the_answer_of_our_responder() {
    let b = Mosquitto::start();
    let port = b.port().to_string();
    let responder = our_sub(&[
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-V",
        "5",
        "-t",
        "svc2/req",
        "-C",
        "1",
        "-F",
        "%R|%D|%p",
    ]);
    let requester = Running::theirs(
        "mosquitto_rr",
        &[
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-t",
            "svc2/req",
            "-e",
            "svc2/resp",
            "-m",
            "ping",
            "-W",
            "15",
            "-D",
            "publish",
            "correlation-data",
            "abc",
        ],
    );
    let (status, msgs) = responder.messages();
    assert!(status.success());
    assert_eq!(msgs, ["svc2/resp|abc|ping"]);
    let out = ours(&[
        "pub",
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-V",
        "5",
        "-t",
        "svc2/resp",
        "-m",
        "pong",
        "-D",
        "publish",
        "correlation-data",
        "abc",
    ]);
    assert!(out.status.success());
    let (status, rest, err) = requester.end();
    assert!(status.success(), "{err}");
    assert_eq!(rest, ["pong"]);
}

#[test]
fn rr_without_a_response_times_out_with_27_and_needs_v5() {
    let b = Mosquitto::start();
    let port = b.port().to_string();
    let out = ours(&[
        "rr",
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-t",
        "nobody/home",
        "-e",
        "r/1",
        "-m",
        "x",
        "-W",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(27));
    assert!(
        text(&out.stderr).contains("TIMEOUT: timed out waiting for the response"),
        "{}",
        text(&out.stderr)
    );
    let out = ours(&[
        "rr", "-p", &port, "-t", "a", "-e", "b", "-m", "x", "-V", "311",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("rr needs MQTT 5"));
}
