//! Each flag of `wasmqtt-host pub|sub` against mosquitto's own clients (issue 14, items 2, 4,
//! 5): ours publishes and mosquitto_sub receives, mosquitto_pub publishes and ours receives.
//! Nothing is timed: a subscriber is used once its `-d` output says SUBACK, retained
//! messages are there before a subscriber starts.
//!
//! ```text
//! CARGO_INCREMENTAL=0 cargo build --profile wasm --target wasm32-wasip2 -p wasmqtt-cli
//! cargo test --release -p wasmqtt-host --test cli_flags
//! ```

mod cli_common;
use cli_common::{our_sub, ours, ours_with_stdin, text, their_sub, theirs, TempDir};

use wasmqtt_testkit::mosquitto::Mosquitto;

fn hp(b: &Mosquitto) -> [String; 4] {
    [
        "-h".into(),
        "127.0.0.1".into(),
        "-p".into(),
        b.port().to_string(),
    ]
}

/// `-h 127.0.0.1 -p PORT` and `rest`; after the subcommand when `rest` starts with one
/// (`wasmqtt-host -h` is the host's own help).
fn with<'a>(hp: &'a [String; 4], rest: &[&'a str]) -> Vec<&'a str> {
    let mut v: Vec<&str> = Vec::new();
    let mut rest = rest;
    if let Some(&c @ ("pub" | "sub" | "rr")) = rest.first() {
        v.push(c);
        rest = &rest[1..];
    }
    v.extend(hp.iter().map(String::as_str));
    v.extend_from_slice(rest);
    v
}

fn ok(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status,
        text(&out.stderr)
    );
}

#[test]
fn pub_message_sources_reach_mosquitto_sub() {
    let b = Mosquitto::start();
    let hp = hp(&b);
    let dir = TempDir::new("cli-pub-f");
    let file = dir.file("payload.bin", b"from a file\nwith two lines");
    let file = file.to_str().unwrap();
    let sub = their_sub(&with(&hp, &["-t", "src/#", "-v", "-C", "8"]));
    ok(&ours(&with(
        &hp,
        &["pub", "-t", "src/m", "-m", "hello", "-q", "1"],
    )));
    ok(&ours(&with(&hp, &["pub", "-t", "src/n", "-n", "-q", "2"])));
    ok(&ours(&with(&hp, &["pub", "-t", "src/f", "-f", file])));
    ok(&ours_with_stdin(
        &with(&hp, &["pub", "-t", "src/s", "-s", "-q", "1"]),
        b"all of stdin",
    ));
    ok(&ours_with_stdin(
        &with(&hp, &["pub", "-t", "src/l", "-l", "-q", "1"]),
        b"line one\n\nline two\r\n",
    ));
    ok(&ours(&with(
        &hp,
        &[
            "pub",
            "-t",
            "src/r",
            "-m",
            "again",
            "--repeat",
            "2",
            "--repeat-delay",
            "0.01",
        ],
    )));
    let (status, msgs) = sub.messages();
    assert!(status.success());
    assert_eq!(
        msgs,
        [
            "src/m hello",
            "src/n (null)",
            "src/f from a file",
            "with two lines",
            "src/s all of stdin",
            "src/l line one",
            "src/l line two",
            "src/r again",
            "src/r again",
        ][..msgs.len().min(9)]
            .to_vec(),
    );
    assert_eq!(
        msgs.len(),
        9,
        "-f's message has a newline: 8 messages, 9 lines"
    );
}

#[test]
fn pub_properties_and_retain_reach_mosquitto_sub_v5() {
    let b = Mosquitto::start();
    let hp = hp(&b);
    ok(&ours(&with(
        &hp,
        &[
            "pub",
            "-V",
            "5",
            "-t",
            "props/a",
            "-m",
            "p",
            "-r",
            "-q",
            "1",
            "-D",
            "publish",
            "content-type",
            "text/x",
            "-D",
            "publish",
            "user-property",
            "k",
            "v",
            "-D",
            "publish",
            "response-topic",
            "back/here",
            "-D",
            "publish",
            "correlation-data",
            "c0",
            "-D",
            "publish",
            "message-expiry-interval",
            "3600",
        ],
    )));
    // Retained: the subscriber gets it whenever it starts.
    let out = theirs(
        "mosquitto_sub",
        &with(
            &hp,
            &[
                "-V",
                "5",
                "-q",
                "1",
                "-t",
                "props/#",
                "-C",
                "1",
                "-W",
                "10",
                "-F",
                "%t|%p|%r|%q|%C|%P|%R|%D",
            ],
        ),
    );
    ok(&out);
    assert_eq!(
        text(&out.stdout).trim(),
        "props/a|p|1|1|text/x|k:v|back/here|c0"
    );
}

#[test]
fn mosquitto_pub_reaches_our_sub_with_v_f_n_and_c() {
    let b = Mosquitto::start();
    let hp = hp(&b);
    for v in ["311", "5"] {
        let sub = our_sub(&with(
            &hp,
            &[
                "-V",
                v,
                "-t",
                "in/#",
                "-C",
                "2",
                "-F",
                "%t=%p q%q r%r %x %X %l [%5t] [%-4l] %%",
            ],
        ));
        ok(&theirs(
            "mosquitto_pub",
            &with(&hp, &["-t", "in/a", "-m", "AZ", "-q", "1"]),
        ));
        ok(&theirs("mosquitto_pub", &with(&hp, &["-t", "in/bb", "-n"])));
        let (status, msgs) = sub.messages();
        assert!(status.success(), "v{v}");
        assert_eq!(
            msgs,
            [
                "in/a=AZ q0 r0 415a 415A 2 [ in/a] [2   ] %",
                "in/bb= q0 r0   0 [in/bb] [0   ] %"
            ],
            "v{v}"
        );
    }
    // -N: no newline; -v: topic and payload.
    let sub = our_sub(&with(&hp, &["-t", "nn", "-C", "2", "-N"]));
    ok(&theirs(
        "mosquitto_pub",
        &with(&hp, &["-t", "nn", "-m", "a"]),
    ));
    ok(&theirs(
        "mosquitto_pub",
        &with(&hp, &["-t", "nn", "-m", "b"]),
    ));
    let (status, rest, _) = sub.end();
    assert!(status.success());
    // The two payloads with no newline between or after them (-d's last line follows).
    let last = rest.last().map(String::as_str).unwrap_or_default();
    assert!(
        last.starts_with("abClient ") && last.ends_with(" sending DISCONNECT"),
        "{rest:?}"
    );
}

#[test]
fn t_filters_out_and_r_skips_retained() {
    let b = Mosquitto::start();
    let hp = hp(&b);
    ok(&theirs(
        "mosquitto_pub",
        &with(&hp, &["-t", "f/old", "-m", "stale", "-r"]),
    ));
    let sub = our_sub(&with(
        &hp,
        &["-t", "f/#", "-T", "f/skip/#", "-R", "-C", "1", "-v"],
    ));
    ok(&theirs(
        "mosquitto_pub",
        &with(&hp, &["-t", "f/skip/x", "-m", "no"]),
    ));
    ok(&theirs(
        "mosquitto_pub",
        &with(&hp, &["-t", "f/new", "-m", "yes"]),
    ));
    let (status, msgs) = sub.messages();
    assert!(status.success());
    assert_eq!(msgs, ["f/new yes"]);
}

#[test]
fn retained_only_and_remove_retained() {
    let b = Mosquitto::start();
    let hp = hp(&b);
    for t in ["ro/a", "ro/b"] {
        ok(&theirs(
            "mosquitto_pub",
            &with(&hp, &["-t", t, "-m", t, "-r", "-q", "1"]),
        ));
    }
    // Prints the retained ones, then exits at the first live message.
    let sub = our_sub(&with(
        &hp,
        &["-t", "ro/#", "--retained-only", "--remove-retained", "-v"],
    ));
    ok(&theirs(
        "mosquitto_pub",
        &with(&hp, &["-t", "ro/live", "-m", "live"]),
    ));
    let (status, mut msgs) = sub.messages();
    assert!(status.success());
    msgs.sort();
    assert_eq!(msgs, ["ro/a ro/a", "ro/b ro/b"]);
    // --remove-retained cleared them: a new subscriber gets nothing retained, only the marker.
    let sub = their_sub(&with(&hp, &["-t", "ro/#", "-C", "1", "-v"]));
    ok(&theirs(
        "mosquitto_pub",
        &with(&hp, &["-t", "ro/marker", "-m", "m"]),
    ));
    let (_, msgs) = sub.messages();
    assert_eq!(msgs, ["ro/marker m"]);
}

#[test]
fn e_exits_at_suback_and_c_keeps_the_v5_session_until_u() {
    let b = Mosquitto::start();
    let hp = hp(&b);
    // -c -E: subscribe and leave; the session (never expiring, -c in v5) keeps the
    // subscription and queues what arrives at QoS 1.
    ok(&ours(&with(
        &hp,
        &[
            "sub", "-V", "5", "-c", "-i", "keeper", "-t", "keep/t", "-q", "1", "-E",
        ],
    )));
    ok(&theirs(
        "mosquitto_pub",
        &with(&hp, &["-t", "keep/t", "-m", "queued", "-q", "1"]),
    ));
    let out = ours(&with(
        &hp,
        &[
            "sub", "-V", "5", "-c", "-i", "keeper", "-t", "keep/t", "-q", "1", "-C", "1", "-W",
            "10",
        ],
    ));
    ok(&out);
    assert_eq!(text(&out.stdout).trim(), "queued");
    // -U alone ends the subscription; what is published next is not queued for the session:
    // the next run gets only the message published after it subscribed again.
    ok(&ours(&with(
        &hp,
        &["sub", "-V", "5", "-c", "-i", "keeper", "-U", "keep/t"],
    )));
    ok(&theirs(
        "mosquitto_pub",
        &with(&hp, &["-t", "keep/t", "-m", "dropped", "-q", "1"]),
    ));
    let sub = our_sub(&with(
        &hp,
        &[
            "-V", "5", "-c", "-i", "keeper", "-t", "keep/t", "-q", "1", "-C", "1",
        ],
    ));
    ok(&theirs(
        "mosquitto_pub",
        &with(&hp, &["-t", "keep/t", "-m", "fresh", "-q", "1"]),
    ));
    let (_, msgs) = sub.messages();
    assert_eq!(msgs, ["fresh"]);
}

#[test]
fn w_without_the_count_reached_exits_27_and_help_exits_0() {
    let b = Mosquitto::start();
    let hp = hp(&b);
    let out = ours(&with(&hp, &["sub", "-t", "quiet", "-C", "1", "-W", "1"]));
    assert_eq!(out.status.code(), Some(27), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("TIMEOUT: timed out after 0 of 1 messages"));
    for cmd in ["pub", "sub", "rr"] {
        let out = ours(&[cmd, "--help"]);
        assert_eq!(out.status.code(), Some(0));
        assert!(text(&out.stdout).contains("--retained-only"));
    }
}

/// A clean exit sends DISCONNECT: the will is not published; with `--disconnect-with-will`
/// (v5, DISCONNECT 0x04) it is.
#[test]
fn the_will_goes_out_only_when_asked() {
    let b = Mosquitto::start();
    let hp = hp(&b);
    for v in ["311", "5"] {
        let watch = their_sub(&with(&hp, &["-t", "will/#", "-v", "-C", "1"]));
        // Ends with a timeout (27) and a normal DISCONNECT.
        let out = ours(&with(
            &hp,
            &[
                "sub",
                "-V",
                v,
                "-t",
                "none",
                "-C",
                "1",
                "-W",
                "1",
                "--will-topic",
                "will/x",
                "--will-payload",
                "gone",
            ],
        ));
        assert_eq!(out.status.code(), Some(27));
        // Published after ours ended: mosquitto_sub's first message is this one, not a will.
        ok(&theirs(
            "mosquitto_pub",
            &with(&hp, &["-t", "will/marker", "-m", "first"]),
        ));
        let (_, msgs) = watch.messages();
        assert_eq!(msgs, ["will/marker first"], "v{v}: the will went out");
    }
    let watch = their_sub(&with(&hp, &["-t", "will/#", "-v", "-C", "1"]));
    ok(&ours(&with(
        &hp,
        &[
            "pub",
            "-V",
            "5",
            "-t",
            "x",
            "-m",
            "x",
            "--will-topic",
            "will/y",
            "--will-payload",
            "asked",
            "--disconnect-with-will",
        ],
    )));
    let (_, msgs) = watch.messages();
    assert_eq!(msgs, ["will/y asked"]);
}
