//! The usage text of `pub`, `sub` and `rr`.

/// The usage text, printed by `--help` (exit code 0) and after a flag error (exit code 2).
pub const USAGE: &str =
    "usage: wasmqtt-cli pub|sub|rr [flags]   (the flags and meanings of mosquitto_pub/sub/rr)
 connection (all):
  -h HOST         broker host (default localhost)
  -p PORT         broker port (default 1883; 8883 with --cafile/--capath)
  -L URL          broker and topic as one URL instead of -h -p -t:
                  mqtt(s)://[user[:password]@]host[:port]/topic or ws(s)://...;
                  repeat -L for failover (tried in turn; each names the same topic or none)
  --ws-path PATH  WebSocket path for ws(s):// URLs (default /mqtt)
  -u USER         user name
  -P PASSWORD     password
  -i ID           client id (default: wasmqtt-pub-/sub-/rr- and a random suffix)
  -I PREFIX       client id prefix (PREFIX and a random suffix)
  -k SECS         keep alive (default 60)
  -c              persistent session: clean session/clean start off; in MQTT 5 the session
                  never expires (session expiry 0xFFFFFFFF, as mosquitto's -c) unless -x
  -x SECS         MQTT 5 session expiry interval (-1 or 4294967295: never expires)
  -V 311|5        protocol version (default 311, rr: 5; also mqttv311, mqttv5)
  -q QOS          0, 1 or 2 (default 0)
  -W SECS         exit after SECS seconds (pub/rr: error; sub: error if -C was not reached)
  -d              debug: print the packets' progress on stderr
  --quiet         do not print error messages (the exit code still tells)
  -D COMMAND PROPERTY VALUE   MQTT 5 property: connect session-expiry-interval |
                  topic-alias-maximum (0: do not announce) | receive-maximum |
                  maximum-packet-size | request-response-information |
                  request-problem-information | user-property K V; publish content-type |
                  correlation-data | message-expiry-interval | payload-format-indicator |
                  response-topic | user-property K V; subscribe subscription-identifier;
                  will content-type | correlation-data | message-expiry-interval |
                  payload-format-indicator | response-topic | will-delay-interval |
                  user-property K V
  --will-topic T --will-payload P --will-qos Q --will-retain   will message
  --disconnect-with-will   (ours) in MQTT 5, end with DISCONNECT 0x04: the broker publishes
                  the will although the exit is clean (otherwise a clean exit sends none)
 pub:
  -t TOPIC        topic
  -m MESSAGE      message to publish
  -n              publish an empty message
  -f FILE         publish the contents of FILE as one message
  -s              publish what stdin holds as one message
  -l              publish each line of stdin as a message (empty lines are skipped)
  -r              retain
  --repeat N      publish the message N times
  --repeat-delay SECS   wait SECS (fractions allowed) between repeats
 sub:
  -t FILTER       filter (may repeat)
  -T FILTER       do not print messages whose topic matches FILTER (may repeat)
  -U FILTER       unsubscribe from FILTER (may repeat): alone, with -c, to end a session's
                  subscription
  -C COUNT        exit after COUNT messages
  -R              do not print stale (retained) messages
  -E              exit once the subscriptions are acknowledged
  --retained-only only print retained messages: exit at the first that is not retained
  --remove-retained   clear each retained message received (publish an empty retained one)
  -v              print the topic before each payload
  -N              no newline after each message
  -F FORMAT       output format: %t topic, %p payload, %x/%X hex payload, %l length,
                  %q QoS, %r retain, %m message id, %I ISO 8601 time, %U Unix time,
                  %j/%J JSON, %A %C %D %E %F %P %R %S MQTT 5 properties, %% %;
                  @X strftime-like time fields; \\n \\t \\e \\0 \\\\ escapes;
                  flags 0 and -, width and .precision as mosquitto_sub
 rr (MQTT 5 request/response, like mosquitto_rr):
  -t TOPIC        topic of the request
  -e TOPIC        response topic: subscribed to, sent as the request's Response Topic
  -m MESSAGE | -n | -f FILE | -s   the request's payload
  -D publish correlation-data DATA  correlation data (default: a random one)
  -W SECS         how long to wait for the response (default: forever); -N, -v, -F, -R as sub
 TLS (all):
  --cafile FILE   trust the CA certificates in this PEM file (with -h: TLS, port 8883)
  --capath DIR    trust every *.pem and *.crt in this directory (with -h: TLS, port 8883)
  --cert FILE     client certificate (PEM), with --key
  --key FILE      client private key (PEM), with --cert
  --insecure      do not check the broker's host name (the CA chain still is)
  --tls-alpn PROTO  offer this ALPN protocol (may repeat)
  --tls-version tlsv1.2|tlsv1.3   lowest TLS version to accept
  --tls-server-name NAME          name for SNI and the certificate check
  --help          print this and exit (code 0)
 exit codes: 0 done; 2 bad flags; the CONNACK code when refused (3.1.1: 1-5, 5.0: 128-162);
  7 connection lost or closed by the broker; 2 protocol error by the broker; 8 TLS/WebSocket
  handshake failed; 19 keep-alive timeout; 27 timed out (-W, connect timeout); 12 publish or
  subscription refused; 1 other errors (a file that cannot be read, ...). See docs/CLI.md.";
