//! `Qos0Budget`: the rule for a driver's own queue of received messages.

use wasmqtt::codec::QoS;
use wasmqtt::session::Qos0Budget;

#[test]
fn qos0_past_the_cap_is_dropped_and_counted_qos1_and_2_never() {
    let mut b = Qos0Budget::default();
    assert_eq!(b.max(), Qos0Budget::DEFAULT_MAX);
    for _ in 0..Qos0Budget::DEFAULT_MAX {
        assert!(b.admit(QoS::AtMostOnce));
    }
    for _ in 0..5 {
        assert!(!b.admit(QoS::AtMostOnce));
        assert!(b.admit(QoS::AtLeastOnce));
        assert!(b.admit(QoS::ExactlyOnce));
    }
    assert_eq!((b.queued(), b.dropped()), (Qos0Budget::DEFAULT_MAX, 5));
    // QoS 1/2 leaving the queue frees no QoS 0 room.
    b.release(QoS::AtLeastOnce);
    b.release(QoS::ExactlyOnce);
    assert!(!b.admit(QoS::AtMostOnce));
    b.release(QoS::AtMostOnce);
    assert!(b.admit(QoS::AtMostOnce));
    assert_eq!((b.queued(), b.dropped()), (Qos0Budget::DEFAULT_MAX, 6));
}

#[test]
fn a_zero_cap_keeps_no_qos0_and_releases_never_underflow() {
    let mut b = Qos0Budget::new(0);
    assert!(!b.admit(QoS::AtMostOnce));
    assert!(b.admit(QoS::AtLeastOnce));
    b.release(QoS::AtMostOnce);
    b.release(QoS::AtMostOnce);
    assert_eq!((b.queued(), b.dropped()), (0, 1));
    let mut one = Qos0Budget::new(1);
    assert!(one.admit(QoS::AtMostOnce));
    assert!(!one.admit(QoS::AtMostOnce));
}
