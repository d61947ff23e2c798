//! The pure probe helpers: nanny escapes and send/expect, command templates, HTTP status and
//! digest, program output and exit status, memcached and DNS replies.

use lvs_core::health::judge::{
    MAX_EXPECT, MEMCACHED_VERSION, http_body, http_request, judge_dns, judge_exit_status,
    judge_expect, judge_http, judge_memcached, judge_program, md5, md5_hex, parse_digest,
    parse_status_line,
};
use lvs_core::health::{
    FailReason, HttpCheck, NANNY_HTTP_SEND, ProbeResult, ProgramCheck, ProgramJudge, SendExpect,
    TemplateError, expand, unescape,
};

const PASS: ProbeResult = ProbeResult::Pass;

fn fail(r: FailReason) -> ProbeResult {
    ProbeResult::Fail(r)
}

#[test]
fn unescape_follows_nanny() {
    let table: &[(&str, &str)] = &[
        (r"", ""),
        (r"\", "\\"),       // one character: left alone
        (r"n", "n"),        // one character: left alone
        (r"\n", "\n"),      // two characters: translated
        (r"\r\n", "\r\n"),  // CR LF
        (r"\t", "\t"),      // tab
        (r"\\", "\\"),      // escaped backslash
        (r"\\n", "\\n"),    // backslash, then a plain n
        (r"\\\n", "\\\n"),  // backslash, then newline
        (r#"\'\""#, "'\""), // quotes
        (r"a\qb", "a\\qb"), // unknown escape kept verbatim
        (r"ab\", "ab\\"),   // trailing backslash kept
        (r"\x41", "\\x41"), // no hex escapes in nanny
        (r"é\nü", "é\nü"),  // non-ASCII passes through
        (
            r"GET / HTTP/1.0\r\nHost: a\r\n\r\n",
            "GET / HTTP/1.0\r\nHost: a\r\n\r\n",
        ),
    ];
    for (input, want) in table {
        assert_eq!(unescape(input), *want, "unescape({input:?})");
    }
}

#[test]
fn nanny_send_expect_defaults() {
    // Port 80 with neither string: nanny's built-in GET, nothing read.
    let p = SendExpect::nanny(80, None, None, false);
    assert_eq!(
        (p.send.as_slice(), p.expect.as_deref()),
        (NANNY_HTTP_SEND, None)
    );
    assert_eq!(p.read_len(), 0);
    // Another port with neither string: connect only.
    let p = SendExpect::nanny(21, None, None, false);
    assert!(p.send.is_empty() && p.expect.is_none());
    // An expect string on port 80 turns the default off.
    let p = SendExpect::nanny(80, None, Some("HTTP"), false);
    assert!(p.send.is_empty());
    assert_eq!(p.read_len(), 4);
    // Translation, and its suppression (nanny -T).
    let p = SendExpect::nanny(110, Some(r"QUIT\r\n"), Some(r"+OK"), false);
    assert_eq!(p.send, b"QUIT\r\n");
    let p = SendExpect::nanny(110, Some(r"QUIT\r\n"), None, true);
    assert_eq!(p.send, br"QUIT\r\n");
    // An empty expect string is no expect string; the wildcard reads one byte.
    assert_eq!(
        SendExpect::nanny(1, Some("x"), Some(""), false).expect,
        None
    );
    assert_eq!(SendExpect::nanny(1, None, Some("*"), false).read_len(), 1);
    let long = "a".repeat(400);
    assert_eq!(
        SendExpect::nanny(1, None, Some(&long), false).read_len(),
        MAX_EXPECT
    );
}

#[test]
fn expect_matching() {
    assert_eq!(judge_expect(b"+OK POP3 ready\r\n", b"+OK"), PASS);
    assert_eq!(judge_expect(b"+OK", b"+OK"), PASS);
    assert_eq!(judge_expect(b"+O", b"+OK"), fail(FailReason::ShortReply));
    assert_eq!(judge_expect(b"", b"+OK"), fail(FailReason::ShortReply));
    assert_eq!(judge_expect(b"-ERR", b"+OK"), fail(FailReason::Mismatch));
    assert_eq!(judge_expect(b" +OK", b"+OK"), fail(FailReason::Mismatch));
    // Wildcard: anything, even an empty read after the socket became readable.
    assert_eq!(judge_expect(b"", b"*"), PASS);
    assert_eq!(judge_expect(b"zzz", b"*"), PASS);
    // Only the first MAX_EXPECT bytes of the expect string are compared.
    let long = vec![b'a'; 300];
    let mut reply = vec![b'a'; MAX_EXPECT];
    assert_eq!(judge_expect(&reply, &long), PASS);
    reply[MAX_EXPECT - 1] = b'b';
    assert_eq!(judge_expect(&reply, &long), fail(FailReason::Mismatch));
}

#[test]
fn command_templates() {
    let t4 = "192.0.2.7:8080".parse().unwrap();
    let t6 = "[2001:db8::9]:443".parse().unwrap();
    assert_eq!(expand("%h", t4), "192.0.2.7");
    assert_eq!(expand("%p", t6), "443");
    assert_eq!(expand("%h-%p", t6), "2001:db8::9-443");
    assert_eq!(expand("%%h", t4), "%h");
    assert_eq!(expand("50%", t4), "50%");
    assert_eq!(expand("%q %", t4), "%q %");

    let p = ProgramCheck::parse(
        "  /usr/bin/check  --host=%h \"--name=a b\" '%p'  ",
        ProgramJudge::Output("OK".into()),
    )
    .unwrap();
    assert_eq!(p.argv, ["/usr/bin/check", "--host=%h", "--name=a b", "%p"]);
    assert_eq!(
        p.expand(t4),
        ["/usr/bin/check", "--host=192.0.2.7", "--name=a b", "8080"]
    );
    assert_eq!(
        ProgramCheck::parse("x ''", ProgramJudge::Output("OK".into()))
            .unwrap()
            .argv,
        ["x", ""]
    );
    let j = ProgramJudge::ExitCode { dynamic: false };
    assert_eq!(
        ProgramCheck::parse("   ", j.clone()),
        Err(TemplateError::Empty)
    );
    assert_eq!(
        ProgramCheck::parse("check 'oops", j),
        Err(TemplateError::UnterminatedQuote)
    );
}

#[test]
fn http_status_lines() {
    let table: &[(&[u8], Option<u16>)] = &[
        (b"HTTP/1.1 200 OK\r\n", Some(200)),
        (b"HTTP/1.0 404 Not Found\r\n\r\n", Some(404)),
        (b"HTTP/2 503\r\n", Some(503)),
        (b"HTTP/1.1 301", Some(301)),
        (b"HTTP/1.1 200\n", Some(200)),
        (b"HTTP/1.1 2000 OK\r\n", None),
        (b"HTTP/1.1 20 OK\r\n", None),
        (b"HTTP/1.1 abc OK\r\n", None),
        (b"HTTP/x 200 OK\r\n", None),
        (b"HTTP/ 200 OK\r\n", None),
        (b"http/1.1 200 OK\r\n", None),
        (b"ICY 200 OK\r\n", None),
        (b"HTTP/1.1", None),
        (b"", None),
    ];
    for (line, want) in table {
        assert_eq!(
            parse_status_line(line),
            *want,
            "{:?}",
            String::from_utf8_lossy(line)
        );
    }
}

#[test]
fn http_bodies_and_digests() {
    assert_eq!(
        http_body(b"HTTP/1.0 200 OK\r\nA: b\r\n\r\nbody"),
        Some(&b"body"[..])
    );
    assert_eq!(http_body(b"HTTP/1.0 200 OK\n\nbody"), Some(&b"body"[..]));
    assert_eq!(http_body(b"HTTP/1.0 200 OK\r\n\r\n"), Some(&b""[..]));
    assert_eq!(http_body(b"HTTP/1.0 200 OK\r\nA: b\r\n"), None);
    // RFC 1321 test suite.
    assert_eq!(md5_hex(b"a"), "0cc175b9c0f1b6a831c399e269772661");
    assert_eq!(md5_hex(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
    assert_eq!(
        md5_hex(
            b"12345678901234567890123456789012345678901234567890123456789012345678901234567890"
        ),
        "57edf4a22be3c955ac49da2e2107b67a"
    );
    let d = parse_digest("900150983CD24FB0D6963F7D28E17F72").unwrap();
    assert_eq!(d, md5(b"abc"));
    assert_eq!(parse_digest(" 900150983cd24fb0d6963f7d28e17f72\n"), Some(d));
    assert_eq!(parse_digest("900150983cd24fb0d6963f7d28e17f7"), None);
    assert_eq!(parse_digest("900150983cd24fb0d6963f7d28e17f7g"), None);
    assert_eq!(parse_digest("+00150983cd24fb0d6963f7d28e17f72"), None);
}

#[test]
fn http_judging() {
    let mut check = HttpCheck::get("/status");
    let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
    assert_eq!(judge_http(ok, &check), PASS);
    assert_eq!(judge_http(b"HTTP/1.1 299 X\r\n\r\n", &check), PASS);
    assert_eq!(
        judge_http(b"HTTP/1.1 302 Found\r\n\r\n", &check),
        fail(FailReason::HttpStatus(302))
    );
    assert_eq!(
        judge_http(b"garbage", &check),
        fail(FailReason::HttpMalformed)
    );
    check.status = Some(302);
    assert_eq!(judge_http(b"HTTP/1.1 302 Found\r\n\r\n", &check), PASS);
    assert_eq!(judge_http(ok, &check), fail(FailReason::HttpStatus(200)));
    check.status = Some(200);
    check.digest = Some(md5(b"abc"));
    assert_eq!(judge_http(ok, &check), PASS);
    assert_eq!(
        judge_http(b"HTTP/1.1 200 OK\r\n\r\nabd", &check),
        fail(FailReason::Digest)
    );
    // The status is checked before the digest; headers that never end cannot be digested.
    assert_eq!(
        judge_http(b"HTTP/1.1 500 E\r\n\r\nabc", &check),
        fail(FailReason::HttpStatus(500))
    );
    assert_eq!(
        judge_http(b"HTTP/1.1 200 OK\r\nX: y", &check),
        fail(FailReason::HttpMalformed)
    );
}

#[test]
fn http_requests() {
    let mut c = HttpCheck::get("/");
    let req =
        |c: &HttpCheck, t: &str| String::from_utf8(http_request(c, t.parse().unwrap())).unwrap();
    assert!(req(&c, "192.0.2.1:80").starts_with("GET / HTTP/1.0\r\nHost: 192.0.2.1\r\n"));
    assert!(req(&c, "[2001:db8::1]:80").contains("\r\nHost: [2001:db8::1]\r\n"));
    assert!(req(&c, "[2001:db8::1]:8080").contains("\r\nHost: [2001:db8::1]:8080\r\n"));
    c.tls = true;
    assert!(req(&c, "192.0.2.1:443").contains("\r\nHost: 192.0.2.1\r\n"));
    assert!(req(&c, "192.0.2.1:80").contains("\r\nHost: 192.0.2.1:80\r\n"));
    c.host = Some("www.example.com".into());
    c.path = String::new();
    let r = req(&c, "192.0.2.1:443");
    assert!(r.starts_with("GET / HTTP/1.0\r\nHost: www.example.com\r\n"));
    assert!(r.ends_with("\r\nConnection: close\r\n\r\n"));
}

#[test]
fn misc_exit_status_rule() {
    for (status, dynamic, want) in [
        (0, false, PASS),
        (0, true, PASS),
        (1, false, fail(FailReason::ExitStatus(1))),
        (1, true, fail(FailReason::ExitStatus(1))),
        (2, false, fail(FailReason::ExitStatus(2))),
        (2, true, ProbeResult::PassWeight(0)),
        (3, true, ProbeResult::PassWeight(1)),
        (255, true, ProbeResult::PassWeight(253)),
        (256, true, fail(FailReason::ExitStatus(256))),
        (-1, true, fail(FailReason::ExitStatus(-1))),
    ] {
        assert_eq!(
            judge_exit_status(status, dynamic),
            want,
            "{status} {dynamic}"
        );
    }
}

#[test]
fn program_output_rule() {
    let ok = ProgramJudge::Output("OK".into());
    assert_eq!(judge_program(Some(0), b"OK", &ok), PASS);
    assert_eq!(judge_program(Some(0), b"  OK \r\nmore\n", &ok), PASS);
    assert_eq!(
        judge_program(Some(0), b"FAIL\n", &ok),
        fail(FailReason::ProgramOutput)
    );
    assert_eq!(
        judge_program(Some(0), b"OKAY\n", &ok),
        fail(FailReason::ProgramOutput)
    );
    assert_eq!(
        judge_program(Some(0), b"\nOK\n", &ok),
        fail(FailReason::ProgramOutput)
    );
    assert_eq!(
        judge_program(Some(0), b"", &ok),
        fail(FailReason::ProgramOutput)
    );
    assert_eq!(
        judge_program(Some(3), b"OK\n", &ok),
        fail(FailReason::ExitStatus(3))
    );
    assert_eq!(
        judge_program(None, b"OK\n", &ok),
        fail(FailReason::ProgramAbnormal)
    );
    let dynamic = ProgramJudge::ExitCode { dynamic: true };
    assert_eq!(
        judge_program(Some(12), b"ignored", &dynamic),
        ProbeResult::PassWeight(10)
    );
    assert_eq!(
        judge_program(None, b"", &dynamic),
        fail(FailReason::ProgramAbnormal)
    );
}

#[test]
fn memcached_replies() {
    assert_eq!(MEMCACHED_VERSION, b"version\r\n");
    assert_eq!(judge_memcached(b"VERSION 1.6.21\r\n"), PASS);
    assert_eq!(judge_memcached(b"VERSION 0.8.0 (twemproxy)\r\n"), PASS);
    for bad in [
        &b"VERSION"[..],
        b"version 1.6\r\n",
        b"ERROR\r\n",
        b"",
        b"SERVER_ERROR x\r\n",
    ] {
        assert_eq!(judge_memcached(bad), fail(FailReason::Memcached));
    }
}

#[test]
fn dns_replies() {
    let mut r = [0xab, 0xcd, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 0xff];
    assert_eq!(judge_dns(&r, 0xabcd), PASS);
    assert_eq!(judge_dns(&r[..12], 0xabcd), PASS);
    assert_eq!(judge_dns(&r[..11], 0xabcd), fail(FailReason::DnsMalformed));
    assert_eq!(judge_dns(&r, 0xabce), fail(FailReason::DnsMalformed));
    r[3] = 0x82; // SERVFAIL
    assert_eq!(judge_dns(&r, 0xabcd), fail(FailReason::DnsRcode(2)));
    r[3] = 0x85; // REFUSED
    assert_eq!(judge_dns(&r, 0xabcd), fail(FailReason::DnsRcode(5)));
    r[3] = 0x80;
    r[2] = 0x01; // a query, not a response
    assert_eq!(judge_dns(&r, 0xabcd), fail(FailReason::DnsMalformed));
    r[2] = 0x80 | (2 << 3); // opcode STATUS
    assert_eq!(judge_dns(&r, 0xabcd), fail(FailReason::DnsMalformed));
}
