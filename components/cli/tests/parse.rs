//! The flag parser: every flag of pub, sub and rr, and the errors.

use std::path::{Path, PathBuf};
use wasmqtt::broker::{Broker, Scheme};
use wasmqtt::codec::{ProtocolVersion, QoS};
use wasmqtt_cli::{parse, Args, ArgsError, Command, Payload, TlsFlags, TlsVersion};
#[test]
fn mosquitto_flags() {
    let a = parse([
        "sub", "-h", "h", "-p", "1884", "-t", "a/#", "-t", "b", "-q", "2", "-V", "5", "-v", "-C",
        "3", "-W", "9", "-c", "-x", "60", "-i", "id", "-k", "5",
    ])
    .unwrap();
    assert_eq!(a.command, Command::Sub);
    assert_eq!((a.host.as_str(), a.port), ("h", 1884));
    assert_eq!(a.topics, ["a/#", "b"]);
    assert_eq!((a.qos, a.version), (QoS::ExactlyOnce, ProtocolVersion::V5));
    assert!(a.verbose && !a.clean);
    assert_eq!(
        (a.count, a.timeout_secs, a.session_expiry),
        (Some(3), Some(9), Some(60))
    );
    assert_eq!((a.id.as_deref(), a.keep_alive), (Some("id"), 5));
}

#[test]
fn values_may_start_with_a_dash_and_last_flag_wins() {
    let a = parse([
        "pub",
        "-p",
        "1",
        "-p",
        "2",
        "-t",
        "t",
        "-m",
        "-5",
        "--will-qos",
        "1",
    ]);
    let a = a.unwrap();
    assert_eq!(
        (a.port, a.payload),
        (2, Some(Payload::Message(b"-5".to_vec())))
    );
    assert_eq!(a.will_qos, QoS::AtLeastOnce);
}

#[test]
fn help_and_errors() {
    assert_eq!(parse(["--help"]), Err(ArgsError::Help));
    assert_eq!(parse(["pub", "--help"]), Err(ArgsError::Help));
    for bad in [
        &["pub", "-t", "a"][..],
        &["pub", "-t", "a", "-t", "b", "-m", "x"],
        &["sub"],
        &["sub", "-t", "a", "-q", "3"],
        &["sub", "-t", "a", "-p", "65536"],
        &["sub", "-t", "a", "-V", "3"],
        &["sub", "-t", "a", "--bogus"],
        &["sub", "-t"],
        &["post", "-t", "a"],
        &[],
        &["pub", "-t", "a", "-m", "x", "-P", "pw"],
    ] {
        assert!(matches!(parse(bad), Err(ArgsError::Invalid(_))), "{bad:?}");
    }
}

fn error(args: &[&str]) -> String {
    match parse(args) {
        Err(ArgsError::Invalid(e)) => e,
        other => panic!("{args:?}: {other:?}"),
    }
}

#[test]
fn h_and_p_make_one_plain_broker() {
    let a = parse(["pub", "-h", "b", "-p", "1884", "-t", "t", "-m", "x"]).unwrap();
    assert_eq!(a.brokers, [Broker::tcp("b", 1884)]);
    assert_eq!(a.tls, None);
    let a = parse(["sub", "-t", "t"]).unwrap();
    assert_eq!(a.brokers[0].to_string(), "mqtt://localhost:1883");
}

#[test]
fn url_gives_broker_topic_and_credentials() {
    let a = parse([
        "pub",
        "-L",
        "mqtt://u:p%40ss@10.0.0.1:1999/a/b c",
        "-m",
        "x",
    ])
    .unwrap();
    assert_eq!(a.topics, ["a/b c"]);
    let b = &a.brokers[0];
    assert_eq!(
        (b.scheme, b.host.as_str(), b.port),
        (Scheme::Mqtt, "10.0.0.1", 1999)
    );
    assert_eq!(
        (b.username.as_deref(), b.password.as_deref()),
        (Some("u"), Some("p@ss"))
    );
    assert_eq!(b.path, "", "the path is the topic, not a path");
    assert_eq!((a.host.as_str(), a.port), ("10.0.0.1", 1999));
    // A wildcard filter, the default port, the aliases.
    let a = parse(["sub", "-L", "tcp://h/x/#"]).unwrap();
    assert_eq!((a.topics[0].as_str(), a.brokers[0].port), ("x/#", 1883));
    // -P with a URL user name is fine in 3.1.1.
    assert!(parse(["sub", "-L", "mqtt://u@h/t", "-P", "pw"]).is_ok());
}

#[test]
fn websocket_urls_take_the_path_from_ws_path() {
    let a = parse(["sub", "-L", "ws://h/t/1"]).unwrap();
    let b = &a.brokers[0];
    assert_eq!(
        (b.scheme, b.port, b.path.as_str()),
        (Scheme::Ws, 80, "/mqtt")
    );
    assert_eq!(a.topics, ["t/1"]);
    let a = parse(["sub", "-L", "wss://h:8443/t", "--ws-path", "/ws"]).unwrap();
    let b = &a.brokers[0];
    assert_eq!(
        (b.scheme, b.port, b.path.as_str()),
        (Scheme::Wss, 8443, "/ws")
    );
}

#[test]
fn repeated_urls_are_a_failover_list() {
    let a = parse([
        "pub",
        "-L",
        "mqtt://a:1/t",
        "-L",
        "mqtt://b:2",
        "-L",
        "mqtt://c:3/t",
        "-m",
        "x",
    ])
    .unwrap();
    let hosts: Vec<_> = a
        .brokers
        .iter()
        .map(|b| (b.host.as_str(), b.port))
        .collect();
    assert_eq!(hosts, [("a", 1), ("b", 2), ("c", 3)]);
    assert_eq!(a.topics, ["t"]);
    let e = error(&["pub", "-L", "mqtt://a/t", "-L", "mqtt://b/u", "-m", "x"]);
    assert!(e.contains("different topics"), "{e}");
}

#[test]
fn bad_urls_and_url_conflicts_are_flag_errors() {
    let e = error(&["sub", "-L", "http://h/t"]);
    assert!(e.contains("unsupported broker URL scheme `http`"), "{e}");
    let e = error(&["sub", "-L", "h/t"]);
    assert!(e.contains("has no scheme"), "{e}");
    let e = error(&["sub", "-L", "mqtt://h:99999/t"]);
    assert!(e.contains("invalid port"), "{e}");
    let e = error(&["sub", "-L", "mqtt://:pw@/t"]);
    assert!(e.contains("no host"), "{e}");
    assert!(
        !e.contains("pw"),
        "the password stays out of the message: {e}"
    );
    for (args, want) in [
        (
            &["sub", "-L", "mqtt://h/t", "-h", "x"][..],
            "-L cannot be combined",
        ),
        (
            &["sub", "-L", "mqtt://h/t", "-p", "1"],
            "-L cannot be combined",
        ),
        (
            &["sub", "-L", "mqtt://h/t", "-t", "u"],
            "-L cannot be combined",
        ),
        (
            &["sub", "-L", "mqtt://h"],
            "-t (or a topic in the -L URL) is required",
        ),
        (
            &["sub", "-L", "mqtt://h/"],
            "-t (or a topic in the -L URL) is required",
        ),
        (&["sub", "-L"], "missing argument"),
        (
            &["sub", "-L", "mqtt://h/t", "--ws-path", "/x"],
            "--ws-path needs",
        ),
        (
            &["sub", "-L", "ws://h/t", "--ws-path", "x"],
            "must start with /",
        ),
    ] {
        let e = error(args);
        assert!(e.contains(want), "{args:?}: {e}");
    }
}

#[test]
fn tls_flags() {
    let a = parse([
        "sub",
        "-L",
        "mqtts://h/t",
        "--cafile",
        "/etc/ca.pem",
        "--cert",
        "c.pem",
        "--key",
        "k.pem",
        "--insecure",
        "--tls-alpn",
        "mqtt",
        "--tls-alpn",
        "x",
        "--tls-version",
        "tlsv1.3",
        "--tls-server-name",
        "broker",
    ])
    .unwrap();
    let t = a.tls.clone().unwrap();
    assert_eq!(t.cafile.as_deref(), Some(Path::new("/etc/ca.pem")));
    assert_eq!(
        (t.cert.as_deref(), t.key.as_deref()),
        (Some(Path::new("c.pem")), Some(Path::new("k.pem")))
    );
    assert!(t.insecure);
    assert_eq!(t.alpn, ["mqtt", "x"]);
    assert_eq!(
        (t.version, t.server_name.as_deref()),
        (Some(TlsVersion::Tls13), Some("broker"))
    );
    assert_eq!(a.read_dirs(), [PathBuf::from("/etc"), PathBuf::from(".")]);
    // mqtts:// without a CA: the built-in roots, no TLS flags.
    assert_eq!(parse(["sub", "-L", "mqtts://h/t"]).unwrap().tls, None);
}

#[test]
fn a_ca_with_h_switches_to_tls_on_8883() {
    let a = parse(["sub", "-h", "h", "-t", "t", "--capath", "/certs"]).unwrap();
    assert_eq!(a.brokers[0].to_string(), "mqtts://h:8883");
    assert_eq!(a.port, 8883);
    assert_eq!(a.read_dirs(), [PathBuf::from("/certs")]);
    let a = parse([
        "sub",
        "-L",
        "mqtts://h/t",
        "--cafile",
        "./d/ca.pem",
        "--capath",
        "./d/",
        "--cert",
        "c.pem",
        "--key",
        "./k.pem",
    ])
    .unwrap();
    assert_eq!(a.read_dirs(), [PathBuf::from("d"), PathBuf::from(".")]);
    let a = parse([
        "sub", "-h", "h", "-p", "9000", "-t", "t", "--cafile", "ca.pem",
    ])
    .unwrap();
    assert_eq!(a.brokers[0].to_string(), "mqtts://h:9000");
}

#[test]
fn bad_tls_flags_are_flag_errors() {
    for (args, want) in [
        (
            &[
                "sub",
                "-t",
                "t",
                "--cafile",
                "c",
                "--tls-version",
                "tlsv1.1",
            ][..],
            "unsupported TLS version 'tlsv1.1'",
        ),
        (
            &["sub", "-t", "t", "--cafile", "c", "--tls-version"],
            "missing argument",
        ),
        (&["sub", "-t", "t", "--cafile"], "missing argument"),
        (&["sub", "-t", "t", "--cafile", ""], "empty path"),
        (
            &["sub", "-t", "t", "--cafile", "c", "--cert", "c.pem"],
            "--cert needs --key",
        ),
        (
            &["sub", "-t", "t", "--cafile", "c", "--key", "k.pem"],
            "--key needs --cert",
        ),
        (
            &["sub", "-t", "t", "--insecure"],
            "need --cafile or --capath",
        ),
        (
            &["sub", "-L", "mqtt://h/t", "--cafile", "c"],
            "need an mqtts:// or wss://",
        ),
    ] {
        let e = error(args);
        assert!(e.contains(want), "{args:?}: {e}");
    }
}

#[test]
fn load_reads_the_files_and_names_the_unreadable_one() {
    let dir = std::env::temp_dir().join(format!("wasmqtt-cli-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("b.crt"), "B").unwrap();
    std::fs::write(dir.join("a.pem"), "A").unwrap();
    std::fs::write(dir.join("notes.txt"), "no").unwrap();
    let flags = TlsFlags {
        cafile: Some(dir.join("a.pem")),
        capath: Some(dir.clone()),
        ..TlsFlags::default()
    };
    let pem = flags.load().unwrap();
    assert_eq!(pem.ca, [b"A".to_vec(), b"A".to_vec(), b"B".to_vec()]);
    let missing = dir.join("missing.pem");
    let e = TlsFlags {
        cafile: Some(missing.clone()),
        ..TlsFlags::default()
    }
    .load()
    .unwrap_err();
    assert!(
        e.starts_with(&format!("cannot read --cafile {}", missing.display())),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn ok(args: &[&str]) -> Args {
    parse(args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

#[test]
fn pub_message_sources_and_repeat() {
    let base = ["pub", "-t", "t"];
    let with = |extra: &[&str]| ok(&[&base[..], extra].concat());
    assert_eq!(
        with(&["-m", "hi"]).payload,
        Some(Payload::Message(b"hi".to_vec()))
    );
    assert_eq!(with(&["-n"]).payload, Some(Payload::Null));
    assert_eq!(
        with(&["-f", "./d/p.bin"]).payload,
        Some(Payload::File(PathBuf::from("./d/p.bin")))
    );
    assert_eq!(with(&["-f", "./d/p.bin"]).read_dirs(), [PathBuf::from("d")]);
    assert_eq!(with(&["-s"]).payload, Some(Payload::Stdin));
    assert_eq!(with(&["--stdin-file"]).payload, Some(Payload::Stdin));
    assert_eq!(with(&["-l"]).payload, Some(Payload::Lines));
    assert_eq!(with(&["--stdin-line"]).payload, Some(Payload::Lines));
    let a = with(&[
        "-m",
        "x",
        "--repeat",
        "3",
        "--repeat-delay",
        "0.25",
        "-d",
        "--quiet",
    ]);
    assert_eq!(
        (a.repeat, a.repeat_delay_ms, a.debug, a.quiet),
        (3, 250, true, true)
    );
    assert_eq!(with(&["-m", "x"]).repeat, 1);
    // Seconds with a decimal fraction, to the nearest millisecond.
    for (delay, ms) in [
        ("2", 2_000),
        ("007", 7_000),
        (".5", 500),
        ("3.", 3_000),
        ("0.0004", 0),
        ("0.0005", 1),
        ("1.2345678", 1_235),
        ("999999999.999", 999_999_999_999),
    ] {
        let a = with(&["-m", "x", "--repeat-delay", delay]);
        assert_eq!(a.repeat_delay_ms, ms, "{delay}");
    }
    for (extra, want) in [
        (&["-m", "x", "-n"][..], "only one of -m, -n, -f, -s and -l"),
        (&["-s", "-l"], "only one of"),
        (
            &["-l", "--repeat", "2"],
            "--repeat cannot be combined with -l",
        ),
        (&["-m", "x", "--repeat", "0"], "--repeat must be at least 1"),
        (
            &["-m", "x", "--repeat-delay", "-1"],
            "invalid value '-1' for --repeat-delay",
        ),
        (
            &["-m", "x", "--repeat-delay", "."],
            "invalid value '.' for --repeat-delay",
        ),
        (
            &["-m", "x", "--repeat-delay", "1e3"],
            "invalid value '1e3' for --repeat-delay",
        ),
        (
            &["-m", "x", "--repeat-delay", "1000000000"],
            "invalid value '1000000000' for --repeat-delay",
        ),
        (
            &["-m", "x", "--repeat-delay", "1.2.3"],
            "invalid value '1.2.3' for --repeat-delay",
        ),
        (&["-f", ""], "empty path"),
        (&[], "pub needs -m MESSAGE, -n, -f FILE, -s or -l"),
        (&["-m", "x", "-C", "1"], "-C is a flag of sub only"),
        (&["-m", "x", "-e", "r"], "-e is a flag of rr only"),
        (&["-m", "x", "-F", "%t"], "-F is a flag of sub and rr only"),
    ] {
        let e = error(&[&base[..], extra].concat());
        assert!(e.contains(want), "{extra:?}: {e}");
    }
}

#[test]
fn sub_output_and_filter_flags() {
    let a = ok(&[
        "sub",
        "-t",
        "a/#",
        "-F",
        "%t %p",
        "-N",
        "-R",
        "-T",
        "a/x",
        "-T",
        "a/y/#",
        "-U",
        "old",
        "-E",
        "--remove-retained",
    ]);
    assert_eq!(a.format.as_deref(), Some("%t %p"));
    assert!(a.no_newline && a.no_retained && a.exit_after_sub && a.remove_retained);
    assert_eq!(a.filter_out, ["a/x", "a/y/#"]);
    assert_eq!(a.unsubscribe, ["old"]);
    let a = ok(&["sub", "-t", "a", "--retained-only"]);
    assert!(a.retained_only);
    // -U alone is a command of its own (no -t needed).
    assert!(ok(&["sub", "-U", "old"]).topics.is_empty());
    for (args, want) in [
        (
            &["sub", "-t", "a", "-R", "--retained-only"][..],
            "exclude each other",
        ),
        (&["sub", "-t", "a", "-C", "0"], "-C must be at least 1"),
        (&["sub", "-t", "a", "-W", "0"], "-W must be at least 1"),
        (
            &["sub", "-t", "a", "-m", "x"],
            "-m is a flag of pub and rr only",
        ),
        (&["sub", "-t", "a", "-r"], "-r is a flag of pub only"),
        (&["sub", "-t", "a", "-l"], "-l is a flag of pub only"),
        (&["sub", "-t", "a", "-T"], "missing argument"),
    ] {
        let e = error(args);
        assert!(e.contains(want), "{args:?}: {e}");
    }
}

#[test]
fn rr_flags() {
    let a = ok(&[
        "rr", "-t", "req", "-e", "resp", "-m", "q", "-W", "5", "-v", "-N",
    ]);
    assert_eq!(a.command, Command::Rr);
    assert_eq!(
        a.version,
        ProtocolVersion::V5,
        "rr speaks MQTT 5 by default, as mosquitto_rr"
    );
    assert_eq!(a.response_topic.as_deref(), Some("resp"));
    assert_eq!(
        (a.timeout_secs, a.verbose, a.no_newline),
        (Some(5), true, true)
    );
    assert_eq!(a.payload, Some(Payload::Message(b"q".to_vec())));
    assert_eq!(Command::Rr.name(), "rr");
    for (args, want) in [
        (
            &["rr", "-t", "req", "-m", "q"][..],
            "rr needs -e RESPONSE_TOPIC",
        ),
        (
            &["rr", "-t", "req", "-e", "r", "-m", "q", "-V", "311"],
            "rr needs MQTT 5",
        ),
        (
            &["rr", "-e", "r", "-m", "q"],
            "-t (or a topic in the -L URL) is required",
        ),
        (
            &["rr", "-t", "req", "-e", "r"],
            "rr needs -m MESSAGE, -n, -f FILE, -s",
        ),
        (
            &["rr", "-t", "req", "-e", "r", "-l"],
            "-l is a flag of pub only",
        ),
    ] {
        let e = error(args);
        assert!(e.contains(want), "{args:?}: {e}");
    }
}

#[test]
fn c_x_and_session_expiry() {
    // -c in v5: a session that never expires, as mosquitto's -c; -x overrides it.
    assert_eq!(
        ok(&["sub", "-t", "t", "-V", "5", "-c"]).effective_session_expiry(),
        Some(u32::MAX)
    );
    assert_eq!(
        ok(&["sub", "-t", "t", "-V", "5", "-c", "-x", "9"]).effective_session_expiry(),
        Some(9)
    );
    assert_eq!(
        ok(&["sub", "-t", "t", "-V", "5", "-x", "-1"]).session_expiry,
        Some(u32::MAX)
    );
    assert_eq!(
        ok(&["sub", "-t", "t", "-V", "5"]).effective_session_expiry(),
        None
    );
    assert_eq!(
        ok(&["sub", "-t", "t", "-c"]).effective_session_expiry(),
        None,
        "3.1.1"
    );
    let a = ok(&[
        "sub",
        "-t",
        "t",
        "-V",
        "5",
        "-D",
        "connect",
        "session-expiry-interval",
        "30",
    ]);
    assert_eq!(a.effective_session_expiry(), Some(30));
    let e = error(&["sub", "-t", "t", "-c", "-i", ""]);
    assert!(e.contains("-c with an empty client id"), "{e}");
    assert!(ok(&["sub", "-t", "t", "-V", "5", "-c", "-i", ""]).id == Some(String::new()));
    assert!(error(&["sub", "-t", "t", "-x", "5"]).contains("need -V 5"));
    assert_eq!(
        ok(&["sub", "-t", "t", "-I", "pre-"]).id_prefix.as_deref(),
        Some("pre-")
    );
}

#[test]
fn d_properties_with_mosquittos_names() {
    let a = ok(&[
        "pub",
        "-V",
        "5",
        "-t",
        "t",
        "-m",
        "x",
        "-D",
        "connect",
        "topic-alias-maximum",
        "0",
        "-D",
        "connect",
        "receive-maximum",
        "10",
        "-D",
        "connect",
        "maximum-packet-size",
        "1000",
        "-D",
        "connect",
        "request-response-information",
        "1",
        "-D",
        "connect",
        "request-problem-information",
        "0",
        "-D",
        "connect",
        "user-property",
        "ck",
        "cv",
        "-D",
        "publish",
        "content-type",
        "text/plain",
        "-D",
        "publish",
        "correlation-data",
        "c1",
        "-D",
        "publish",
        "message-expiry-interval",
        "60",
        "-D",
        "publish",
        "payload-format-indicator",
        "1",
        "-D",
        "publish",
        "response-topic",
        "r/t",
        "-D",
        "publish",
        "user-property",
        "k",
        "v",
        "-D",
        "publish",
        "user-property",
        "k",
        "w",
        "-D",
        "subscribe",
        "subscription-identifier",
        "7",
        "-D",
        "will",
        "will-delay-interval",
        "5",
        "-D",
        "will",
        "content-type",
        "w/t",
        "--will-topic",
        "w",
        "--disconnect-with-will",
    ]);
    let c = &a.props.connect;
    assert_eq!(c.topic_alias_maximum, Some(0));
    assert_eq!(
        (c.receive_maximum, c.maximum_packet_size),
        (Some(10), Some(1000))
    );
    assert_eq!(
        (
            c.request_response_information,
            c.request_problem_information
        ),
        (Some(true), Some(false))
    );
    assert_eq!(c.user_properties, [("ck".to_string(), "cv".to_string())]);
    let p = &a.props.publish;
    assert_eq!(p.content_type.as_deref(), Some("text/plain"));
    assert_eq!(p.correlation_data.as_deref(), Some(&b"c1"[..]));
    assert_eq!(
        (p.message_expiry_interval, p.payload_format_indicator),
        (Some(60), Some(true))
    );
    assert_eq!(p.response_topic.as_deref(), Some("r/t"));
    assert_eq!(p.user_properties.len(), 2, "user properties add up");
    assert_eq!(a.props.subscription_identifier, Some(7));
    assert_eq!(a.props.will_delay_interval, Some(5));
    assert_eq!(a.props.will.content_type.as_deref(), Some("w/t"));
    assert!(a.disconnect_with_will);
    for (d, want) in [
        (
            &["-D", "connect", "topic-alias-maximum", "70000"][..],
            "invalid value '70000'",
        ),
        (&["-D", "connect", "receive-maximum", "0"], "at least 1"),
        (
            &["-D", "connect", "bogus", "1"],
            "'bogus' is not supported for connect",
        ),
        (&["-D", "nonsense", "x", "1"], "unknown command 'nonsense'"),
        (
            &["-D", "publish", "payload-format-indicator", "2"],
            "must be 0 or 1",
        ),
        (
            &["-D", "subscribe", "subscription-identifier", "0"],
            "1 to 268435455",
        ),
        (&["-D", "connect", "user-property", "k"], "missing argument"),
        (&["--disconnect-with-will"], "needs --will-topic"),
    ] {
        let e = error(&[&["pub", "-V", "5", "-t", "t", "-m", "x"][..], d].concat());
        assert!(e.contains(want), "{d:?}: {e}");
    }
    let e = error(&[
        "pub",
        "-t",
        "t",
        "-m",
        "x",
        "-D",
        "connect",
        "topic-alias-maximum",
        "0",
    ]);
    assert!(e.contains("need -V 5"), "{e}");
    let e = error(&[
        "pub",
        "-t",
        "t",
        "-m",
        "x",
        "--will-topic",
        "w",
        "--disconnect-with-will",
    ]);
    assert!(e.contains("needs -V 5"), "{e}");
}

#[test]
fn usage_names_every_flag() {
    for f in [
        "-l ",
        "-s ",
        "-f FILE",
        "-n ",
        "-d ",
        "-D COMMAND",
        "--repeat N",
        "--repeat-delay",
        "-F FORMAT",
        "-N ",
        "-R ",
        "-T FILTER",
        "-U FILTER",
        "-E ",
        "--retained-only",
        "--remove-retained",
        "-v ",
        "-C COUNT",
        "-W SECS",
        "-L URL",
        "--will-topic",
        "-x SECS",
        "-V 311|5",
        "-e TOPIC",
        "topic-alias-maximum",
        "0xFFFFFFFF",
        "--disconnect-with-will",
        "exit codes",
    ] {
        assert!(wasmqtt_cli::USAGE.contains(f), "{f}");
    }
}

mod format {
    use wasmqtt::codec::QoS;
    use wasmqtt::session::MessageProperties;
    use wasmqtt_cli::format::{civil, iso8601, render, Fields};

    fn fields<'a>(props: &'a MessageProperties) -> Fields<'a> {
        Fields {
            topic: "a/b",
            payload: b"Hi\x01",
            qos: QoS::AtLeastOnce,
            retain: true,
            mid: 7,
            properties: props,
            topic_alias: Some(3),
            // 2020-05-06T22:12:00.5Z
            time: (1_588_803_120, 500_000_000),
        }
    }

    fn r(f: &str) -> String {
        let p = MessageProperties {
            content_type: Some("ct".into()),
            response_topic: Some("resp".into()),
            correlation_data: Some(b"cd".to_vec()),
            message_expiry_interval: Some(60),
            payload_format_indicator: Some(true),
            user_properties: vec![("k".into(), "v".into()), ("k".into(), "w".into())],
            subscription_identifiers: vec![4, 5],
        };
        String::from_utf8(render(f, &fields(&p))).unwrap()
    }

    #[test]
    fn message_fields() {
        assert_eq!(r("%t %q %r %l %m %x %X"), "a/b 1 1 3 7 486901 486901");
        assert_eq!(r("%p"), "Hi\u{1}");
        assert_eq!(
            r("%%|%A|%C|%D|%E|%F|%P|%R|%S"),
            "%|3|ct|cd|60|1|k:v k:w|resp|4,5"
        );
        assert_eq!(r("%U"), "1588803120.500000000");
        assert_eq!(r("%I"), "2020-05-06T22:12:00+0000");
        assert_eq!(r("%y"), "%y", "unknown sequences are printed as is");
    }

    #[test]
    fn width_precision_and_flags() {
        assert_eq!(r("[%6t]"), "[   a/b]");
        assert_eq!(r("[%-6t]"), "[a/b   ]");
        assert_eq!(r("[%.2t]"), "[a/]");
        assert_eq!(r("[%05l]"), "[00003]");
        assert_eq!(r("[%-05l]"), "[3    ]", "- wins over 0");
        assert_eq!(r("[%08x]"), "[00486901]");
        assert_eq!(r("[%5p]"), "[  Hi\u{1}]");
    }

    #[test]
    fn time_fields_escapes_and_json() {
        assert_eq!(
            r("@Y-@m-@d @H:@M:@S.@N @s @z @@ @F @T"),
            "2020-05-06 22:12:00.500000000 1588803120 +0000 @ 2020-05-06 22:12:00"
        );
        assert_eq!(r("a\\tb\\nc\\\\\\e\\0"), "a\tb\nc\\\u{1b}\u{0}");
        assert_eq!(
            r("%j"),
            r#"{"tst":"2020-05-06T22:12:00.500000+0000","topic":"a/b","qos":1,"retain":1,"payloadlen":3,"mid":7,"payload":"Hi\u0001"}"#
        );
        let p = MessageProperties::default();
        let mut f = fields(&p);
        f.payload = br#"{"t":1}"#;
        let j = String::from_utf8(render("%J", &f)).unwrap();
        assert!(j.ends_with(r#""payload":{"t":1}}"#), "{j}");
        f.payload = b"\xff";
        assert_eq!(render("%J", &f), b"Error: payload is not valid JSON");
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(civil(951_782_400), (2000, 2, 29, 0, 0, 0));
        assert_eq!(iso8601(4_102_444_799), "2099-12-31T23:59:59+0000");
    }
}

mod exit {
    use wasmqtt::codec::{PacketType, ProtocolVersion, ReasonCode};
    use wasmqtt::session::DisconnectReason;
    use wasmqtt_cli::exit::{code_text, Failure};

    #[test]
    fn v311_codes_have_their_311_names() {
        let v = ProtocolVersion::V311;
        for (c, name) in [
            (1, "unacceptable protocol version"),
            (2, "identifier rejected"),
            (3, "server unavailable"),
            (4, "bad user name or password"),
            (5, "not authorized"),
        ] {
            let t = code_text(ReasonCode(c), v, PacketType::ConnAck);
            assert_eq!(t, format!("0x{c:02X} (Connection refused: {name})"));
            let f = Failure::disconnected(
                &DisconnectReason::Refused {
                    code: ReasonCode(c),
                    version: v,
                    reason: None,
                },
                v,
            );
            assert_eq!((f.code, f.exit), ("CONNECTION_REFUSED", i32::from(c)));
            assert_eq!(
                f.text,
                format!("connection refused: 0x{c:02X} (Connection refused: {name})")
            );
        }
        assert_eq!(
            code_text(ReasonCode(2), v, PacketType::SubAck),
            "0x02 (Success - Maximum QoS 2)"
        );
        assert_eq!(
            code_text(ReasonCode(0x80), v, PacketType::SubAck),
            "0x80 (Failure)"
        );
        let v5 = ProtocolVersion::V5;
        assert_eq!(
            code_text(ReasonCode(0x86), v5, PacketType::ConnAck),
            "0x86 (Bad User Name or Password)"
        );
        assert_eq!(
            code_text(ReasonCode(4), v5, PacketType::Disconnect),
            "0x04 (Disconnect with Will Message)"
        );
    }

    #[test]
    fn exit_codes() {
        let v = ProtocolVersion::V5;
        for (r, exit) in [
            (DisconnectReason::ConnectionLost, 7),
            (DisconnectReason::Transport("reset".into()), 7),
            (DisconnectReason::ConnectTimeout, 27),
            (DisconnectReason::KeepAliveTimeout, 19),
            (
                DisconnectReason::Refused {
                    code: ReasonCode(0x87),
                    version: v,
                    reason: Some("no".into()),
                },
                0x87,
            ),
            (
                DisconnectReason::ByServer {
                    code: ReasonCode(0x8B),
                    reason: None,
                    server_reference: None,
                },
                7,
            ),
        ] {
            assert_eq!(Failure::disconnected(&r, v).exit, exit, "{r:?}");
        }
        let f = Failure::disconnected(
            &DisconnectReason::Refused {
                code: ReasonCode(0x87),
                version: v,
                reason: Some("no".into()),
            },
            v,
        );
        assert_eq!(
            f.to_string(),
            "CONNECTION_REFUSED: connection refused: 0x87 (Not authorized) (no)"
        );
        assert_eq!(Failure::timeout("x").exit, 27);
        let s = Failure::subscription_refused("a/#", ReasonCode(0x80), ProtocolVersion::V311);
        assert_eq!(
            (s.exit, s.text.as_str()),
            (12, "subscription to 'a/#' refused: 0x80 (Failure)")
        );
    }
}
