//! `Options::validate` and the stable error codes of the core's error types.

use crate::common::*;
use wasmqtt::session::OptionsError;

#[test]
fn default_and_builder_options_are_valid() {
    assert_eq!(Options::default().validate(), Ok(()));
    assert_eq!(Options::new("meter-1").validate(), Ok(()));
    for v in VERSIONS {
        assert_eq!(opts(v).validate(), Ok(()), "{v}");
    }
}

#[test]
fn every_unusable_option_is_a_typed_error() {
    type Edit = fn(&mut Options);
    let cases: &[(Edit, OptionsError)] = &[
        (|o| o.max_inflight = 0, OptionsError::MaxInflightZero),
        (|o| o.receive_maximum = 0, OptionsError::ReceiveMaximumZero),
        (
            |o| o.max_queued_messages = 0,
            OptionsError::QueueMessagesZero,
        ),
        (|o| o.max_queued_bytes = 0, OptionsError::QueueBytesZero),
        (
            |o| o.max_pending_write_bytes = 0,
            OptionsError::PendingWriteBytesZero,
        ),
        (|o| o.max_packet_size = 15, OptionsError::MaxPacketSize(15)),
        (
            |o| o.max_packet_size = u32::MAX,
            OptionsError::MaxPacketSize(u32::MAX),
        ),
        (
            |o| o.connect_timeout_ms = 0,
            OptionsError::ConnectTimeoutZero,
        ),
        (
            |o| o.ping_timeout_ms = Some(0),
            OptionsError::PingTimeoutZero,
        ),
        (
            |o| o.reconnect.multiplier = 0,
            OptionsError::BackoffMultiplierZero,
        ),
        (
            |o| o.reconnect.jitter_percent = 101,
            OptionsError::JitterOver100(101),
        ),
        (
            |o| {
                o.reconnect.initial_delay_ms = 5_000;
                o.reconnect.max_delay_ms = 1_000;
            },
            OptionsError::BackoffCapBelowInitial {
                initial: 5_000,
                max: 1_000,
            },
        ),
        (
            |o| o.will = Some(LastWill::new("a/+/b", b"x".to_vec())),
            OptionsError::WillTopic(wasmqtt::topic::TopicError::WildcardInName),
        ),
        (
            |o| {
                o.version = V311;
                o.client_id.clear();
                o.clean_start = false;
            },
            OptionsError::EmptyClientIdWithoutCleanStart,
        ),
        (
            |o| {
                o.version = V311;
                o.password = Some(b"secret".to_vec());
            },
            OptionsError::PasswordWithoutUsername,
        ),
        (
            |o| o.authentication_data = Some(b"x".to_vec()),
            OptionsError::AuthenticationDataWithoutMethod,
        ),
    ];
    for (edit, expected) in cases {
        let mut o = Options::new("c");
        edit(&mut o);
        assert_eq!(o.validate().as_ref(), Err(expected), "{expected}");
        let code = expected.code();
        if matches!(expected, OptionsError::WillTopic(_)) {
            assert_eq!(code, "INVALID_TOPIC");
        } else {
            assert_eq!(code, "INVALID_ARGUMENT", "{expected}");
        }
    }
    // The same values are fine where they mean something: v5 allows an empty client id
    // without clean start (the broker assigns one) and a password alone.
    let mut o = Options::new("").clean_start(false);
    o.password = Some(b"secret".to_vec());
    assert_eq!(o.validate(), Ok(()));
}

/// The codes are a contract (the browser driver hands them to JavaScript): spelled out here.
#[test]
fn error_codes_are_stable() {
    let publish: &[(PublishError, &str)] = &[
        (
            PublishError::InvalidTopic(wasmqtt::topic::TopicError::Empty),
            "INVALID_TOPIC",
        ),
        (
            PublishError::QueueFull {
                messages: 1,
                bytes: 2,
            },
            "QUEUE_FULL",
        ),
        (PublishError::WouldBlock, "WOULD_BLOCK"),
        (
            PublishError::TooLarge(EncodeError::PacketTooLarge { size: 9, max: 8 }),
            "TOO_LARGE",
        ),
        (
            PublishError::Invalid(EncodeError::UnexpectedAuth),
            "INVALID_MESSAGE",
        ),
        (PublishError::QoSNotSupported(Q0), "QOS_NOT_SUPPORTED"),
        (PublishError::RetainNotSupported, "RETAIN_NOT_SUPPORTED"),
        (PublishError::Rejected(ReasonCode(0x87)), "REJECTED"),
        (PublishError::SessionClosed, "SESSION_CLOSED"),
    ];
    for (e, code) in publish {
        assert_eq!(e.code(), *code, "{e:?}");
    }
    let request: &[(RequestError, &str)] = &[
        (
            RequestError::InvalidFilter(wasmqtt::topic::TopicError::Empty),
            "INVALID_FILTER",
        ),
        (RequestError::Empty, "INVALID_FILTER"),
        (
            RequestError::Invalid(EncodeError::UnexpectedAuth),
            "INVALID_REQUEST",
        ),
        (RequestError::QueueFull, "QUEUE_FULL"),
        (RequestError::SessionClosed, "SESSION_CLOSED"),
    ];
    for (e, code) in request {
        assert_eq!(e.code(), *code, "{e:?}");
    }
    let disconnect: &[(DisconnectReason, &str)] = &[
        (DisconnectReason::ConnectionLost, "CONNECTION_LOST"),
        (
            DisconnectReason::Refused {
                code: ReasonCode(0x86),
                version: wasmqtt::codec::ProtocolVersion::V5,
                reason: None,
            },
            "CONNECTION_REFUSED",
        ),
        (
            DisconnectReason::ByServer {
                code: ReasonCode(0x8B),
                reason: None,
                server_reference: None,
            },
            "DISCONNECTED_BY_BROKER",
        ),
        (DisconnectReason::ConnectTimeout, "CONNECT_TIMEOUT"),
        (DisconnectReason::KeepAliveTimeout, "KEEPALIVE_TIMEOUT"),
        (
            DisconnectReason::ProtocolError(ProtocolViolation::ReceiveMaximumExceeded),
            "PROTOCOL_ERROR",
        ),
        (DisconnectReason::ByClient, "CLOSED"),
    ];
    for (e, code) in disconnect {
        assert_eq!(e.code(), *code, "{e:?}");
    }
}
