//! [`parse`]: the command line to [`Args`].

use std::ffi::OsString;
use std::path::PathBuf;
use wasmqtt::codec::{ProtocolVersion, QoS};

use crate::args::{Args, ArgsError, Command, Payload};
use crate::brokers::brokers;
use crate::{TlsFlags, TlsVersion};

pub(crate) fn invalid(e: impl ToString) -> ArgsError {
    ArgsError::Invalid(e.to_string())
}

fn parse_qos(s: &str) -> Result<QoS, ArgsError> {
    s.parse::<u8>()
        .ok()
        .and_then(QoS::from_u8)
        .ok_or_else(|| invalid(format!("invalid QoS '{s}': must be 0, 1 or 2")))
}

fn text(flag: &str, v: OsString) -> Result<String, ArgsError> {
    v.into_string()
        .map_err(|v| invalid(format!("{flag}: not valid UTF-8: {v:?}")))
}

fn path(flag: &str, v: OsString) -> Result<PathBuf, ArgsError> {
    if v.is_empty() {
        return Err(invalid(format!("{flag}: empty path")));
    }
    Ok(PathBuf::from(v))
}

fn number<T: std::str::FromStr>(flag: &str, v: OsString) -> Result<T, ArgsError> {
    let s = text(flag, v)?;
    s.parse()
        .map_err(|_| invalid(format!("invalid value '{s}' for {flag}")))
}

/// `-x`: seconds, or `-1` / `∞` for a session that never expires (as mosquitto reads it).
fn expiry(flag: &str, v: OsString) -> Result<u32, ArgsError> {
    let s = text(flag, v)?;
    match s.as_str() {
        "-1" | "∞" => Ok(u32::MAX),
        _ => s
            .parse()
            .map_err(|_| invalid(format!("invalid value '{s}' for {flag}"))),
    }
}

/// `--repeat-delay`: seconds below 10^9, with a decimal fraction (`2`, `0.25`, `.5`), to the
/// nearest millisecond. Read as digits, not as a float: a float parser would be about a tenth
/// of the command component.
fn seconds_ms(flag: &str, v: OsString) -> Result<u64, ArgsError> {
    let s = text(flag, v)?;
    let (whole, fraction) = s.split_once('.').unwrap_or((&s, ""));
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    // Nine significant digits at most: below 10^9 seconds.
    let whole = whole.trim_start_matches('0');
    if (s == "." || s.is_empty()) || !digits(whole) || !digits(fraction) || whole.len() > 9 {
        return Err(invalid(format!("invalid value '{s}' for {flag}")));
    }
    let whole: u64 = whole.parse().unwrap_or(0); // "": zeros only
    let f = fraction.as_bytes();
    let digit = |i: usize| f.get(i).map_or(0, |d| u64::from(d - b'0'));
    let rounding = u64::from(digit(3) >= 5);
    Ok(whole * 1000 + digit(0) * 100 + digit(1) * 10 + digit(2) + rounding)
}

fn set_payload(a: &mut Args, p: Payload) -> Result<(), ArgsError> {
    if a.payload.is_some() {
        return Err(invalid(
            "only one of -m, -n, -f, -s and -l may be given (one message source)",
        ));
    }
    a.payload = Some(p);
    Ok(())
}

/// Parses `pub|sub|rr` and its flags (without the program name). The last of a repeated flag
/// wins, as in mosquitto, except `-t` on `sub`, `-T`, `-U`, `-D`, `--tls-alpn` and `-L`,
/// which add up; one message source (`-m`, `-n`, `-f`, `-s`, `-l`) only.
pub fn parse<I>(args: I) -> Result<Args, ArgsError>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    use lexopt::prelude::*;
    let mut p = lexopt::Parser::from_args(args);
    let command = match p.next().map_err(invalid)? {
        Some(Value(v)) if v == "pub" => Command::Pub,
        Some(Value(v)) if v == "sub" => Command::Sub,
        Some(Value(v)) if v == "rr" => Command::Rr,
        Some(Value(v)) => {
            return Err(invalid(format!(
                "unknown command '{}': use pub, sub or rr",
                v.to_string_lossy()
            )))
        }
        Some(Long("help")) => return Err(ArgsError::Help),
        Some(other) => return Err(invalid(other.unexpected())),
        None => return Err(invalid("missing command: pub, sub or rr")),
    };
    let mut a = Args::new(command);
    let mut tls = TlsFlags::default();
    let (mut urls, mut ws_path) = (Vec::<String>::new(), None::<String>);
    let (mut host_given, mut port_given) = (false, false);
    let only = |a: &Args, flag: &str, cmds: &[Command]| -> Result<(), ArgsError> {
        if cmds.contains(&a.command) {
            Ok(())
        } else {
            let names: Vec<_> = cmds.iter().map(|c| c.name()).collect();
            Err(invalid(format!(
                "{flag} is a flag of {} only, not of {}",
                names.join(" and "),
                a.command.name()
            )))
        }
    };
    use Command::{Pub, Rr, Sub};
    while let Some(arg) = p.next().map_err(invalid)? {
        let flag = match &arg {
            Short(c) => format!("-{c}"),
            Long(l) => format!("--{l}"),
            Value(_) => String::new(),
        };
        macro_rules! val {
            () => {
                p.value().map_err(invalid)?
            };
        }
        match arg {
            Short('h') | Long("host") => {
                a.host = text(&flag, val!())?;
                host_given = true;
            }
            Short('p') | Long("port") => {
                a.port = number(&flag, val!())?;
                port_given = true;
            }
            Short('L') | Long("url") => urls.push(text(&flag, val!())?),
            Long("ws-path") => ws_path = Some(text(&flag, val!())?),
            Long("cafile") => tls.cafile = Some(path(&flag, val!())?),
            Long("capath") => tls.capath = Some(path(&flag, val!())?),
            Long("cert") => tls.cert = Some(path(&flag, val!())?),
            Long("key") => tls.key = Some(path(&flag, val!())?),
            Long("insecure") => tls.insecure = true,
            Long("tls-alpn") => tls.alpn.push(text(&flag, val!())?),
            Long("tls-version") => tls.version = Some(TlsVersion::parse(&text(&flag, val!())?)?),
            Long("tls-server-name") => tls.server_name = Some(text(&flag, val!())?),
            Short('t') | Long("topic") => a.topics.push(text(&flag, val!())?),
            Short('m') | Long("message") => {
                only(&a, &flag, &[Pub, Rr])?;
                let m = text(&flag, val!())?.into_bytes();
                set_payload(&mut a, Payload::Message(m))?
            }
            Short('n') | Long("null-message") => {
                only(&a, &flag, &[Pub, Rr])?;
                set_payload(&mut a, Payload::Null)?
            }
            Short('f') | Long("file") => {
                only(&a, &flag, &[Pub, Rr])?;
                let f = path(&flag, val!())?;
                set_payload(&mut a, Payload::File(f))?
            }
            Short('s') | Long("stdin-file") => {
                only(&a, &flag, &[Pub, Rr])?;
                set_payload(&mut a, Payload::Stdin)?
            }
            Short('l') | Long("stdin-line") => {
                only(&a, &flag, &[Pub])?;
                set_payload(&mut a, Payload::Lines)?
            }
            Short('q') | Long("qos") => a.qos = parse_qos(&text(&flag, val!())?)?,
            Short('r') | Long("retain") => {
                only(&a, &flag, &[Pub])?;
                a.retain = true
            }
            Long("repeat") => {
                only(&a, &flag, &[Pub])?;
                a.repeat = number(&flag, val!())?;
                if a.repeat == 0 {
                    return Err(invalid("--repeat must be at least 1"));
                }
            }
            Long("repeat-delay") => {
                only(&a, &flag, &[Pub])?;
                a.repeat_delay_ms = seconds_ms(&flag, val!())?
            }
            Short('u') | Long("username") => a.username = Some(text(&flag, val!())?),
            Short('P') | Long("pw") => a.password = Some(text(&flag, val!())?),
            Short('i') | Long("id") => a.id = Some(text(&flag, val!())?),
            Short('I') | Long("id-prefix") => a.id_prefix = Some(text(&flag, val!())?),
            Short('k') | Long("keepalive") => a.keep_alive = number(&flag, val!())?,
            Short('c') | Long("disable-clean-session") => a.clean = false,
            Short('x') => a.session_expiry = Some(expiry(&flag, val!())?),
            Short('V') | Long("protocol-version") => {
                a.version = match text(&flag, val!())?.as_str() {
                    "311" | "mqttv311" | "4" => ProtocolVersion::V311,
                    "5" | "mqttv5" => ProtocolVersion::V5,
                    v => {
                        return Err(invalid(format!(
                            "unsupported protocol version '{v}': use 311 or 5"
                        )))
                    }
                }
            }
            Short('C') => {
                only(&a, &flag, &[Sub])?;
                a.count = Some(number(&flag, val!())?);
                if a.count == Some(0) {
                    return Err(invalid("-C must be at least 1"));
                }
            }
            Short('W') => {
                a.timeout_secs = Some(number(&flag, val!())?);
                if a.timeout_secs == Some(0) {
                    return Err(invalid("-W must be at least 1"));
                }
            }
            Short('v') | Long("verbose") => {
                only(&a, &flag, &[Sub, Rr])?;
                a.verbose = true
            }
            Short('d') | Long("debug") => a.debug = true,
            Long("quiet") => a.quiet = true,
            Short('D') | Long("property") => {
                let cmd = text(&flag, val!())?;
                let prop = text(&flag, val!())?;
                let value = text(&flag, val!())?;
                let extra = match prop.as_str() {
                    "user-property" => Some(text(&flag, val!())?),
                    _ => None,
                };
                a.props.set(&cmd, &prop, &value, extra.as_deref())?;
            }
            Short('F') => {
                only(&a, &flag, &[Sub, Rr])?;
                a.format = Some(text(&flag, val!())?)
            }
            Short('N') => {
                only(&a, &flag, &[Sub, Rr])?;
                a.no_newline = true
            }
            Short('R') => {
                only(&a, &flag, &[Sub, Rr])?;
                a.no_retained = true
            }
            Short('T') => {
                only(&a, &flag, &[Sub])?;
                a.filter_out.push(text(&flag, val!())?)
            }
            Short('U') | Long("unsubscribe") => {
                only(&a, &flag, &[Sub])?;
                a.unsubscribe.push(text(&flag, val!())?)
            }
            Short('E') => {
                only(&a, &flag, &[Sub])?;
                a.exit_after_sub = true
            }
            Long("retained-only") => {
                only(&a, &flag, &[Sub])?;
                a.retained_only = true
            }
            Long("remove-retained") => {
                only(&a, &flag, &[Sub])?;
                a.remove_retained = true
            }
            Short('e') => {
                only(&a, &flag, &[Rr])?;
                a.response_topic = Some(text(&flag, val!())?)
            }
            Long("will-topic") => a.will_topic = Some(text(&flag, val!())?),
            Long("will-payload") => a.will_payload = text(&flag, val!())?.into_bytes(),
            Long("will-qos") => a.will_qos = parse_qos(&text(&flag, val!())?)?,
            Long("will-retain") => a.will_retain = true,
            Long("disconnect-with-will") => a.disconnect_with_will = true,
            Long("help") => return Err(ArgsError::Help),
            other => return Err(invalid(other.unexpected())),
        }
    }
    brokers(
        &mut a,
        urls,
        ws_path,
        tls,
        host_given || port_given,
        port_given,
    )?;
    check(&mut a)?;
    Ok(a)
}

/// What holds across flags.
fn check(a: &mut Args) -> Result<(), ArgsError> {
    let unsubscribe_only = a.command == Command::Sub && !a.unsubscribe.is_empty();
    if a.topics.is_empty() && !unsubscribe_only {
        return Err(invalid("-t (or a topic in the -L URL) is required"));
    }
    match a.command {
        Command::Pub | Command::Rr => {
            if a.topics.len() != 1 {
                return Err(invalid(format!(
                    "{} takes exactly one -t",
                    a.command.name()
                )));
            }
            if a.payload.is_none() {
                return Err(invalid(format!(
                    "{} needs -m MESSAGE, -n, -f FILE, -s{}",
                    a.command.name(),
                    if a.command == Command::Pub {
                        " or -l"
                    } else {
                        ""
                    }
                )));
            }
        }
        Command::Sub => {
            if a.retained_only && a.no_retained {
                return Err(invalid("--retained-only and -R exclude each other"));
            }
        }
    }
    if a.command == Command::Rr {
        if a.response_topic.is_none() {
            return Err(invalid("rr needs -e RESPONSE_TOPIC"));
        }
        if !a.version.is_v5() {
            return Err(invalid(
                "rr needs MQTT 5 (-V 5): response topics do not exist in 3.1.1",
            ));
        }
    }
    if a.repeat > 1 && a.payload == Some(Payload::Lines) {
        return Err(invalid("--repeat cannot be combined with -l"));
    }
    if a.props.connect.session_expiry_interval.is_some() && a.session_expiry.is_none() {
        a.session_expiry = a.props.connect.session_expiry_interval;
    }
    if !a.version.is_v5() {
        let p = &a.props;
        let any = p.connect != Default::default()
            || p.publish != Default::default()
            || p.will != Default::default()
            || p.will_delay_interval.is_some()
            || p.subscription_identifier.is_some();
        if any || a.session_expiry.is_some() {
            return Err(invalid("-D and -x set MQTT 5 properties: they need -V 5"));
        }
        if a.disconnect_with_will {
            return Err(invalid(
                "--disconnect-with-will needs -V 5 (DISCONNECT 0x04)",
            ));
        }
        // v3.1.1 MQTT-3.1.3-7: an empty client id needs a clean session; refused here, before
        // anything is sent, rather than by the broker.
        if !a.clean && a.id.as_deref() == Some("") {
            return Err(invalid(
                "-c with an empty client id (-i \"\"): MQTT 3.1.1 needs a client id to keep a \
                 session",
            ));
        }
    }
    if a.disconnect_with_will && a.will_topic.is_none() {
        return Err(invalid("--disconnect-with-will needs --will-topic"));
    }
    let url_user = a.brokers.iter().any(|b| b.username.is_some());
    if a.password.is_some()
        && a.username.is_none()
        && !url_user
        && a.version == ProtocolVersion::V311
    {
        return Err(invalid("-P needs -u in MQTT 3.1.1"));
    }
    Ok(())
}
