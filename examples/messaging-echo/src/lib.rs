//! An app component written only against `wasi:messaging@0.2.0-draft` (its world
//! `messaging-request-reply`, vendored in wit/deps/messaging): it knows nothing of MQTT. Its
//! `incoming-handler` answers what arrives on `echo/...`:
//!
//! - `echo/in/X`: sends the message itself on to `echo/out/X`, with the metadata entry
//!   `echoed-by: messaging-echo` added (its other metadata, content type and data unchanged);
//! - `echo/req/X`: replies (`request-reply.reply`) with the data in upper case;
//! - `echo/ask/X`: asks `echo/service` (`request-reply.request`, 5 s timeout) with the data and
//!   sends the first reply's data to `echo/answer/X` (or `timeout`);
//! - `echo/fail`: returns an error.
//!
//! It uses the client `default` (`types.client.connect("default")`), which the provider maps to
//! its broker. Compose it with the provider and the runner:
//! `wasmqtt-host compose-messaging messaging_echo.wasm -o echo.wasm`.

#[cfg(target_arch = "wasm32")]
mod app {
    wit_bindgen::generate!({
        path: "../../wit/deps/messaging",
        world: "messaging-request-reply",
        generate_all,
    });

    use std::cell::RefCell;

    use wasi::messaging::producer::send;
    use wasi::messaging::request_reply::{reply, request, RequestOptions};
    use wasi::messaging::types::{Client, Error, Message};

    thread_local! {
        static CLIENT: RefCell<Option<Client>> = const { RefCell::new(None) };
    }

    fn with_client<T>(f: impl FnOnce(&Client) -> Result<T, Error>) -> Result<T, Error> {
        CLIENT.with(|c| {
            let mut c = c.borrow_mut();
            if c.is_none() {
                *c = Some(Client::connect("default")?);
            }
            f(c.as_ref().expect("connected above"))
        })
    }

    struct Echo;

    impl exports::wasi::messaging::incoming_handler::Guest for Echo {
        fn handle(message: Message) -> Result<(), Error> {
            let topic = message.topic().unwrap_or_default();
            if let Some(rest) = topic.strip_prefix("echo/in/") {
                message.add_metadata("echoed-by", "messaging-echo");
                let to = format!("echo/out/{rest}");
                with_client(|c| send(c, &to, message))
            } else if topic.starts_with("echo/req/") {
                let answer = Message::new(&message.data().to_ascii_uppercase());
                reply(&message, answer)
            } else if let Some(rest) = topic.strip_prefix("echo/ask/") {
                let question = Message::new(&message.data());
                let options = RequestOptions::new();
                options.set_timeout_ms(5_000);
                let answer = with_client(|c| request(c, "echo/service", &question, Some(options)));
                let data = match answer {
                    Ok(replies) => replies.first().map(|r| r.data()).unwrap_or_default(),
                    Err(Error::Timeout) => b"timeout".to_vec(),
                    Err(e) => return Err(e),
                };
                let to = format!("echo/answer/{rest}");
                with_client(|c| send(c, &to, Message::new(&data)))
            } else if topic == "echo/fail" {
                Err(Error::Other("asked to fail".to_string()))
            } else {
                Ok(())
            }
        }
    }

    export!(Echo);
}
