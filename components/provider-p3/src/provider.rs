//! The exports and the driver task (see the crate docs).

use std::cell::RefCell;
use std::rc::Rc;

use futures::channel::{mpsc, oneshot};
use futures::future::{select, Either};
use futures::{SinkExt, StreamExt};

use wasip3::clocks::monotonic_clock;
use wasip3::sockets::ip_name_lookup::resolve_addresses;
use wasip3::sockets::types::{
    IpAddress, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress, Ipv6SocketAddress, TcpSocket,
};
use wit_bindgen::StreamResult;

use wasmqtt::broker::{Broker, Scheme};
use wasmqtt::codec::{ProtocolVersion, QoS, SubscriptionOptions};
use wasmqtt::session::{
    self, AckId, Completions, DisconnectReason, Event, Outcome, Output, PublishError, Qos0Budget,
    RequestError, Session, State,
};

wit_bindgen::generate!({
    path: "../../wit/v0.2",
    world: "provider",
});

use exports::wasmqtt::mqtt::client::{Client, Guest, GuestClient};
use exports::wasmqtt::mqtt::types::{self as t, Error};

struct Provider;

impl Guest for Provider {
    type Client = ClientImpl;
}

/// What the driver task reads: socket bytes (of connection `gen`), the socket's end, or a
/// wake-up after an application call.
enum Input {
    Bytes(u64, Vec<u8>),
    Lost(u64, String),
    Wake,
}

/// A received message for one subscription stream, with its acknowledgement.
type Delivery = (session::Message, Option<AckId>);

struct Sub {
    filters: Vec<String>,
    queue: mpsc::UnboundedSender<Delivery>,
    /// The QoS 0 messages waiting in `queue` (the core's rule for a queue of its own).
    qos0: Rc<RefCell<Qos0Budget>>,
}

struct Inner {
    session: Session,
    epoch: u64,
    wake: mpsc::UnboundedSender<Input>,
    /// Where connections' reader tasks send what they read: bounded, so that a broker sending
    /// faster than the driver takes it is held back by TCP (at most [`READ_CHUNKS_QUEUED`]
    /// chunks of up to 16 KiB wait), not by this component's memory.
    bytes: mpsc::Sender<Input>,
    woken: bool,
    first: Option<oneshot::Sender<Result<(), Error>>>,
    /// Who waits for which publish or SUBSCRIBE: the core's table, settled by its events.
    pending: Completions<oneshot::Sender<Outcome>>,
    subs: Vec<Sub>,
    closed: Vec<oneshot::Sender<()>>,
    ended: bool,
}

impl Inner {
    fn now(&self) -> u64 {
        monotonic_clock::now().saturating_sub(self.epoch) / 1_000_000
    }

    /// Wakes the driver once after application calls (one message however many calls).
    fn wake(&mut self) {
        if !self.woken {
            self.woken = true;
            let _ = self.wake.unbounded_send(Input::Wake);
        }
    }

    /// Hands one session event to whoever waits for it.
    fn route(&mut self, e: Event) {
        if let Some((tx, outcome)) = self.pending.settle(&e) {
            let _ = tx.send(outcome);
            return;
        }
        match e {
            Event::Connected(_) => {
                if let Some(f) = self.first.take() {
                    let _ = f.send(Ok(()));
                }
            }
            Event::Disconnected { reason, .. } if self.session.state() == State::Closed => {
                if let Some(f) = self.first.take() {
                    let _ = f.send(Err(connect_error(reason)));
                }
            }
            Event::Message(m) => self.deliver(m.message, m.ack),
            _ => {}
        }
    }

    /// A message goes to the first open stream whose filters match it (with its
    /// acknowledgement) and to the other matching streams; with none, it is acknowledged now.
    fn deliver(&mut self, m: session::Message, ack: Option<AckId>) {
        self.subs.retain(|s| !s.queue.is_closed());
        let mut ack = ack;
        for s in &self.subs {
            if !s
                .filters
                .iter()
                .any(|f| wasmqtt::topic::matches(f, &m.topic))
            {
                continue;
            }
            if !s.qos0.borrow_mut().admit(m.qos) {
                let budget = s.qos0.borrow();
                log::warn!(
                    "{} QoS 0 messages waiting for a subscription stream: one dropped ({} in all)",
                    budget.queued(),
                    budget.dropped()
                );
                continue;
            }
            if s.queue.unbounded_send((m.clone(), ack)).is_ok() {
                ack = None;
            }
        }
        if let Some(a) = ack {
            let now = self.now();
            let _ = self.session.ack(a, now);
        }
    }

    /// The session is closed: everything waiting hears it.
    fn end(&mut self) {
        self.ended = true;
        if let Some(f) = self.first.take() {
            let _ = f.send(Err(Error::Closed));
        }
        self.subs.clear();
        for (tx, outcome) in self.pending.fail_all() {
            let _ = tx.send(outcome);
        }
        for tx in std::mem::take(&mut self.closed) {
            let _ = tx.send(());
        }
    }
}

type Shared = Rc<RefCell<Inner>>;

/// The `client` resource.
pub struct ClientImpl {
    inner: Shared,
}

/// An open TCP connection: the socket and the writer of its send stream.
struct Conn {
    _socket: TcpSocket,
    tx: wit_bindgen::StreamWriter<u8>,
    /// The send's result: kept, as dropping it would end the send.
    _sent: wit_bindgen::FutureReader<Result<(), wasip3::sockets::types::ErrorCode>>,
}

fn qos_in(q: t::Qos) -> QoS {
    match q {
        t::Qos::AtMostOnce => QoS::AtMostOnce,
        t::Qos::AtLeastOnce => QoS::AtLeastOnce,
        t::Qos::ExactlyOnce => QoS::ExactlyOnce,
    }
}

fn qos_out(q: QoS) -> t::Qos {
    match q {
        QoS::AtMostOnce => t::Qos::AtMostOnce,
        QoS::AtLeastOnce => t::Qos::AtLeastOnce,
        QoS::ExactlyOnce => t::Qos::ExactlyOnce,
    }
}

fn connect_error(reason: DisconnectReason) -> Error {
    match reason {
        DisconnectReason::ConnectTimeout => Error::Timeout,
        DisconnectReason::Refused { code, .. } => Error::Refused(code.0),
        DisconnectReason::Transport(text) => Error::Network(text),
        other => Error::Network(other.to_string()),
    }
}

fn publish_error(e: PublishError) -> Error {
    match e {
        PublishError::Rejected(code) => Error::Refused(code.0),
        PublishError::SessionClosed => Error::Closed,
        e @ (PublishError::InvalidTopic(_) | PublishError::TooLarge(_)) => {
            Error::InvalidArgument(e.to_string())
        }
        e => Error::Other(e.to_string()),
    }
}

fn request_error(e: RequestError) -> Error {
    match e {
        RequestError::SessionClosed => Error::Closed,
        e @ RequestError::InvalidFilter(_) => Error::InvalidArgument(e.to_string()),
        e => Error::Other(e.to_string()),
    }
}

/// How many chunks read from the socket may wait for the driver beyond one per connection.
const READ_CHUNKS_QUEUED: usize = 16;

/// Opens a TCP connection to `broker` (its host resolved through `wasi:sockets`) and starts its
/// reader task, which sends what arrives to the driver as connection `gen`.
async fn open(broker: &Broker, gen: u64, mut input: mpsc::Sender<Input>) -> Result<Conn, String> {
    if broker.scheme != Scheme::Mqtt {
        return Err(format!(
            "{broker}: this build speaks mqtt:// (plain TCP) only"
        ));
    }
    let addresses = match broker.host.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(a)) => {
            let o = a.octets();
            vec![IpAddress::Ipv4((o[0], o[1], o[2], o[3]))]
        }
        Ok(std::net::IpAddr::V6(a)) => {
            let s = a.segments();
            vec![IpAddress::Ipv6((
                s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7],
            ))]
        }
        Err(_) => resolve_addresses(broker.host.clone())
            .await
            .map_err(|e| format!("resolving {}: {e:?}", broker.host))?,
    };
    let mut last = format!("{}: no address", broker.host);
    for address in addresses {
        let (family, remote) = match address {
            IpAddress::Ipv4(address) => (
                IpAddressFamily::Ipv4,
                IpSocketAddress::Ipv4(Ipv4SocketAddress {
                    port: broker.port,
                    address,
                }),
            ),
            IpAddress::Ipv6(address) => (
                IpAddressFamily::Ipv6,
                IpSocketAddress::Ipv6(Ipv6SocketAddress {
                    port: broker.port,
                    flow_info: 0,
                    address,
                    scope_id: 0,
                }),
            ),
        };
        let socket = TcpSocket::create(family).map_err(|e| format!("socket: {e:?}"))?;
        match socket.connect(remote).await {
            Ok(()) => {
                let (mut reader, done) = socket.receive();
                let (tx, rx) = wasip3::wit_stream::new::<u8>();
                let sent = socket.send(rx);
                wit_bindgen::spawn_local(async move {
                    let _done = done;
                    loop {
                        let (result, buf) = reader.read(Vec::with_capacity(16 * 1024)).await;
                        // Waits while the driver is READ_CHUNKS_QUEUED chunks behind.
                        if !buf.is_empty() && input.send(Input::Bytes(gen, buf)).await.is_err() {
                            return;
                        }
                        if !matches!(result, StreamResult::Complete(_)) {
                            let _ = input
                                .send(Input::Lost(
                                    gen,
                                    "connection closed by the broker".to_string(),
                                ))
                                .await;
                            return;
                        }
                    }
                });
                return Ok(Conn {
                    _socket: socket,
                    tx,
                    _sent: sent,
                });
            }
            Err(e) => last = format!("connecting to {broker}: {e:?}"),
        }
    }
    Err(last)
}

/// The driver task of one client (see the crate docs).
async fn drive(inner: Shared, wakes: mpsc::UnboundedReceiver<Input>, bytes: mpsc::Receiver<Input>) {
    let mut input = futures::stream::select(wakes, bytes);
    let mut conn: Option<Conn> = None;
    let mut gen = 0u64;
    loop {
        // Everything the session has to do now.
        let deadline = loop {
            let out = inner.borrow_mut().session.poll_output();
            match out {
                Output::Transmit(bytes) => {
                    let lost = match conn.as_mut() {
                        Some(c) => !c.tx.write_all(bytes).await.is_empty(),
                        None => false,
                    };
                    if lost {
                        conn = None;
                        let mut i = inner.borrow_mut();
                        let now = i.now();
                        i.session.handle_disconnected_with(
                            now,
                            "the socket's send stream closed".to_string(),
                        );
                    }
                }
                Output::OpenTransport => {
                    conn = None;
                    gen += 1;
                    let (broker, until) = {
                        let i = inner.borrow();
                        let broker = i.session.broker().cloned();
                        let until = i.session.poll_timeout().map(|ms| i.epoch + ms * 1_000_000);
                        (broker, until)
                    };
                    let Some(broker) = broker else {
                        let mut i = inner.borrow_mut();
                        let now = i.now();
                        i.session
                            .handle_disconnected_with(now, "no broker".to_string());
                        continue;
                    };
                    let bytes = inner.borrow().bytes.clone();
                    let opening = Box::pin(open(&broker, gen, bytes));
                    let result = match until {
                        Some(u) => {
                            match select(opening, Box::pin(monotonic_clock::wait_until(u))).await {
                                Either::Left((r, _)) => Some(r),
                                Either::Right(_) => None,
                            }
                        }
                        None => Some(opening.await),
                    };
                    let mut i = inner.borrow_mut();
                    let now = i.now();
                    match result {
                        Some(Ok(c)) => {
                            conn = Some(c);
                            i.session.handle_connected(now);
                        }
                        Some(Err(e)) => i.session.handle_disconnected_with(now, e),
                        None => i.session.handle_timeout(now),
                    }
                }
                Output::CloseTransport => {
                    conn = None;
                    gen += 1;
                }
                Output::Event(e) => inner.borrow_mut().route(e),
                Output::Wait(d) => break d,
            }
        };
        {
            let mut i = inner.borrow_mut();
            i.woken = false;
            if i.session.state() == State::Closed && conn.is_none() {
                i.end();
                return;
            }
        }
        // Wait for bytes, a wake-up or the deadline.
        let next = match deadline {
            Some(ms) => {
                let when = inner.borrow().epoch + ms.saturating_mul(1_000_000);
                match select(input.next(), Box::pin(monotonic_clock::wait_until(when))).await {
                    Either::Left((i, _)) => i,
                    Either::Right(_) => Some(Input::Wake),
                }
            }
            None => input.next().await,
        };
        let mut i = inner.borrow_mut();
        let now = i.now();
        match next {
            Some(Input::Bytes(g, bytes)) if g == gen => i.session.handle_bytes(&bytes, now),
            Some(Input::Lost(g, why)) if g == gen => {
                conn = None;
                i.session.handle_disconnected_with(now, why);
            }
            _ => {}
        }
        if i.session.poll_timeout().is_some_and(|d| d <= now) {
            i.session.handle_timeout(now);
        }
    }
}

impl GuestClient for ClientImpl {
    async fn connect(o: t::ConnectOptions) -> Result<Client, Error> {
        let broker = Broker::parse(&o.broker).map_err(|e| Error::InvalidArgument(e.to_string()))?;
        if broker.scheme != Scheme::Mqtt {
            return Err(Error::InvalidArgument(format!(
                "{broker}: this build speaks mqtt:// (plain TCP) only"
            )));
        }
        let mut opts = session::Options::new(o.client_id)
            .version(match o.v5 {
                true => ProtocolVersion::V5,
                false => ProtocolVersion::V311,
            })
            .keep_alive(o.keep_alive_secs)
            .clean_start(o.clean_start)
            .brokers([broker]);
        opts.manual_acks = true;
        opts.random_seed = wasip3::random::random::get_random_u64() | 1;
        opts.validate()
            .map_err(|e| Error::InvalidArgument(e.to_string()))?;
        let (wake, wakes) = mpsc::unbounded();
        let (bytes, bytes_rx) = mpsc::channel(READ_CHUNKS_QUEUED);
        let (first, connected) = oneshot::channel();
        let epoch = monotonic_clock::now();
        let mut session = Session::new(opts);
        // The session's clock starts now: the connect deadline counts from here.
        session.handle_timeout(0);
        session.start();
        let inner = Rc::new(RefCell::new(Inner {
            session,
            epoch,
            wake,
            bytes,
            woken: false,
            first: Some(first),
            pending: Completions::new(),
            subs: Vec::new(),
            closed: Vec::new(),
            ended: false,
        }));
        wit_bindgen::spawn_local(drive(inner.clone(), wakes, bytes_rx));
        match connected.await {
            Ok(Ok(())) => Ok(Client::new(ClientImpl { inner })),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::Closed),
        }
    }

    async fn publish(&self, m: t::Message) -> Result<u8, Error> {
        let rx = {
            let mut i = self.inner.borrow_mut();
            if i.ended {
                return Err(Error::Closed);
            }
            let now = i.now();
            let msg = session::Message::new(m.topic, m.payload)
                .qos(qos_in(m.qos))
                .retain(m.retain);
            let id = i.session.publish(msg, now).map_err(publish_error)?;
            let (tx, rx) = oneshot::channel();
            i.pending.insert_publish(id, tx);
            i.wake();
            rx
        };
        match rx.await.ok().and_then(Outcome::into_publish_result) {
            Some(Ok(code)) => Ok(code.0),
            Some(Err(e)) => Err(publish_error(e)),
            None => Err(Error::Closed),
        }
    }

    async fn subscribe(
        &self,
        subscriptions: Vec<t::Subscription>,
    ) -> Result<(Vec<u8>, wit_bindgen::StreamReader<t::Message>), Error> {
        let (queue, mut queued) = mpsc::unbounded::<Delivery>();
        let qos0 = Rc::new(RefCell::new(Qos0Budget::default()));
        let filters: Vec<String> = subscriptions.iter().map(|s| s.filter.clone()).collect();
        let rx = {
            let mut i = self.inner.borrow_mut();
            if i.ended {
                return Err(Error::Closed);
            }
            let now = i.now();
            let subs = subscriptions
                .into_iter()
                .map(|s| (s.filter, SubscriptionOptions::qos(qos_in(s.qos))))
                .collect();
            let id = i
                .session
                .subscribe(subs, None, now)
                .map_err(request_error)?;
            // Registered before the SUBACK can come: no message after it is missed.
            i.subs.push(Sub {
                filters,
                queue,
                qos0: qos0.clone(),
            });
            let (tx, rx) = oneshot::channel();
            i.pending.insert_request(id, tx);
            i.wake();
            rx
        };
        let codes = match rx.await.ok().and_then(Outcome::into_request_result) {
            Some(Ok(codes)) => codes.iter().map(|c| c.0).collect(),
            Some(Err(e)) => return Err(request_error(e)),
            None => return Err(Error::Closed),
        };
        let (mut writer, reader) = wit_stream::new::<t::Message>();
        let inner = self.inner.clone();
        wit_bindgen::spawn_local(async move {
            let ack = |a: Option<AckId>| {
                if let Some(a) = a {
                    let mut i = inner.borrow_mut();
                    let now = i.now();
                    let _ = i.session.ack(a, now);
                    i.wake();
                }
            };
            while let Some((m, a)) = queued.next().await {
                qos0.borrow_mut().release(m.qos);
                let out = t::Message {
                    topic: m.topic,
                    payload: m.payload,
                    qos: qos_out(m.qos),
                    retain: m.retain,
                };
                let dropped = writer.write_one(out).await.is_some();
                ack(a);
                if dropped {
                    break;
                }
            }
            // The reader is gone: what waits is acknowledged (in-order acknowledgements
            // would otherwise hold every later message back).
            queued.close();
            while let Ok((_, a)) = queued.try_recv() {
                ack(a);
            }
        });
        Ok((codes, reader))
    }

    async fn disconnect(&self) -> Result<(), Error> {
        let rx = {
            let mut i = self.inner.borrow_mut();
            if i.ended {
                return Err(Error::Closed);
            }
            let now = i.now();
            i.session.disconnect(now);
            let (tx, rx) = oneshot::channel();
            i.closed.push(tx);
            i.wake();
            rx
        };
        let _ = rx.await;
        Ok(())
    }
}

export!(Provider);
