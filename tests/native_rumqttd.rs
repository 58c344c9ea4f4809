//! The native driver (`wasmqtt_tokio`) against a second real peer, an embedded rumqttd
//! (`support::rumqttd`), in MQTT 3.1.1 and 5.0: round trips at QoS 0, 1 and 2.

mod native_support;
use wasmqtt_testkit as support;

use native_support::*;
use support::rumqttd::Rumqttd;
use wasmqtt::codec::{ProtocolVersion, QoS};

async fn round_trip_at_every_qos(version: ProtocolVersion) {
    let broker = Rumqttd::shared();
    let addr = broker.addr(version).to_string();
    let (subscriber, mut sub_events, info) =
        connect(&addr, options(&client_id("rumqttd-sub", version), version)).await;
    assert!(!info.session_present);
    let (publisher, _pub_events, _) =
        connect(&addr, options(&client_id("rumqttd-pub", version), version)).await;
    // rumqttd 0.20 forwards every message at the QoS of the subscription instead of the lower
    // of that and the published QoS (MQTT-3.8.4-8 / 3.1.1 §3.8.4; `publish.qos = qos` in its
    // router's `forward_device_data`): a QoS 0 message to a QoS 2 subscriber arrives at QoS 2.
    // So each QoS gets its own topic, subscribed at that QoS.
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let topic = format!("wasmqtt/rumqttd/{version:?}/qos{}", qos as u8);
        subscribe(&subscriber, &topic, qos).await;
        round_trip(&publisher, &mut sub_events, &topic, qos).await;
    }
    within("the publisher to disconnect", publisher.disconnect()).await;
    within("the subscriber to disconnect", subscriber.disconnect()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trip_v311() {
    round_trip_at_every_qos(ProtocolVersion::V311).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trip_v5() {
    round_trip_at_every_qos(ProtocolVersion::V5).await;
}
