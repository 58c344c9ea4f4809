//! `-D COMMAND PROPERTY VALUE`: the MQTT 5 properties, with mosquitto's names.

use wasmqtt::session::MessageProperties;

use crate::args::ArgsError;

/// The CONNECT properties `-D connect ...` sets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectProps {
    /// `session-expiry-interval`.
    pub session_expiry_interval: Option<u32>,
    /// `topic-alias-maximum`: 0 announces none.
    pub topic_alias_maximum: Option<u16>,
    /// `receive-maximum`.
    pub receive_maximum: Option<u16>,
    /// `maximum-packet-size`.
    pub maximum_packet_size: Option<u32>,
    /// `request-response-information`.
    pub request_response_information: Option<bool>,
    /// `request-problem-information`.
    pub request_problem_information: Option<bool>,
    /// `user-property KEY VALUE` (may repeat).
    pub user_properties: Vec<(String, String)>,
}

/// Every `-D` of the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Props {
    /// `-D connect ...`.
    pub connect: ConnectProps,
    /// `-D publish ...`: the published message's properties.
    pub publish: MessageProperties,
    /// `-D will ...`: the will's properties.
    pub will: MessageProperties,
    /// `-D will will-delay-interval`.
    pub will_delay_interval: Option<u32>,
    /// `-D subscribe subscription-identifier`.
    pub subscription_identifier: Option<u32>,
}

fn bad(e: String) -> ArgsError {
    ArgsError::Invalid(e)
}

fn num<T: std::str::FromStr>(prop: &str, v: &str) -> Result<T, ArgsError> {
    v.parse()
        .map_err(|_| bad(format!("-D: invalid value '{v}' for {prop}")))
}

fn flag(prop: &str, v: &str) -> Result<bool, ArgsError> {
    match v {
        "0" => Ok(false),
        "1" => Ok(true),
        _ => Err(bad(format!("-D: {prop} must be 0 or 1, not '{v}'"))),
    }
}

impl Props {
    /// One `-D command property value` (`extra` is the value of a user property, whose
    /// `value` is its key). Names are mosquitto's.
    pub fn set(
        &mut self,
        command: &str,
        prop: &str,
        value: &str,
        extra: Option<&str>,
    ) -> Result<(), ArgsError> {
        let user = |v: &mut Vec<(String, String)>| {
            v.push((value.to_string(), extra.unwrap_or_default().to_string()));
        };
        match (command, prop) {
            ("connect", "session-expiry-interval") => {
                self.connect.session_expiry_interval = Some(num(prop, value)?)
            }
            ("connect", "topic-alias-maximum") => {
                self.connect.topic_alias_maximum = Some(num(prop, value)?)
            }
            ("connect", "receive-maximum") => {
                let v: u16 = num(prop, value)?;
                if v == 0 {
                    return Err(bad("-D: receive-maximum must be at least 1".into()));
                }
                self.connect.receive_maximum = Some(v)
            }
            ("connect", "maximum-packet-size") => {
                let v: u32 = num(prop, value)?;
                if v == 0 {
                    return Err(bad("-D: maximum-packet-size must be at least 1".into()));
                }
                self.connect.maximum_packet_size = Some(v)
            }
            ("connect", "request-response-information") => {
                self.connect.request_response_information = Some(flag(prop, value)?)
            }
            ("connect", "request-problem-information") => {
                self.connect.request_problem_information = Some(flag(prop, value)?)
            }
            ("connect", "user-property") => user(&mut self.connect.user_properties),
            ("subscribe", "subscription-identifier") => {
                let v: u32 = num(prop, value)?;
                if !(1..=268_435_455).contains(&v) {
                    return Err(bad(
                        "-D: subscription-identifier must be 1 to 268435455".into()
                    ));
                }
                self.subscription_identifier = Some(v)
            }
            ("will", "will-delay-interval") => self.will_delay_interval = Some(num(prop, value)?),
            ("publish" | "will", _) => {
                let m = if command == "publish" {
                    &mut self.publish
                } else {
                    &mut self.will
                };
                match prop {
                    "content-type" => m.content_type = Some(value.to_string()),
                    "correlation-data" => m.correlation_data = Some(value.as_bytes().to_vec()),
                    "message-expiry-interval" => {
                        m.message_expiry_interval = Some(num(prop, value)?)
                    }
                    "payload-format-indicator" => {
                        m.payload_format_indicator = Some(flag(prop, value)?)
                    }
                    "response-topic" => m.response_topic = Some(value.to_string()),
                    "user-property" => user(&mut m.user_properties),
                    _ => return Err(unknown(command, prop)),
                }
            }
            _ => return Err(unknown(command, prop)),
        }
        Ok(())
    }
}

fn unknown(command: &str, prop: &str) -> ArgsError {
    match command {
        "connect" | "publish" | "subscribe" | "will" => bad(format!(
            "-D: property '{prop}' is not supported for {command} (see --help)"
        )),
        _ => bad(format!(
            "-D: unknown command '{command}': use connect, publish, subscribe or will"
        )),
    }
}
