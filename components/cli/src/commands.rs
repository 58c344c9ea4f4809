//! What `pub`, `sub` and `rr` do once connected.

use std::io::{BufRead, Read, Write};

use wasmqtt::codec::{ProtocolVersion, QoS, SubscriptionOptions};
use wasmqtt::session::{Event, Message, PublishId, ReceivedMessage};
use wasmqtt::topic::matches;
use wasmqtt_cli::exit::{self, Failure};
use wasmqtt_cli::format::{render, Fields};
use wasmqtt_cli::{without_dot, Args, Payload};
use wasmqtt_wasi::Client;

use crate::run::failure;

/// The client id in debug lines (the broker's assigned one is not kept: the one we sent).
pub(crate) fn id(conn: &Client) -> String {
    conn.session_ref().options().client_id.clone()
}

/// The `-W` deadline on the driver's clock, counted from the connection.
struct Deadline(Option<u64>);

impl Deadline {
    fn new(a: &Args, conn: &Client) -> Self {
        Deadline(a.timeout_secs.map(|s| conn.now_ms() + s * 1000))
    }

    /// Milliseconds left (`u64::MAX` without `-W`), 0 once passed.
    fn left(&self, conn: &Client) -> u64 {
        self.0.map_or(u64::MAX, |u| u.saturating_sub(conn.now_ms()))
    }
}

/// The next event before `deadline` (`Ok(None)` once it passed); a connection loss, the
/// first one, is the command's failure.
fn next(a: &Args, conn: &mut Client, deadline: &Deadline) -> Result<Option<Event>, Failure> {
    loop {
        let left = deadline.left(conn);
        if left == 0 {
            return Ok(None);
        }
        match conn.poll_event(left.min(1000)) {
            // A failed first attempt of a `-L` failover list (the next broker is tried at
            // once): reported, not the end. Once connected, the session does not reconnect,
            // so every loss is `reconnect_at: None`.
            Some(Event::Disconnected {
                reason,
                reconnect_at: Some(_),
            }) if !a.quiet => {
                let f = Failure::disconnected(&reason, a.version);
                eprintln!("Warning: {f}; trying the next broker");
            }
            Some(Event::Disconnected {
                reconnect_at: Some(_),
                ..
            }) => {}
            Some(Event::Disconnected { reason, .. }) => {
                return Err(Failure::disconnected(&reason, a.version))
            }
            Some(e) => return Ok(Some(e)),
            None => {}
        }
    }
}

fn publish_error(e: wasmqtt::session::PublishError) -> Failure {
    use wasmqtt::session::PublishError as P;
    let exit = match e {
        P::Rejected(_) | P::QoSNotSupported(_) | P::RetainNotSupported => exit::DENIED,
        _ => exit::OTHER,
    };
    Failure::new(e.code(), exit, e)
}

/// The payload of `-m`, `-n`, `-f` or `-s` (not `-l`).
fn payload(p: &Payload) -> Result<Vec<u8>, Failure> {
    match p {
        Payload::Message(m) => Ok(m.clone()),
        Payload::Null | Payload::Lines => Ok(Vec::new()),
        Payload::File(f) => std::fs::read(without_dot(f)).map_err(|e| {
            failure(
                "UNREADABLE_FILE",
                format!("cannot read -f {}: {e}", f.display()),
            )
        }),
        Payload::Stdin => {
            let mut v = Vec::new();
            std::io::stdin()
                .read_to_end(&mut v)
                .map_err(|e| failure("UNREADABLE_FILE", format!("cannot read stdin: {e}")))?;
            Ok(v)
        }
    }
}

fn message(a: &Args, topic: &str, payload: Vec<u8>) -> Message {
    Message::new(topic.to_string(), payload)
        .qos(a.qos)
        .retain(a.retain)
        .properties(a.props.publish.clone())
}

/// Publishes one message; its completion is waited for later.
fn send(a: &Args, conn: &mut Client, msg: Message) -> Result<PublishId, Failure> {
    if a.debug {
        println!(
            "Client {} sending PUBLISH (q{}, r{}, '{}', ... ({} bytes))",
            id(conn),
            msg.qos as u8,
            u8::from(msg.retain),
            msg.topic,
            msg.payload.len()
        );
    }
    let now = conn.now_ms();
    let id = match conn.session().publish(msg, now) {
        Ok(id) => id,
        Err(e) => {
            if e == wasmqtt::session::PublishError::SessionClosed {
                closed(a, conn)?;
            }
            return Err(publish_error(e));
        }
    };
    conn.flush();
    Ok(id)
}

/// The session is closed: the reason it gave (queued after what it failed), as the error.
fn closed(a: &Args, conn: &mut Client) -> Result<(), Failure> {
    while let Some(e) = conn.poll_event(0) {
        if let Event::Disconnected {
            reason,
            reconnect_at: None,
        } = e
        {
            return Err(Failure::disconnected(&reason, a.version));
        }
    }
    Ok(())
}

/// Handles a publish completion: removes it from `pending`, fails on a refusal.
fn completed(
    a: &Args,
    conn: &mut Client,
    e: &Event,
    pending: &mut Vec<PublishId>,
) -> Result<(), Failure> {
    if let Event::PublishComplete { id: done, result } = e {
        if let Some(i) = pending.iter().position(|p| p == done) {
            pending.swap_remove(i);
            if let Err(wasmqtt::session::PublishError::SessionClosed) = result {
                // The session failed the message as it closed: the reason comes next.
                closed(a, conn)?;
            }
            let code = result.clone().map_err(publish_error)?;
            if a.debug && a.qos != QoS::AtMostOnce {
                let ack = if a.qos == QoS::AtLeastOnce {
                    "PUBACK"
                } else {
                    "PUBCOMP"
                };
                println!("Client {} received {ack} (rc {})", id(conn), code.0);
            }
        }
    }
    Ok(())
}

/// `pub`: `-m`/`-n`/`-f`/`-s` once, or `--repeat N` times `--repeat-delay` apart, or each
/// line of stdin (`-l`); exits once every message is acknowledged (sent, at QoS 0).
pub(crate) fn publish(a: &Args, conn: &mut Client) -> Result<(), Failure> {
    let deadline = Deadline::new(a, conn);
    let topic = a.topics[0].clone();
    let mut pending: Vec<PublishId> = Vec::new();
    let source = a.payload.clone().unwrap_or(Payload::Null);
    if source == Payload::Lines {
        let stdin = std::io::stdin();
        for line in stdin.lock().split(b'\n') {
            let mut line =
                line.map_err(|e| failure("UNREADABLE_FILE", format!("cannot read stdin: {e}")))?;
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            if line.is_empty() {
                continue;
            }
            pending.push(send(a, conn, message(a, &topic, line))?);
            // What already arrived (acknowledgements, a loss) without waiting.
            while let Some(e) = conn.poll_event(0) {
                if let Event::Disconnected {
                    reason,
                    reconnect_at: None,
                } = &e
                {
                    return Err(Failure::disconnected(reason, a.version));
                }
                completed(a, conn, &e, &mut pending)?;
            }
        }
    } else {
        let body = payload(&source)?;
        for i in 0..a.repeat {
            if i > 0 && a.repeat_delay_ms > 0 {
                let until = conn.now_ms() + a.repeat_delay_ms;
                let wait = Deadline(Some(until.min(deadline.0.unwrap_or(u64::MAX))));
                while let Some(e) = next(a, conn, &wait)? {
                    completed(a, conn, &e, &mut pending)?;
                }
                if deadline.left(conn) == 0 {
                    return Err(Failure::timeout("before every message was published"));
                }
            }
            pending.push(send(a, conn, message(a, &topic, body.clone()))?);
        }
    }
    while !pending.is_empty() {
        match next(a, conn, &deadline)? {
            Some(e) => completed(a, conn, &e, &mut pending)?,
            None => return Err(Failure::timeout("waiting for the acknowledgement")),
        }
    }
    Ok(())
}

/// Prints a message as `-F`, `-v` and `-N` say.
fn print(a: &Args, m: &ReceivedMessage) {
    let msg = &m.message;
    let mut out: Vec<u8> = match &a.format {
        Some(f) => {
            let now = wasip2::clocks::wall_clock::now();
            let fields = Fields {
                topic: &msg.topic,
                payload: &msg.payload,
                qos: msg.qos,
                retain: msg.retain,
                mid: 0,
                properties: &msg.properties,
                topic_alias: None,
                time: (now.seconds, now.nanoseconds),
            };
            render(f, &fields)
        }
        None if a.verbose => {
            let mut v = format!("{} ", msg.topic).into_bytes();
            v.extend_from_slice(&msg.payload);
            v
        }
        None => msg.payload.clone(),
    };
    if !a.no_newline {
        out.push(b'\n');
    }
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(&out);
    let _ = stdout.flush();
}

/// Waits for the acknowledgement of SUBSCRIBE `filters`: a refused filter fails the command.
fn subscribed(
    a: &Args,
    conn: &mut Client,
    deadline: &Deadline,
    filters: &[String],
    early: &mut Vec<Event>,
) -> Result<(), Failure> {
    loop {
        match next(a, conn, deadline)? {
            Some(Event::Subscribed { reason_codes, .. }) => {
                if a.debug {
                    let codes: Vec<String> = reason_codes.iter().map(|c| c.0.to_string()).collect();
                    println!("Client {} received SUBACK ({})", id(conn), codes.join(", "));
                }
                for (f, c) in filters.iter().zip(&reason_codes) {
                    if c.is_error() {
                        return Err(Failure::subscription_refused(f, *c, a.version));
                    }
                }
                return Ok(());
            }
            Some(e @ Event::Message(_)) => early.push(e),
            Some(_) => {}
            None => return Err(Failure::timeout("waiting for SUBACK")),
        }
    }
}

fn subscribe_to(a: &Args, conn: &mut Client, filters: &[String]) -> Result<(), Failure> {
    let list = filters
        .iter()
        .map(|t| (t.clone(), SubscriptionOptions::qos(a.qos)))
        .collect();
    if a.debug {
        for f in filters {
            println!(
                "Client {} sending SUBSCRIBE ({f}, QoS {})",
                id(conn),
                a.qos as u8
            );
        }
    }
    let now = conn.now_ms();
    if let Err(e) = conn
        .session()
        .subscribe(list, a.props.subscription_identifier, now)
    {
        if e == wasmqtt::session::RequestError::SessionClosed {
            closed(a, conn)?;
        }
        return Err(failure(e.code(), e));
    }
    conn.flush();
    Ok(())
}

/// `sub`: subscribes (`-t`), unsubscribes (`-U`), prints what arrives (`-T`, `-R`,
/// `--retained-only`, `--remove-retained`, `-C`, `-E`, `-W`).
pub(crate) fn subscribe(a: &Args, conn: &mut Client) -> Result<(), Failure> {
    let deadline = Deadline::new(a, conn);
    let mut early = Vec::new();
    if !a.topics.is_empty() {
        subscribe_to(a, conn, &a.topics)?;
        subscribed(a, conn, &deadline, &a.topics, &mut early)?;
    }
    if !a.unsubscribe.is_empty() {
        if a.debug {
            println!("Client {} sending UNSUBSCRIBE", id(conn));
        }
        let now = conn.now_ms();
        if let Err(e) = conn.session().unsubscribe(a.unsubscribe.clone(), now) {
            if e == wasmqtt::session::RequestError::SessionClosed {
                closed(a, conn)?;
            }
            return Err(failure(e.code(), e));
        }
        conn.flush();
        loop {
            match next(a, conn, &deadline)? {
                Some(Event::Unsubscribed { .. }) => break,
                Some(e @ Event::Message(_)) => early.push(e),
                Some(_) => {}
                None => return Err(Failure::timeout("waiting for UNSUBACK")),
            }
        }
        if a.debug {
            println!("Client {} received UNSUBACK", id(conn));
        }
        if a.topics.is_empty() {
            return Ok(());
        }
    }
    if a.exit_after_sub {
        return Ok(());
    }
    let mut clears: Vec<PublishId> = Vec::new();
    let result = print_messages(a, conn, &deadline, early, &mut clears);
    // The retained messages --remove-retained cleared are acknowledged before the exit.
    while result.is_ok() && !clears.is_empty() {
        match next(a, conn, &deadline)? {
            Some(e) => completed(a, conn, &e, &mut clears)?,
            None => return Err(Failure::timeout("clearing the retained messages")),
        }
    }
    result
}

/// The messages `sub` receives, printed until `-C`, `-W` or `--retained-only` says stop.
fn print_messages(
    a: &Args,
    conn: &mut Client,
    deadline: &Deadline,
    early: Vec<Event>,
    clears: &mut Vec<PublishId>,
) -> Result<(), Failure> {
    let mut printed = 0u64;
    let mut early = early.into_iter();
    loop {
        if a.count.is_some_and(|c| printed >= c) {
            return Ok(());
        }
        let e = match early.next() {
            Some(e) => Some(e),
            None => next(a, conn, deadline)?,
        };
        let Some(e) = e else {
            return match a.count {
                Some(c) => Err(Failure::timeout(&format!(
                    "after {printed} of {c} messages"
                ))),
                None => Ok(()),
            };
        };
        completed(a, conn, &e, clears)?;
        let Event::Message(m) = e else { continue };
        let msg = &m.message;
        if a.retained_only && !msg.retain {
            return Ok(());
        }
        if a.remove_retained && msg.retain && !msg.payload.is_empty() {
            let clear = Message::new(msg.topic.clone(), Vec::new())
                .qos(QoS::AtLeastOnce)
                .retain(true);
            clears.push(send(a, conn, clear)?);
        }
        if a.no_retained && msg.retain {
            continue;
        }
        if a.filter_out.iter().any(|f| matches(f, &msg.topic)) {
            continue;
        }
        print(a, &m);
        printed += 1;
    }
}

/// A correlation data of 16 hex digits from `wasi:random`.
fn correlation() -> Vec<u8> {
    format!("{:016x}", wasmqtt_wasi::random_seed()).into_bytes()
}

/// `rr`: subscribes to `-e`, publishes the request with that Response Topic and a
/// Correlation Data (`-D publish correlation-data`, or a random one), prints the first
/// response that carries the same correlation data (or none), exits.
pub(crate) fn request(a: &Args, conn: &mut Client) -> Result<(), Failure> {
    debug_assert_eq!(a.version, ProtocolVersion::V5);
    let deadline = Deadline::new(a, conn);
    let response_topic = a.response_topic.clone().unwrap_or_default();
    let filters = [response_topic.clone()];
    let mut early = Vec::new();
    subscribe_to(a, conn, &filters)?;
    subscribed(a, conn, &deadline, &filters, &mut early)?;
    let mut props = a.props.publish.clone();
    props.response_topic = Some(response_topic.clone());
    let corr = props.correlation_data.clone().unwrap_or_else(correlation);
    props.correlation_data = Some(corr.clone());
    let body = payload(a.payload.as_ref().unwrap_or(&Payload::Null))?;
    let msg = Message::new(a.topics[0].clone(), body)
        .qos(a.qos)
        .properties(props);
    let mut pending = vec![send(a, conn, msg)?];
    let mut early = early.into_iter();
    loop {
        let e = match early.next() {
            Some(e) => Some(e),
            None => next(a, conn, &deadline)?,
        };
        let Some(e) = e else {
            return Err(Failure::timeout("waiting for the response"));
        };
        completed(a, conn, &e, &mut pending)?;
        let Event::Message(m) = e else { continue };
        let msg = &m.message;
        let theirs = msg.properties.correlation_data.as_deref();
        if !matches(&response_topic, &msg.topic) || theirs.is_some_and(|c| c != corr) {
            continue;
        }
        if a.no_retained && msg.retain {
            continue;
        }
        print(a, &m);
        return Ok(());
    }
}
