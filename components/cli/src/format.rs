//! `-F FORMAT`: mosquitto_sub's output format.
//!
//! `%` sequences are the message's fields (`%t` topic, `%p` payload, `%x`/`%X` hex payload,
//! `%l` length, `%q` QoS, `%r` retain, `%m` message id, `%I` ISO 8601 time, `%U` Unix time
//! with nanoseconds, `%j`/`%J` JSON, `%A %C %D %E %F %P %R %S` the MQTT 5 properties, `%%`),
//! with the flags `-` and `0`, a field width and a `.precision` (maximum width) where
//! mosquitto_sub takes them; `@` sequences are time fields (`@Y @m @d @H @M @S @N @s @z @@`,
//! in UTC: a WASI component has no time zone); `\` escapes (`\n \t \r \a \e \v \0 \\`).

use wasmqtt::codec::QoS;
use wasmqtt::session::MessageProperties;

/// What a format reads of one message.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a> {
    /// The topic.
    pub topic: &'a str,
    /// The payload.
    pub payload: &'a [u8],
    /// The QoS.
    pub qos: QoS,
    /// The retain flag.
    pub retain: bool,
    /// The packet identifier (0 at QoS 0, or when the driver does not give it).
    pub mid: u16,
    /// The MQTT 5 properties.
    pub properties: &'a MessageProperties,
    /// The v5 topic alias the broker used, if any.
    pub topic_alias: Option<u16>,
    /// Time of reception: seconds since the Unix epoch and nanoseconds.
    pub time: (u64, u32),
}

/// The civil date (UTC) of a Unix time: (year, month, day, hour, minute, second).
pub fn civil(secs: u64) -> (i64, u32, u32, u32, u32, u32) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        m,
        d,
        (rem / 3600) as u32,
        (rem / 60 % 60) as u32,
        (rem % 60) as u32,
    )
}

/// `2016-08-10T09:47:38+0000`.
pub fn iso8601(secs: u64) -> String {
    let (y, mo, d, h, mi, s) = civil(secs);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}+0000")
}

fn hex(payload: &[u8], upper: bool) -> String {
    payload
        .iter()
        .map(|b| {
            if upper {
                format!("{b:02X}")
            } else {
                format!("{b:02x}")
            }
        })
        .collect()
}

fn json_string(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// `%j` (payload quoted) or `%J` (payload as is: it must be JSON; `None` when it is not
/// UTF-8 and so cannot be).
fn json(m: &Fields<'_>, raw_payload: bool) -> Option<String> {
    let (secs, nanos) = m.time;
    let (y, mo, d, h, mi, s) = civil(secs);
    let mut o = format!(
        "{{\"tst\":\"{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:06}+0000\",\"topic\":{},\"qos\":{},\"retain\":{},\"payloadlen\":{}",
        nanos / 1000,
        json_string(m.topic),
        m.qos as u8,
        u8::from(m.retain),
        m.payload.len()
    );
    if m.mid != 0 {
        o.push_str(&format!(",\"mid\":{}", m.mid));
    }
    let payload = String::from_utf8_lossy(m.payload);
    if raw_payload {
        let p = core::str::from_utf8(m.payload).ok()?;
        o.push_str(&format!(",\"payload\":{p}}}"));
    } else {
        o.push_str(&format!(",\"payload\":{}}}", json_string(&payload)));
    }
    Some(o)
}

/// One `%` field, padded: `zero` for the numeric ones, `left` aligned with `-`.
struct Spec {
    left: bool,
    zero: bool,
    width: usize,
    precision: Option<usize>,
}

impl Spec {
    fn pad(&self, s: &str, numeric: bool, truncates: bool) -> String {
        let s: String = match (truncates, self.precision) {
            (true, Some(p)) => s.chars().take(p).collect(),
            _ => s.to_string(),
        };
        let n = s.chars().count();
        if n >= self.width {
            return s;
        }
        let fill = self.width - n;
        if self.left {
            format!("{s}{}", " ".repeat(fill))
        } else if self.zero && numeric {
            format!("{}{s}", "0".repeat(fill))
        } else {
            format!("{}{s}", " ".repeat(fill))
        }
    }
}

/// The output of `format` for one message (without the newline mosquitto_sub adds unless
/// `-N`). Bytes, as `%p` is the payload's raw bytes. An unknown sequence is printed as is.
pub fn render(format: &str, m: &Fields<'_>) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::new();
    let chars: Vec<char> = format.chars().collect();
    let mut i = 0;
    let push = |out: &mut Vec<u8>, s: &str| out.extend_from_slice(s.as_bytes());
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '%' if i < chars.len() => {
                let mut spec = Spec {
                    left: false,
                    zero: false,
                    width: 0,
                    precision: None,
                };
                let start = i - 1;
                while i < chars.len() && matches!(chars[i], '-' | '0') {
                    if chars[i] == '-' {
                        spec.left = true;
                    } else {
                        spec.zero = true;
                    }
                    i += 1;
                }
                while i < chars.len() && chars[i].is_ascii_digit() {
                    spec.width = spec.width * 10 + chars[i].to_digit(10).unwrap_or(0) as usize;
                    i += 1;
                }
                if i < chars.len() && chars[i] == '.' {
                    i += 1;
                    let mut p = 0;
                    while i < chars.len() && chars[i].is_ascii_digit() {
                        p = p * 10 + chars[i].to_digit(10).unwrap_or(0) as usize;
                        i += 1;
                    }
                    spec.precision = Some(p);
                }
                let Some(&f) = chars.get(i) else {
                    push(&mut out, &chars[start..].iter().collect::<String>());
                    break;
                };
                i += 1;
                let p = m.properties;
                let opt = |v: Option<String>| v.unwrap_or_default();
                match f {
                    '%' => out.push(b'%'),
                    't' => push(&mut out, &spec.pad(m.topic, false, true)),
                    'p' => {
                        let n = m.payload.len();
                        if n < spec.width && !spec.left {
                            push(&mut out, &" ".repeat(spec.width - n));
                        }
                        out.extend_from_slice(m.payload);
                        if n < spec.width && spec.left {
                            push(&mut out, &" ".repeat(spec.width - n));
                        }
                    }
                    'x' | 'X' => push(&mut out, &spec.pad(&hex(m.payload, f == 'X'), true, false)),
                    'l' => push(
                        &mut out,
                        &spec.pad(&m.payload.len().to_string(), true, false),
                    ),
                    'q' => push(&mut out, &(m.qos as u8).to_string()),
                    'r' => push(&mut out, if m.retain { "1" } else { "0" }),
                    'm' => push(&mut out, &spec.pad(&m.mid.to_string(), true, false)),
                    'I' => push(&mut out, &spec.pad(&iso8601(m.time.0), false, true)),
                    'U' => push(&mut out, &format!("{}.{:09}", m.time.0, m.time.1)),
                    'j' | 'J' => match json(m, f == 'J') {
                        Some(j) => push(&mut out, &j),
                        None => push(&mut out, "Error: payload is not valid JSON"),
                    },
                    'A' => push(
                        &mut out,
                        &spec.pad(&opt(m.topic_alias.map(|a| a.to_string())), true, false),
                    ),
                    'C' => push(
                        &mut out,
                        &spec.pad(&opt(p.content_type.clone()), false, true),
                    ),
                    'D' => out.extend_from_slice(p.correlation_data.as_deref().unwrap_or_default()),
                    'E' => push(
                        &mut out,
                        &spec.pad(
                            &opt(p.message_expiry_interval.map(|e| e.to_string())),
                            true,
                            false,
                        ),
                    ),
                    'F' => push(
                        &mut out,
                        &spec.pad(
                            &opt(p.payload_format_indicator.map(|b| u8::from(b).to_string())),
                            true,
                            false,
                        ),
                    ),
                    'P' => {
                        let ups: Vec<String> = p
                            .user_properties
                            .iter()
                            .map(|(k, v)| format!("{k}:{v}"))
                            .collect();
                        push(&mut out, &ups.join(" "))
                    }
                    'R' => push(
                        &mut out,
                        &spec.pad(&opt(p.response_topic.clone()), false, true),
                    ),
                    'S' => {
                        let ids: Vec<String> = p
                            .subscription_identifiers
                            .iter()
                            .map(|s| s.to_string())
                            .collect();
                        push(&mut out, &spec.pad(&ids.join(","), true, false))
                    }
                    other => {
                        let s: String = chars[start..i - 1].iter().collect();
                        push(&mut out, &s);
                        push(&mut out, &other.to_string());
                    }
                }
            }
            '@' if i < chars.len() => {
                let f = chars[i];
                i += 1;
                let (y, mo, d, h, mi, s) = civil(m.time.0);
                let t = match f {
                    'Y' => format!("{y:04}"),
                    'm' => format!("{mo:02}"),
                    'd' => format!("{d:02}"),
                    'H' => format!("{h:02}"),
                    'M' => format!("{mi:02}"),
                    'S' => format!("{s:02}"),
                    'N' => format!("{:09}", m.time.1),
                    's' => m.time.0.to_string(),
                    'z' => "+0000".into(),
                    'F' => format!("{y:04}-{mo:02}-{d:02}"),
                    'T' => format!("{h:02}:{mi:02}:{s:02}"),
                    '@' => "@".into(),
                    other => format!("@{other}"),
                };
                push(&mut out, &t);
            }
            '\\' if i < chars.len() => {
                let e = chars[i];
                i += 1;
                match e {
                    '\\' => out.push(b'\\'),
                    '0' => out.push(0),
                    'a' => out.push(7),
                    'e' => out.push(0x1b),
                    'n' => out.push(b'\n'),
                    'r' => out.push(b'\r'),
                    't' => out.push(b'\t'),
                    'v' => out.push(0x0b),
                    other => {
                        out.push(b'\\');
                        push(&mut out, &other.to_string());
                    }
                }
            }
            c => push(&mut out, c.encode_utf8(&mut [0; 4])),
        }
    }
    out
}
