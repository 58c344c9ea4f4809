//! Topic names, topic filters, shared subscriptions and matching (src/topic.rs).
//!
//! The examples are the ones MQTT 5.0 §4.7–4.8 and MQTT 3.1.1 §4.7 give; statements are cited
//! as `v5 MQTT-x.y.z-n` / `v3.1.1 MQTT-x.y.z-n` (labels differ between the two versions).

use wasmqtt::topic::{
    matches, parse_shared, validate_topic_filter, validate_topic_name, SharedFilter, TopicError,
    MAX_TOPIC_LEN,
};

fn filter_ok(f: &str) {
    assert_eq!(
        validate_topic_filter(f),
        Ok(()),
        "filter {f:?} should be valid"
    );
}

fn filter_err(f: &str, e: TopicError) {
    assert_eq!(validate_topic_filter(f), Err(e), "filter {f:?}");
}

fn name_ok(n: &str) {
    assert_eq!(validate_topic_name(n), Ok(()), "name {n:?} should be valid");
}

fn name_err(n: &str, e: TopicError) {
    assert_eq!(validate_topic_name(n), Err(e), "name {n:?}");
}

/// Asserts `filter` matches exactly the names in `yes` and none in `no` (and that every one of
/// them is a valid topic name, and the filter a valid filter, so the test means something).
fn check_matches(filter: &str, yes: &[&str], no: &[&str]) {
    filter_ok(filter);
    for n in yes {
        name_ok(n);
        assert!(matches(filter, n), "{filter:?} should match {n:?}");
    }
    for n in no {
        name_ok(n);
        assert!(!matches(filter, n), "{filter:?} should not match {n:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Topic names
// ---------------------------------------------------------------------------------------------

#[test]
fn names_valid() {
    for n in [
        "sport/tennis/player1",
        "sport",
        "/",                // v5 §4.7.3: "/" is a valid name with two empty levels
        "//",               // empty levels are allowed anywhere
        "/finance",         // leading separator: a distinct, valid name
        "finance/",         // trailing separator
        "Accounts payable", // v5 §4.7.3: spaces are allowed
        "ACCOUNTS",
        "$SYS/broker/uptime",
        "$share/not/a/filter-in-a-name",
        "A\u{2A6D4}",  // v5 §1.5.4 example string, a 4-byte UTF-8 character
        "\u{FEFF}bom", // v5 MQTT-1.5.4-3 / v3.1.1 MQTT-1.5.3-3: U+FEFF is an ordinary character
        "caf\u{E9}/\u{1F600}",
    ] {
        name_ok(n);
    }
}

// checks: v3.1.1 MQTT-4.7.1-1, v5 MQTT-4.7.0-1
#[test]
fn names_with_wildcards_are_invalid() {
    // v5 MQTT-4.7.0-1 / v3.1.1 MQTT-4.7.1-1: "The wildcard characters can be used in Topic
    // Filters, but MUST NOT be used within a Topic Name"; v5 and v3.1.1 MQTT-3.3.2-2.
    for n in [
        "#",
        "+",
        "sport/#",
        "sport/+/player1",
        "a+",
        "a#b",
        "+/x",
        "x/+",
    ] {
        name_err(n, TopicError::WildcardInName);
    }
}

// checks: v3.1.1 MQTT-4.7.3-1, v5 MQTT-4.7.3-1
#[test]
fn name_empty_is_invalid() {
    // v5 and v3.1.1 MQTT-4.7.3-1: "All Topic Names and Topic Filters MUST be at least one
    // character long".
    name_err("", TopicError::Empty);
}

// checks: v3.1.1 MQTT-4.7.3-2, v5 MQTT-4.7.3-2
#[test]
fn name_with_null_is_invalid() {
    // v5 and v3.1.1 MQTT-4.7.3-2: "Topic Names and Topic Filters MUST NOT include the null
    // character (Unicode U+0000)".
    name_err("a\0b", TopicError::NullCharacter);
    name_err("\0", TopicError::NullCharacter);
}

// checks: v3.1.1 MQTT-4.7.3-3, v5 MQTT-4.7.3-3
#[test]
fn name_length_limit() {
    // v5 MQTT-4.7.3-3 / v3.1.1 MQTT-4.7.3-3: they "MUST NOT encode to more than 65,535 bytes".
    let max = "a".repeat(MAX_TOPIC_LEN);
    name_ok(&max);
    let long = "a".repeat(MAX_TOPIC_LEN + 1);
    name_err(&long, TopicError::TooLong(MAX_TOPIC_LEN + 1));
    // The limit is in bytes, not characters: 21 846 three-byte characters are 65 538 bytes.
    let wide = "\u{20AC}".repeat(21_846);
    assert_eq!(wide.len(), 65_538);
    name_err(&wide, TopicError::TooLong(65_538));
    filter_err(&long, TopicError::TooLong(MAX_TOPIC_LEN + 1));
    filter_ok(&max);
}

// ---------------------------------------------------------------------------------------------
// Topic filters
// ---------------------------------------------------------------------------------------------

#[test]
fn filters_valid_examples_from_the_spec() {
    // v5 §4.7.1.2 / v3.1.1 §4.7.1.2 and §4.7.1.3.
    for f in [
        "#",
        "sport/tennis/#",
        "sport/#",
        "+",
        "+/tennis/#",
        "sport/+/player1",
        "sport/tennis/+",
        "+/+",
        "/+",
        "/#",
        "$SYS/#",
        "$SYS/monitor/+",
        "sport/tennis/player1/#",
        "a//b",
        "/",
        "+/+/+",
        "+/#",
    ] {
        filter_ok(f);
    }
}

// checks: v3.1.1 MQTT-4.7.1-2, v5 MQTT-4.7.1-1
#[test]
fn multi_level_wildcard_misplaced() {
    // v5 MQTT-4.7.1-1 / v3.1.1 MQTT-4.7.1-2: "The multi-level wildcard character MUST be
    // specified either on its own or following a topic level separator. In either case it MUST
    // be the last character specified in the Topic Filter". Spec examples: "sport/tennis#" and
    // "sport/tennis/#/ranking" are not valid.
    for f in [
        "sport/tennis#",
        "sport/tennis/#/ranking",
        "#/",
        "##",
        "#/#",
        "a/#b",
        "a/b#/c",
        "+#",
        "#+",
    ] {
        filter_err(f, TopicError::MisplacedMultiLevelWildcard);
    }
}

// checks: v3.1.1 MQTT-4.7.1-3, v5 MQTT-4.7.1-2
#[test]
fn single_level_wildcard_misplaced() {
    // v5 MQTT-4.7.1-2 / v3.1.1 MQTT-4.7.1-3: "Where it is used, it MUST occupy an entire level of
    // the filter". Spec example: "sport+" is not valid.
    for f in ["sport+", "+sport", "sport/+tennis", "a/b+/c", "++", "+/++"] {
        filter_err(f, TopicError::MisplacedSingleLevelWildcard);
    }
}

// checks: v3.1.1 MQTT-4.7.3-1, v3.1.1 MQTT-4.7.3-2, v5 MQTT-4.7.3-1, v5 MQTT-4.7.3-2
#[test]
fn filter_empty_and_null() {
    // v5 and v3.1.1 MQTT-4.7.3-1 and MQTT-4.7.3-2.
    filter_err("", TopicError::Empty);
    filter_err("a/\0", TopicError::NullCharacter);
    filter_err("\0/#", TopicError::NullCharacter);
}

// ---------------------------------------------------------------------------------------------
// Matching: the examples of §4.7
// ---------------------------------------------------------------------------------------------

#[test]
fn multi_level_wildcard_examples() {
    // v5 §4.7.1.2 / v3.1.1 §4.7.1.2: "if a Client subscribes to "sport/tennis/player1/#", it
    // would receive messages published using these Topic Names: "sport/tennis/player1",
    // "sport/tennis/player1/ranking", "sport/tennis/player1/score/wimbledon"".
    check_matches(
        "sport/tennis/player1/#",
        &[
            "sport/tennis/player1",
            "sport/tennis/player1/ranking",
            "sport/tennis/player1/score/wimbledon",
            "sport/tennis/player1/",
        ],
        &[
            "sport/tennis/player2",
            "sport/tennis",
            "sport/tennis/player10",
            "sport/tennis/player1ranking",
            "Sport/tennis/player1",
        ],
    );
    // ""sport/#" also matches the singular "sport", since # includes the parent level."
    check_matches(
        "sport/#",
        &["sport", "sport/", "sport/tennis", "sport/tennis/player1/x"],
        &["sports", "sportx/tennis", "/sport"],
    );
    // "#" matches every name that does not start with '$'.
    check_matches(
        "#",
        &["sport", "/", "/finance", "a/b/c/d", "x//y"],
        &["$SYS", "$SYS/monitor/Clients"],
    );
    check_matches("/#", &["/", "/finance", "/a/b"], &["finance", "a/"]);
}

#[test]
fn single_level_wildcard_examples() {
    // v5 §4.7.1.3 / v3.1.1 §4.7.1.3: ""sport/tennis/+" matches "sport/tennis/player1" and
    // "sport/tennis/player2", but not "sport/tennis/player1/ranking". Also, because the
    // single-level wildcard matches only a single level, "sport/+" does not match "sport" but
    // it does match "sport/"."
    check_matches(
        "sport/tennis/+",
        &[
            "sport/tennis/player1",
            "sport/tennis/player2",
            "sport/tennis/",
        ],
        &[
            "sport/tennis/player1/ranking",
            "sport/tennis",
            "sport/tennis2/x",
        ],
    );
    check_matches(
        "sport/+",
        &["sport/", "sport/tennis"],
        &["sport", "sport/tennis/x"],
    );
    // ""+" is valid ... "+/+" and "/+" match "/finance"; "+" does not match "/finance"."
    check_matches("+", &["sport", "finance", "x y"], &["/finance", "/", "a/b"]);
    check_matches("+/+", &["/finance", "a/b", "/"], &["finance", "a/b/c"]);
    check_matches("/+", &["/finance", "/"], &["finance", "a/b", "//x"]);
    check_matches(
        "sport/+/player1",
        &[
            "sport/tennis/player1",
            "sport//player1",
            "sport/golf/player1",
        ],
        &[
            "sport/player1",
            "sport/tennis/player2",
            "sport/tennis/x/player1",
        ],
    );
    check_matches(
        "+/tennis/#",
        &["sport/tennis", "sport/tennis/player1", "/tennis"],
        &["sport/golf/tennis", "tennis"],
    );
    check_matches("+/#", &["a", "a/b", "/"], &["$SYS/x"]);
}

#[test]
fn dollar_topics_not_matched_by_leading_wildcards() {
    // v5 and v3.1.1 MQTT-4.7.2-1: "The Server MUST NOT match Topic Filters starting with a
    // wildcard character (# or +) with Topic Names beginning with a $ character". Spec examples
    // (v5 §4.7.2): "A subscription to "#" will not receive any messages published to a topic
    // beginning with a $"; "A subscription to "+/monitor/Clients" will not receive any messages
    // published to "$SYS/monitor/Clients""; "A subscription to "$SYS/#" will receive messages
    // published to topics beginning with "$SYS/""; "A subscription to "$SYS/monitor/+" will
    // receive messages published to "$SYS/monitor/Clients"".
    assert!(!matches("#", "$SYS/monitor/Clients"));
    assert!(!matches("#", "$SYS"));
    assert!(!matches("#", "$"));
    assert!(!matches("+/monitor/Clients", "$SYS/monitor/Clients"));
    assert!(!matches("+", "$SYS"));
    assert!(!matches("+/#", "$SYS/monitor"));
    assert!(!matches("+/+/+", "$SYS/monitor/Clients"));
    assert!(matches("$SYS/#", "$SYS/monitor/Clients"));
    assert!(matches("$SYS/#", "$SYS"));
    assert!(matches("$SYS/monitor/+", "$SYS/monitor/Clients"));
    assert!(!matches("$SYS/monitor/+", "$SYS/monitor/Clients/x"));
    assert!(matches("$SYS/+/Clients", "$SYS/monitor/Clients"));
    // Only the first character counts: a '$' inside the name is ordinary.
    assert!(matches("#", "a/$SYS"));
    assert!(matches("+/$x", "a/$x"));
    assert!(matches("a/+", "a/$b"));
    // A '$' filter level must match literally.
    assert!(!matches("$SYS/#", "$sys/x"));
    assert!(!matches("$SYS/#", "SYS/x"));
    // Shared subscriptions are matched by their inner filter, with the same rule.
    assert!(!matches("$share/g/#", "$SYS/monitor/Clients"));
    assert!(!matches(
        "$share/g/+/monitor/Clients",
        "$SYS/monitor/Clients"
    ));
    assert!(matches("$share/g/$SYS/#", "$SYS/monitor/Clients"));
}

#[test]
fn matching_is_exact_without_normalisation() {
    // v5 and v3.1.1 MQTT-4.7.3-4: "the Server MUST NOT perform any normalization of Topic Names
    // or Topic Filters". v5 §4.7.3: "ACCOUNTS" and "Accounts" are two different topic names;
    // "/finance" is different from "finance".
    check_matches(
        "Accounts",
        &["Accounts"],
        &["ACCOUNTS", "accounts", "Accounts "],
    );
    check_matches("finance", &["finance"], &["/finance", "finance/"]);
    check_matches("/finance", &["/finance"], &["finance"]);
    check_matches(
        "Accounts payable",
        &["Accounts payable"],
        &["Accounts  payable"],
    );
    // Precomposed é (U+00E9) and e + combining acute (U+0065 U+0301) are different names.
    check_matches("caf\u{E9}", &["caf\u{E9}"], &["cafe\u{301}"]);
    check_matches("\u{FEFF}a", &["\u{FEFF}a"], &["a"]);
    check_matches("a//b", &["a//b"], &["a/b", "a///b"]);
    check_matches("a/b", &["a/b"], &["a/b/", "/a/b", "a"]);
}

#[test]
fn wildcards_match_empty_levels() {
    check_matches("+/+/+", &["//", "a//", "/b/"], &["/", "a/b/c/d"]);
    check_matches("a/+/c", &["a//c"], &["a/c"]);
    check_matches("+", &["a"], &["/"]);
}

// ---------------------------------------------------------------------------------------------
// Shared subscriptions (MQTT 5.0 §4.8.2)
// ---------------------------------------------------------------------------------------------

// checks: v5 MQTT-4.8.2-1, v5 MQTT-4.8.2-2
#[test]
fn shared_subscription_parsing() {
    // v5 §4.8.2 examples: "$share/consumer1/sport/tennis/+", "$share/consumer2/sport/tennis/+";
    // "$share/consumer1//finance" has the filter "/finance"; "$share/consumer1/+/finance" has the
    // filter "+/finance".
    let cases = [
        (
            "$share/consumer1/sport/tennis/+",
            "consumer1",
            "sport/tennis/+",
        ),
        (
            "$share/consumer2/sport/tennis/+",
            "consumer2",
            "sport/tennis/+",
        ),
        ("$share/consumer1//finance", "consumer1", "/finance"),
        ("$share/consumer1/+/finance", "consumer1", "+/finance"),
        ("$share/g/#", "g", "#"),
        ("$share/g/$SYS/#", "g", "$SYS/#"),
        ("$share/\u{1F600}/x", "\u{1F600}", "x"),
        ("$share/$share/x", "$share", "x"),
    ];
    for (full, group, filter) in cases {
        assert_eq!(
            parse_shared(full),
            Ok(Some(SharedFilter { group, filter })),
            "{full:?}"
        );
        filter_ok(full);
    }
}

#[test]
fn not_shared_subscriptions() {
    for f in [
        "sport/tennis",
        "$SYS/#",
        "$sharegroup/x",
        "$SHARE/g/x",
        "share/g/x",
        "/$share/g/x",
        "#",
    ] {
        assert_eq!(parse_shared(f), Ok(None), "{f:?}");
        filter_ok(f);
    }
}

// checks: v5 MQTT-4.8.2-1, v5 MQTT-4.8.2-2
#[test]
fn shared_subscription_errors() {
    // v5 MQTT-4.8.2-1: "A Shared Subscription's Topic Filter MUST start with $share/ and MUST
    // contain a ShareName that is at least one character long".
    // v5 MQTT-4.8.2-2: "The ShareName MUST NOT contain the characters "/", "+" or "#", but MUST
    // be followed by a "/" character. This "/" character MUST be followed by a Topic Filter".
    for f in [
        "$share",         // no share name at all
        "$share/",        // empty share name, no filter
        "$share//x",      // empty share name
        "$share/group",   // share name not followed by '/'
        "$share/group/",  // '/' not followed by a topic filter
        "$share/gr+up/x", // '+' in the share name
        "$share/+/x",
        "$share/gr#up/x", // '#' in the share name
        "$share/#/x",
    ] {
        assert_eq!(
            parse_shared(f),
            Err(TopicError::InvalidSharedSubscription),
            "{f:?}"
        );
        filter_err(f, TopicError::InvalidSharedSubscription);
        // An invalid shared filter matches nothing.
        assert!(!matches(f, "x"), "{f:?}");
    }
}

#[test]
fn shared_subscription_inner_filter_is_validated() {
    filter_err(
        "$share/g/sport/tennis#",
        TopicError::MisplacedMultiLevelWildcard,
    );
    filter_err("$share/g/#/x", TopicError::MisplacedMultiLevelWildcard);
    filter_err("$share/g/a+", TopicError::MisplacedSingleLevelWildcard);
    filter_err("$share/g/\0", TopicError::NullCharacter);
}

#[test]
fn shared_subscription_matches_like_its_filter() {
    check_matches(
        "$share/consumer1/sport/tennis/+",
        &["sport/tennis/player1", "sport/tennis/"],
        &["sport/tennis", "$share/consumer1/sport/tennis/player1"],
    );
    check_matches("$share/consumer1//finance", &["/finance"], &["finance"]);
    check_matches(
        "$share/consumer1/+/finance",
        &["/finance", "a/finance"],
        &["finance", "a/b/finance"],
    );
    check_matches("$share/g/#", &["a", "a/b", "/"], &["$SYS/x"]);
}

#[test]
fn topic_error_messages() {
    // Each error has a human-readable message (used in codec errors and logs).
    for e in [
        TopicError::Empty,
        TopicError::TooLong(70_000),
        TopicError::NullCharacter,
        TopicError::WildcardInName,
        TopicError::MisplacedMultiLevelWildcard,
        TopicError::MisplacedSingleLevelWildcard,
        TopicError::InvalidSharedSubscription,
    ] {
        assert!(!e.to_string().is_empty());
    }
    assert!(TopicError::TooLong(70_000).to_string().contains("70000"));
}
