//! Codec benchmarks: wasmqtt against rumqttc's codec on the same packets, in the same run.
//!
//! Each criterion group is one (operation, protocol version, packet) case and holds two
//! functions, `wasmqtt` and `rumqttc`, so the reports sit side by side; `benches/ratios.py`
//! turns `target/criterion` into a table of ratios.
//!
//! Cases: PUBLISH (QoS 1) with 16 B, 1 KiB and 64 KiB payloads, CONNECT (will, user name,
//! password; v5 also CONNECT and will properties) and SUBSCRIBE (four filters; v5 also a
//! subscription identifier and a user property), for MQTT 3.1.1 (rumqttc `mqttbytes::v4`) and
//! 5.0 (rumqttc `v5::mqttbytes::v5`).
//!
//! What is timed, kept the same for both sides:
//!
//! - encode: appending one packet to a cleared, reused output buffer (`Vec<u8>` for wasmqtt,
//!   `BytesMut` for rumqttc). Building the packet value is not timed (wasmqtt borrows,
//!   rumqttc owns `String`s and `Bytes`). wasmqtt checks every sender rule each time.
//! - checked-encode: the same, wasmqtt's packet checked once before timing (`Packet::check`)
//!   and only written in the timed part; rumqttc's is the same as in encode (it checks
//!   nothing).
//! - decode: reading one packet from the start of a buffer holding it, looking at it where
//!   it was returned (`black_box` of a reference, not a move), and dropping it. rumqttc's
//!   `Packet::read` consumes a `BytesMut` (it splits the packet off and freezes it into
//!   `Bytes`), so each iteration gets a fresh `BytesMut` made in untimed setup;
//!   wasmqtt decodes from a `&[u8]`. Both go through `iter_batched` with the same batch size so
//!   the measurement overhead is the same. rumqttc's decoded packet owns `String`s, allocated
//!   and freed inside the timed part; wasmqtt's borrows from the buffer.
//!
//! Run: `cargo bench --bench codec -- --warm-up-time 1 --measurement-time 2`, then
//! `python3 benches/ratios.py`.

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, BatchSize, Criterion, Throughput};
use rumqttc::mqttbytes::v4 as r4;
use rumqttc::mqttbytes::QoS as Q4;
use rumqttc::v5::mqttbytes::v5 as r5;
use rumqttc::v5::mqttbytes::QoS as Q5;
use std::hint::black_box;
use wasmqtt::codec::{
    Connect, Decoder, Packet, Properties, ProtocolVersion, Publish, QoS, RetainHandling, Seq,
    Subscribe, Subscription, SubscriptionOptions, Will, MAX_PACKET_SIZE,
};

const TOPIC: &str = "sensors/building-7/floor-3/room-12/temperature";
const CLIENT_ID: &str = "wasmqtt-bench-client-0001";
const WILL_TOPIC: &str = "clients/wasmqtt-bench-client-0001/status";
const USERNAME: &str = "bench-user";
const PASSWORD: &str = "bench-password-0123456789";
const FILTERS: [(&str, QoS); 4] = [
    ("sensors/+/temperature", QoS::AtLeastOnce),
    ("alerts/#", QoS::ExactlyOnce),
    ("$SYS/broker/uptime", QoS::AtMostOnce),
    ("commands/wasmqtt-bench-client-0001/+", QoS::AtLeastOnce),
];
const USER_PROPS: [(&str, &str); 1] = [("app", "bench")];
const SUB_IDS: [u32; 1] = [12];

fn q4(q: QoS) -> Q4 {
    match q {
        QoS::AtMostOnce => Q4::AtMostOnce,
        QoS::AtLeastOnce => Q4::AtLeastOnce,
        QoS::ExactlyOnce => Q4::ExactlyOnce,
    }
}

fn q5(q: QoS) -> Q5 {
    match q {
        QoS::AtMostOnce => Q5::AtMostOnce,
        QoS::AtLeastOnce => Q5::AtLeastOnce,
        QoS::ExactlyOnce => Q5::ExactlyOnce,
    }
}

/// One packet in both libraries' forms.
#[allow(clippy::large_enum_variant)]
enum Theirs {
    V4(r4::Packet),
    V5(r5::Packet),
}

impl Theirs {
    fn write(&self, out: &mut BytesMut) -> usize {
        match self {
            Theirs::V4(p) => p.write(out, usize::MAX).unwrap(),
            Theirs::V5(p) => p.write(out, None).unwrap(),
        }
    }
}

/// rumqttc's side of an encode group: appending the packet to a cleared, reused `BytesMut`.
fn their_encode(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    theirs: &Theirs,
    size: usize,
) {
    let mut out = BytesMut::with_capacity(size);
    g.bench_function("rumqttc", |b| {
        b.iter(|| {
            out.clear();
            black_box(theirs).write(&mut out)
        })
    });
}

/// rumqttc's decode of the packet at the start of `buf`, looked at where it was returned and
/// dropped: as wasmqtt's decoded packet is looked at (by reference, not moved out).
#[inline(always)]
fn their_read4(buf: &mut BytesMut) {
    match &r4::Packet::read(buf, usize::MAX) {
        Ok(p) => {
            black_box(p);
        }
        Err(_) => unreachable!(),
    }
}

/// [`their_read4`] for MQTT 5.0.
#[inline(always)]
fn their_read5(buf: &mut BytesMut) {
    match &r5::Packet::read(buf, None) {
        Ok(p) => {
            black_box(p);
        }
        Err(_) => unreachable!(),
    }
}

fn publish_ours(payload: &[u8]) -> Packet<'_> {
    Packet::Publish(Publish {
        dup: false,
        qos: QoS::AtLeastOnce,
        retain: false,
        topic: black_box(TOPIC),
        packet_id: 4242,
        properties: Properties::EMPTY,
        payload,
    })
}

fn publish_theirs(v: ProtocolVersion, payload: &[u8]) -> Theirs {
    if v.is_v5() {
        let mut p = r5::Publish::new(
            black_box(TOPIC),
            Q5::AtLeastOnce,
            Bytes::copy_from_slice(payload),
            None,
        );
        p.pkid = 4242;
        Theirs::V5(r5::Packet::Publish(p))
    } else {
        let mut p = r4::Publish::from_bytes(
            black_box(TOPIC),
            Q4::AtLeastOnce,
            Bytes::copy_from_slice(payload),
        );
        p.pkid = 4242;
        Theirs::V4(r4::Packet::Publish(p))
    }
}

fn connect_ours(v: ProtocolVersion) -> Packet<'static> {
    let v5 = v.is_v5();
    let props = if v5 {
        Properties {
            session_expiry_interval: Some(3600),
            receive_maximum: Some(100),
            maximum_packet_size: Some(1 << 20),
            topic_alias_maximum: Some(16),
            user_properties: Seq::from_slice(&USER_PROPS),
            ..Properties::EMPTY
        }
    } else {
        Properties::EMPTY
    };
    let will_props = if v5 {
        Properties {
            will_delay_interval: Some(10),
            message_expiry_interval: Some(60),
            content_type: Some("text/plain"),
            ..Properties::EMPTY
        }
    } else {
        Properties::EMPTY
    };
    Packet::Connect(Connect {
        protocol: v,
        clean_start: true,
        keep_alive: 60,
        properties: props,
        client_id: black_box(CLIENT_ID),
        will: Some(Will {
            topic: black_box(WILL_TOPIC),
            payload: b"offline",
            qos: QoS::AtLeastOnce,
            retain: true,
            properties: will_props,
        }),
        username: Some(black_box(USERNAME)),
        password: Some(black_box(PASSWORD).as_bytes()),
    })
}

fn connect_theirs(v: ProtocolVersion) -> Theirs {
    if v.is_v5() {
        let connect = r5::Connect {
            keep_alive: 60,
            client_id: black_box(CLIENT_ID).into(),
            clean_start: true,
            properties: Some(r5::ConnectProperties {
                session_expiry_interval: Some(3600),
                receive_maximum: Some(100),
                max_packet_size: Some(1 << 20),
                topic_alias_max: Some(16),
                user_properties: vec![("app".into(), "bench".into())],
                ..r5::ConnectProperties::new()
            }),
        };
        let will = r5::LastWill::new(
            black_box(WILL_TOPIC),
            "offline",
            Q5::AtLeastOnce,
            true,
            Some(r5::LastWillProperties {
                delay_interval: Some(10),
                payload_format_indicator: None,
                message_expiry_interval: Some(60),
                content_type: Some("text/plain".into()),
                response_topic: None,
                correlation_data: None,
                user_properties: Vec::new(),
            }),
        );
        let login = r5::Login::new(black_box(USERNAME), black_box(PASSWORD));
        Theirs::V5(r5::Packet::Connect(connect, Some(will), Some(login)))
    } else {
        let mut c = r4::Connect::new(black_box(CLIENT_ID));
        c.keep_alive = 60;
        c.last_will = Some(r4::LastWill::new(
            black_box(WILL_TOPIC),
            "offline",
            Q4::AtLeastOnce,
            true,
        ));
        c.set_login(black_box(USERNAME), black_box(PASSWORD));
        Theirs::V4(r4::Packet::Connect(c))
    }
}

fn subscriptions(v: ProtocolVersion) -> Vec<Subscription<'static>> {
    FILTERS
        .iter()
        .enumerate()
        .map(|(i, &(filter, qos))| Subscription {
            filter,
            options: if v.is_v5() {
                SubscriptionOptions {
                    qos,
                    no_local: i == 3,
                    retain_as_published: i == 1,
                    retain_handling: if i == 0 {
                        RetainHandling::DoNotSend
                    } else {
                        RetainHandling::SendAtSubscribe
                    },
                }
            } else {
                SubscriptionOptions::qos(qos)
            },
        })
        .collect()
}

fn subscribe_ours<'a>(v: ProtocolVersion, subs: &'a [Subscription<'static>]) -> Packet<'a> {
    Packet::Subscribe(Subscribe {
        packet_id: 7,
        properties: if v.is_v5() {
            Properties {
                subscription_identifiers: Seq::from_slice(&SUB_IDS),
                user_properties: Seq::from_slice(&USER_PROPS),
                ..Properties::EMPTY
            }
        } else {
            Properties::EMPTY
        },
        subscriptions: Seq::from_slice(subs),
    })
}

fn subscribe_theirs(v: ProtocolVersion, subs: &[Subscription<'static>]) -> Theirs {
    if v.is_v5() {
        let filters = subs.iter().map(|s| r5::Filter {
            path: s.filter.into(),
            qos: q5(s.options.qos),
            nolocal: s.options.no_local,
            preserve_retain: s.options.retain_as_published,
            retain_forward_rule: match s.options.retain_handling {
                RetainHandling::SendAtSubscribe => r5::RetainForwardRule::OnEverySubscribe,
                RetainHandling::SendIfNew => r5::RetainForwardRule::OnNewSubscribe,
                RetainHandling::DoNotSend => r5::RetainForwardRule::Never,
            },
        });
        let props = r5::SubscribeProperties {
            id: Some(12),
            user_properties: vec![("app".into(), "bench".into())],
        };
        let mut s = r5::Subscribe::new_many(filters, Some(props));
        s.pkid = 7;
        Theirs::V5(r5::Packet::Subscribe(s))
    } else {
        let mut s = r4::Subscribe::new_many(
            subs.iter()
                .map(|s| r4::SubscribeFilter::new(s.filter.into(), q4(s.options.qos))),
        );
        s.pkid = 7;
        Theirs::V4(r4::Packet::Subscribe(s))
    }
}

/// Encode and decode benchmarks of one case, after checking both sides agree on it.
/// `build_ours` and `build_theirs` make the packet from the application's borrowed data.
fn bench_case<'a>(
    c: &mut Criterion,
    v: ProtocolVersion,
    name: &str,
    build_ours: impl Fn() -> Packet<'a>,
    build_theirs: impl Fn() -> Theirs,
) {
    let tag = if v.is_v5() { "v5" } else { "v4" };
    let (ours, theirs) = (&build_ours(), &build_theirs());

    // Both encodings decode to the same thing on the other side; sizes match.
    let mut wire = Vec::new();
    let size = ours.encode(v, &mut wire).unwrap();
    let mut their_wire = BytesMut::new();
    assert_eq!(
        theirs.write(&mut their_wire),
        size,
        "{tag} {name}: sizes differ"
    );
    let decoder = Decoder::new(v);
    assert_eq!(decoder.decode(&their_wire).unwrap().unwrap().0, *ours);
    match theirs {
        Theirs::V4(p) => assert_eq!(
            r4::Packet::read(&mut BytesMut::from(&wire[..]), usize::MAX).unwrap(),
            *p
        ),
        Theirs::V5(p) => assert_eq!(
            r5::Packet::read(&mut BytesMut::from(&wire[..]), None).unwrap(),
            *p
        ),
    }

    // Inputs are made before timing; a batch of them must stay small enough for the caches.
    let batch = BatchSize::NumIterations(match size {
        0..=256 => 4096,
        257..=4096 => 512,
        _ => 32,
    });

    let mut g = c.benchmark_group(format!("encode/{tag}/{name}"));
    g.throughput(Throughput::Bytes(size as u64));
    let mut out: Vec<u8> = Vec::with_capacity(size);
    g.bench_function("wasmqtt", |b| {
        b.iter(|| {
            out.clear();
            black_box(ours).encode(v, &mut out).unwrap()
        })
    });
    their_encode(&mut g, theirs, size);
    g.finish();

    // The same packet checked once beforehand (`Packet::check`), then only written: what a
    // packet sent more than once costs each time after the first.
    let mut g = c.benchmark_group(format!("checked-encode/{tag}/{name}"));
    g.throughput(Throughput::Bytes(size as u64));
    let checked = ours.check(v, MAX_PACKET_SIZE).unwrap();
    let mut out: Vec<u8> = Vec::with_capacity(size);
    g.bench_function("wasmqtt", |b| {
        b.iter(|| {
            out.clear();
            black_box(&checked).encode(&mut out)
        })
    });
    their_encode(&mut g, theirs, size);
    g.finish();

    // The whole job of sending: building the packet from borrowed data (rumqttc copies it
    // into `String`s and `Bytes`; wasmqtt borrows it), encoding it, dropping the packet.
    let mut g = c.benchmark_group(format!("build+encode/{tag}/{name}"));
    g.throughput(Throughput::Bytes(size as u64));
    let mut out: Vec<u8> = Vec::with_capacity(size);
    g.bench_function("wasmqtt", |b| {
        b.iter(|| {
            out.clear();
            build_ours().encode(v, &mut out).unwrap()
        })
    });
    let mut out = BytesMut::with_capacity(size);
    g.bench_function("rumqttc", |b| {
        b.iter(|| {
            out.clear();
            build_theirs().write(&mut out)
        })
    });
    g.finish();

    let mut g = c.benchmark_group(format!("decode/{tag}/{name}"));
    g.throughput(Throughput::Bytes(size as u64));
    g.bench_function("wasmqtt", |b| {
        b.iter_batched(
            || (),
            |()| match &decoder.decode(black_box(&wire)) {
                Ok(Some((p, n))) => {
                    black_box(p);
                    *n
                }
                _ => unreachable!(),
            },
            batch,
        )
    });
    g.bench_function("rumqttc", |b| {
        b.iter_batched(
            || BytesMut::from(&wire[..]),
            |mut buf| {
                match theirs {
                    Theirs::V4(_) => their_read4(&mut buf),
                    Theirs::V5(_) => their_read5(&mut buf),
                }
                buf
            },
            batch,
        )
    });
    g.finish();
}

fn codec(c: &mut Criterion) {
    let payloads: Vec<(&str, Vec<u8>)> = [
        ("publish_16B", 16),
        ("publish_1KiB", 1024),
        ("publish_64KiB", 65536),
    ]
    .into_iter()
    .map(|(n, len)| (n, (0..len).map(|i| (i * 31 + 7) as u8).collect()))
    .collect();
    for v in [ProtocolVersion::V311, ProtocolVersion::V5] {
        for (name, payload) in &payloads {
            let payload = &payload[..];
            bench_case(
                c,
                v,
                name,
                || publish_ours(black_box(payload)),
                || publish_theirs(v, black_box(payload)),
            );
        }
        bench_case(c, v, "connect", || connect_ours(v), || connect_theirs(v));
        let subs = &subscriptions(v)[..];
        bench_case(
            c,
            v,
            "subscribe",
            || subscribe_ours(v, black_box(subs)),
            || subscribe_theirs(v, black_box(subs)),
        );
    }
}

criterion_group!(benches, codec);

/// Instruction counts instead of times, for a noisy machine: with `WASMQTT_CALLGRIND=ITERS` set,
/// each case below runs `ITERS` times in a function of its own, so that
/// `valgrind --tool=callgrind target/release/deps/codec-* ` then
/// `callgrind_annotate --inclusive=yes` give its instructions per call (divide by `ITERS`).
/// Identical functions may be merged by the compiler: `WASMQTT_CALLGRIND_CASE=cg_encode_v4_connect`
/// runs one case alone, whose cost is then the difference of the totals of two `ITERS`.
/// The v5 PUBLISH carries properties here (message expiry, content type, a user property).
fn callgrind(iters: usize, only: &str) {
    let payload: Vec<u8> = (0..16).map(|i| (i * 31 + 7) as u8).collect();
    let v4 = ProtocolVersion::V311;
    let v5 = ProtocolVersion::V5;
    let pub4 = publish_ours(&payload);
    let pub5 = Packet::Publish(Publish {
        dup: false,
        qos: QoS::AtLeastOnce,
        retain: false,
        topic: black_box(TOPIC),
        packet_id: 4242,
        properties: Properties {
            message_expiry_interval: Some(60),
            content_type: Some("text/plain"),
            user_properties: Seq::from_slice(&USER_PROPS),
            ..Properties::EMPTY
        },
        payload: &payload,
    });
    let (con4, con5) = (connect_ours(v4), connect_ours(v5));
    let (subs4, subs5) = (subscriptions(v4), subscriptions(v5));
    let (sub4, sub5) = (subscribe_ours(v4, &subs4), subscribe_ours(v5, &subs5));
    macro_rules! cases {
        ($($enc:ident $chk:ident $dec:ident $v:ident $p:ident;)*) => {$(
            #[inline(never)]
            fn $enc(p: &Packet<'_>, v: ProtocolVersion, iters: usize) -> usize {
                let mut out = Vec::with_capacity(256);
                let mut n = 0;
                for _ in 0..iters {
                    out.clear();
                    n += black_box(p).encode(v, &mut out).unwrap();
                }
                n
            }
            #[inline(never)]
            fn $chk(p: &Packet<'_>, v: ProtocolVersion, iters: usize) -> usize {
                let checked = p.check(v, MAX_PACKET_SIZE).unwrap();
                let mut out = Vec::with_capacity(256);
                let mut n = 0;
                for _ in 0..iters {
                    out.clear();
                    n += black_box(&checked).encode(&mut out);
                }
                n
            }
            #[inline(never)]
            fn $dec(wire: &[u8], v: ProtocolVersion, iters: usize) -> usize {
                let d = Decoder::new(v);
                let mut n = 0;
                for _ in 0..iters {
                    match &d.decode(black_box(wire)) {
                        Ok(Some((p, used))) => {
                            black_box(p);
                            n += used
                        }
                        _ => unreachable!(),
                    }
                }
                n
            }
            let mut wire = Vec::new();
            $p.encode($v, &mut wire).unwrap();
            if only.is_empty() || only == stringify!($enc) {
                black_box($enc(&$p, $v, iters));
            }
            if only.is_empty() || only == stringify!($chk) {
                black_box($chk(&$p, $v, iters));
            }
            if only.is_empty() || only == stringify!($dec) {
                black_box($dec(&wire, $v, iters));
            }
        )*};
    }
    // rumqttc on the same packets: `cg_theirs_decode_*` includes making the `BytesMut` that
    // `Packet::read` consumes, which `cg_theirs_setup_*` does alone (subtract it).
    macro_rules! theirs {
        ($($enc:ident $dec:ident $setup:ident $t:ident;)*) => {$(
            #[inline(never)]
            fn $enc(p: &Theirs, iters: usize) -> usize {
                let mut out = BytesMut::with_capacity(256);
                let mut n = 0;
                for _ in 0..iters {
                    out.clear();
                    n += black_box(p).write(&mut out);
                }
                n
            }
            #[inline(never)]
            fn $dec(p: &Theirs, wire: &[u8], iters: usize) -> usize {
                let mut n = 0;
                for _ in 0..iters {
                    let mut buf = BytesMut::from(black_box(wire));
                    match p {
                        Theirs::V4(_) => their_read4(&mut buf),
                        Theirs::V5(_) => their_read5(&mut buf),
                    }
                    n += black_box(buf).len();
                }
                n
            }
            #[inline(never)]
            fn $setup(wire: &[u8], iters: usize) -> usize {
                let mut n = 0;
                for _ in 0..iters {
                    let buf = BytesMut::from(black_box(wire));
                    n += black_box(buf).len();
                }
                n
            }
            let mut wire = BytesMut::new();
            $t.write(&mut wire);
            if only.is_empty() || only == stringify!($enc) {
                black_box($enc(&$t, iters));
            }
            if only.is_empty() || only == stringify!($dec) {
                black_box($dec(&$t, &wire, iters));
            }
            if only.is_empty() || only == stringify!($setup) {
                black_box($setup(&wire, iters));
            }
        )*};
    }
    let their_pub4 = publish_theirs(v4, &payload);
    let their_pub5 = {
        let mut p = r5::Publish::new(
            TOPIC,
            Q5::AtLeastOnce,
            Bytes::copy_from_slice(&payload),
            Some(r5::PublishProperties {
                message_expiry_interval: Some(60),
                content_type: Some("text/plain".into()),
                user_properties: vec![("app".into(), "bench".into())],
                ..Default::default()
            }),
        );
        p.pkid = 4242;
        Theirs::V5(r5::Packet::Publish(p))
    };
    let (their_con4, their_con5) = (connect_theirs(v4), connect_theirs(v5));
    let (their_sub4, their_sub5) = (subscribe_theirs(v4, &subs4), subscribe_theirs(v5, &subs5));
    theirs! {
        cg_theirs_encode_v4_publish16 cg_theirs_decode_v4_publish16 cg_theirs_setup_v4_publish16 their_pub4;
        cg_theirs_encode_v5_publish16_props cg_theirs_decode_v5_publish16_props cg_theirs_setup_v5_publish16_props their_pub5;
        cg_theirs_encode_v4_connect cg_theirs_decode_v4_connect cg_theirs_setup_v4_connect their_con4;
        cg_theirs_encode_v5_connect cg_theirs_decode_v5_connect cg_theirs_setup_v5_connect their_con5;
        cg_theirs_encode_v4_subscribe cg_theirs_decode_v4_subscribe cg_theirs_setup_v4_subscribe their_sub4;
        cg_theirs_encode_v5_subscribe cg_theirs_decode_v5_subscribe cg_theirs_setup_v5_subscribe their_sub5;
    }
    cases! {
        cg_encode_v4_publish16 cg_checked_encode_v4_publish16 cg_decode_v4_publish16 v4 pub4;
        cg_encode_v5_publish16_props cg_checked_encode_v5_publish16_props cg_decode_v5_publish16_props v5 pub5;
        cg_encode_v4_connect cg_checked_encode_v4_connect cg_decode_v4_connect v4 con4;
        cg_encode_v5_connect cg_checked_encode_v5_connect cg_decode_v5_connect v5 con5;
        cg_encode_v4_subscribe cg_checked_encode_v4_subscribe cg_decode_v4_subscribe v4 sub4;
        cg_encode_v5_subscribe cg_checked_encode_v5_subscribe cg_decode_v5_subscribe v5 sub5;
    }
}

fn main() {
    if let Some(iters) = std::env::var("WASMQTT_CALLGRIND")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        let only = std::env::var("WASMQTT_CALLGRIND_CASE").unwrap_or_default();
        return callgrind(iters, &only);
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
