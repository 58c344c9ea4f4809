//! The `wasi:messaging` provider component: `wasi:messaging@0.2.0-draft`'s `types`, `producer`
//! and `request-reply` over MQTT 5.0, plus `wasmqtt:mqtt/messaging-consumer` for the runner that
//! calls an app's `incoming-handler` (wit/messaging.wit). The protocol is the core's session on
//! the WASI driver, as in the `wasmqtt:mqtt` provider; this crate maps the proposal's calls
//! onto it (module [`mapping`]) and waits for their outcomes (module [`connection`]).
//!
//! - `client.connect(name)`: `name` is a broker URL (`mqtt://host:1883`, `ws://`, `mqtts://`,
//!   `wss://`; several separated by commas form a failover list), or a name whose URL is the
//!   environment variable `WASMQTT_BROKER_<NAME>` (upper case, other characters than letters
//!   and digits as `_`), else `WASMQTT_BROKER`. Every client of one name shares one MQTT 5.0
//!   connection; the last `disconnect` (or drop) closes it.
//! - `producer.send` publishes and returns once the broker has the message (QoS 1: PUBACK,
//!   QoS 2: PUBCOMP, QoS 0: written); see [`mapping`] for QoS, retain and metadata.
//! - `request-reply.request` is MQTT 5.0 request/response (the core's: a response topic of the
//!   session's, fresh correlation data); `reply` answers a received request on its response
//!   topic with its correlation data.
//!
//! Built with `cargo build --profile wasm --target wasm32-wasip2 -p wasmqtt-messaging` into
//! `target/wasm32-wasip2/wasm/wasmqtt_messaging.wasm`.

extern crate alloc;

wit_bindgen::generate!({
    path: "../../wit",
    world: "messaging-provider",
});

mod connection;
mod mapping;

use alloc::rc::Rc;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::cell::RefCell;

use connection::Shared;
use exports::wasi::messaging::types::{self as t, Error};
use exports::wasmqtt::mqtt::messaging_consumer as consumer;
use mapping::MessageData;
use wasmqtt::session::{self, ResponseError};

struct Provider;

/// A `wasi:messaging/types.client`: a handle on the shared connection of its name.
pub struct ClientImpl {
    conn: RefCell<Option<Shared>>,
}

impl ClientImpl {
    fn conn(&self) -> Result<Shared, Error> {
        self.conn
            .borrow()
            .clone()
            .ok_or_else(|| Error::Connection("this client was disconnected".to_string()))
    }
}

impl Drop for ClientImpl {
    fn drop(&mut self) {
        if let Some(c) = self.conn.get_mut().take() {
            connection::release(&c);
        }
    }
}

/// A `wasi:messaging/types.message`.
pub struct MessageImpl {
    data: RefCell<MessageData>,
}

/// `request-reply.request-options`.
pub struct RequestOptionsImpl {
    timeout_ms: core::cell::Cell<Option<u32>>,
    expected_replies: core::cell::Cell<Option<u32>>,
}

impl t::Guest for Provider {
    type Client = ClientImpl;
    type Message = MessageImpl;
}

impl t::GuestClient for ClientImpl {
    fn connect(name: String) -> Result<t::Client, Error> {
        let conn = connection::acquire(&name)?;
        Ok(t::Client::new(ClientImpl {
            conn: RefCell::new(Some(conn)),
        }))
    }

    fn disconnect(&self) -> Result<(), Error> {
        let conn = self.conn.borrow_mut().take();
        match conn {
            Some(c) => {
                connection::release(&c);
                Ok(())
            }
            None => Err(Error::Connection(
                "this client was disconnected already".to_string(),
            )),
        }
    }
}

impl t::GuestMessage for MessageImpl {
    fn new(data: Vec<u8>) -> Self {
        MessageImpl {
            data: RefCell::new(MessageData::new(data)),
        }
    }
    fn topic(&self) -> Option<String> {
        self.data.borrow().topic.clone()
    }
    fn content_type(&self) -> Option<String> {
        self.data.borrow().content_type.clone()
    }
    fn set_content_type(&self, content_type: String) {
        self.data.borrow_mut().content_type = Some(content_type);
    }
    fn data(&self) -> Vec<u8> {
        self.data.borrow().data.clone()
    }
    fn set_data(&self, data: Vec<u8>) {
        self.data.borrow_mut().data = data;
    }
    fn metadata(&self) -> Option<t::Metadata> {
        let d = self.data.borrow();
        (!d.metadata.is_empty()).then(|| d.metadata.clone())
    }
    fn add_metadata(&self, key: String, value: String) {
        let mut d = self.data.borrow_mut();
        match d.metadata.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => d.metadata.push((key, value)),
        }
    }
    fn set_metadata(&self, meta: t::Metadata) {
        self.data.borrow_mut().metadata = meta;
    }
    fn remove_metadata(&self, key: String) {
        self.data.borrow_mut().metadata.retain(|(k, _)| *k != key);
    }
}

impl exports::wasi::messaging::producer::Guest for Provider {
    fn send(c: t::ClientBorrow<'_>, topic: String, message: t::Message) -> Result<(), Error> {
        let conn = c.get::<ClientImpl>().conn()?;
        let m = mapping::outgoing(&message.get::<MessageImpl>().data.borrow(), topic, None)?;
        let mut conn = conn.borrow_mut();
        let now = conn.client.now_ms();
        let id = conn
            .client
            .session()
            .publish(m, now)
            .map_err(mapping::publish_error)?;
        conn.client.flush();
        conn.wait_publish(id)
    }
}

impl exports::wasi::messaging::request_reply::Guest for Provider {
    type RequestOptions = RequestOptionsImpl;

    fn request(
        c: t::ClientBorrow<'_>,
        topic: String,
        message: t::MessageBorrow<'_>,
        options: Option<exports::wasi::messaging::request_reply::RequestOptions>,
    ) -> Result<Vec<t::Message>, Error> {
        let (timeout_ms, expected) = match &options {
            Some(o) => {
                let o = o.get::<RequestOptionsImpl>();
                (o.timeout_ms.get(), o.expected_replies.get())
            }
            None => (None, None),
        };
        match expected {
            None | Some(1) => {}
            Some(0) => {
                return Err(Error::Other(
                    "request-options: expected-replies must be at least 1".to_string(),
                ))
            }
            Some(n) => {
                return Err(Error::Other(alloc::format!(
                    "request-options: expected-replies {n} is not supported: an MQTT 5.0 request \
                     (correlation data) gets one reply here; send {n} requests instead"
                )))
            }
        }
        let shared = c.get::<ClientImpl>().conn()?;
        let m = mapping::outgoing(&message.get::<MessageImpl>().data.borrow(), topic, None)?;
        let mut conn = shared.borrow_mut();
        let now = conn.client.now_ms();
        // No timeout: wait until a reply comes (the proposal's default), or the session ends.
        let timeout = timeout_ms.map_or(u64::MAX, u64::from);
        let id = conn
            .client
            .session()
            .request(m, timeout, now)
            .map_err(mapping::response_error)?;
        conn.client.flush();
        match conn.wait_response(id)? {
            Ok(reply) => Ok(alloc::vec![t::Message::new(MessageImpl {
                data: RefCell::new(MessageData::received(reply, Rc::downgrade(&shared))),
            })]),
            Err(ResponseError::Timeout(_)) => Err(Error::Timeout),
            Err(e) => Err(mapping::response_error(e)),
        }
    }

    fn reply(reply_to: t::MessageBorrow<'_>, message: t::Message) -> Result<(), Error> {
        let request = reply_to.get::<MessageImpl>().data.borrow().as_request()?;
        let shared = reply_to
            .get::<MessageImpl>()
            .data
            .borrow()
            .origin
            .as_ref()
            .and_then(|w| w.upgrade())
            .ok_or_else(|| {
                Error::Connection(
                    "reply-to: the connection it was received on is closed".to_string(),
                )
            })?;
        let response = mapping::outgoing(
            &message.get::<MessageImpl>().data.borrow(),
            String::new(),
            Some(request.message.qos),
        )?;
        let mut conn = shared.borrow_mut();
        let now = conn.client.now_ms();
        let id = conn
            .client
            .session()
            .respond_with(&request, response, now)
            .map_err(mapping::response_error)?;
        conn.client.flush();
        conn.wait_publish(id)
    }
}

impl exports::wasi::messaging::request_reply::GuestRequestOptions for RequestOptionsImpl {
    fn new() -> Self {
        RequestOptionsImpl {
            timeout_ms: core::cell::Cell::new(None),
            expected_replies: core::cell::Cell::new(None),
        }
    }
    fn set_timeout_ms(&self, timeout_ms: u32) {
        self.timeout_ms.set(Some(timeout_ms));
    }
    fn set_expected_replies(&self, expected_replies: u32) {
        self.expected_replies.set(Some(expected_replies));
    }
}

impl consumer::Guest for Provider {
    fn subscribe(
        c: t::ClientBorrow<'_>,
        filters: Vec<String>,
        qos: consumer::Qos,
    ) -> Result<(), Error> {
        let conn = c.get::<ClientImpl>().conn()?;
        let mut conn = conn.borrow_mut();
        let q = mapping::consumer_qos(qos);
        let subs: Vec<_> = filters
            .iter()
            .map(|f| (f.clone(), wasmqtt::codec::SubscriptionOptions::qos(q)))
            .collect();
        let now = conn.client.now_ms();
        let id = conn
            .client
            .session()
            .subscribe(subs, None, now)
            .map_err(|e| match mapping::request_error(e) {
                Error::Other(text) => {
                    Error::Other(alloc::format!("{text} (filters: {})", filters.join(" ")))
                }
                e => e,
            })?;
        conn.client.flush();
        let codes = conn.wait_request(id)?;
        for (filter, code) in filters.iter().zip(&codes) {
            if code.0 >= 0x80 {
                return Err(mapping::refused(
                    code.0,
                    alloc::format!(
                        "the broker refused the subscription to '{filter}': {} (0x{:02x})",
                        code.name().unwrap_or("failure"),
                        code.0
                    ),
                ));
            }
        }
        Ok(())
    }

    fn receive(
        c: t::ClientBorrow<'_>,
        max: u32,
        timeout_ms: u64,
    ) -> Result<Vec<consumer::Delivery>, Error> {
        let shared = c.get::<ClientImpl>().conn()?;
        let mut conn = shared.borrow_mut();
        conn.wait_inbox(timeout_ms)?;
        let mut out = Vec::new();
        while out.len() < max.max(1) as usize {
            let Some(m) = conn.take() else {
                break;
            };
            let ack_id = m.ack.map(|a| a.0);
            out.push(consumer::Delivery {
                ack_id,
                message: t::Message::new(MessageImpl {
                    data: RefCell::new(MessageData::received(m, Rc::downgrade(&shared))),
                }),
            });
        }
        Ok(out)
    }

    fn ack(c: t::ClientBorrow<'_>, ack_id: u64) -> Result<(), Error> {
        let conn = c.get::<ClientImpl>().conn()?;
        let mut conn = conn.borrow_mut();
        let now = conn.client.now_ms();
        conn.client
            .session()
            .ack(session::AckId(ack_id), now)
            .map_err(|e| Error::Other(alloc::format!("ack {ack_id}: {e} ({})", e.code())))?;
        conn.client.flush();
        Ok(())
    }
}

export!(Provider);
