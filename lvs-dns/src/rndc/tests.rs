use super::*;

fn key() -> Key {
    Key::from_conf(
        "rndc-key",
        "hmac-sha256",
        "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
    )
    .unwrap()
}

/// A request as rndc builds it.
fn request(k: &Key, ser: u32, tim: u32, nonce: Option<u32>, cmd: &str) -> Vec<u8> {
    let mut ctrl = Table::default();
    ctrl.put_u32("_ser", ser);
    ctrl.put_u32("_tim", tim);
    ctrl.put_u32("_exp", tim + 60);
    if let Some(n) = nonce {
        ctrl.put_u32("_nonce", n);
    }
    let mut data = Table::default();
    data.put_text("type", cmd);
    let mut t = Table::default();
    t.put_table("_ctrl", ctrl);
    t.put_table("_data", data);
    k.sign(&t).unwrap()
}

const NOW: u64 = 1_800_000_000;

#[test]
fn handshake_then_command_then_signed_reply() {
    let k = key();
    let mut srv = Server::new(vec![key()]);
    let mut s = Session::default();
    let Step::Handshake(reply) = srv
        .receive(&mut s, NOW, &request(&k, 1, NOW as u32, None, "null"), 77)
        .unwrap()
    else {
        panic!("first message must be the handshake");
    };
    let d = codec::decode(&reply).unwrap();
    assert!(k.verify(&reply, &d));
    let ctrl = d.table.table("_ctrl").unwrap();
    assert_eq!(ctrl.get("_nonce").unwrap().uint32(), Some(77));
    assert_eq!(ctrl.get("_rpl").unwrap().text(), Some("1"));
    assert_eq!(ctrl.get("_ser").unwrap().uint32(), Some(1));

    let cmd = request(&k, 2, NOW as u32, Some(77), "flushname example.com");
    let Step::Command(req) = srv.receive(&mut s, NOW + 1, &cmd, 5).unwrap() else {
        panic!("second message is a command");
    };
    assert_eq!(req.command, "flushname example.com");
    let reply = srv
        .respond(&s, &req, NOW + 1, Ok(Some("done".into())))
        .unwrap();
    let d = codec::decode(&reply).unwrap();
    assert!(k.verify(&reply, &d));
    let data = d.table.table("_data").unwrap();
    assert_eq!(data.get("result").unwrap().uint32(), Some(0));
    assert_eq!(data.get("text").unwrap().text(), Some("done"));
    assert_eq!(
        data.get("type").unwrap().text(),
        Some("flushname example.com")
    );

    let reply = srv
        .respond(&s, &req, NOW + 1, Err(("not found".into(), None)))
        .unwrap();
    let d = codec::decode(&reply).unwrap();
    let data = d.table.table("_data").unwrap();
    assert_ne!(data.get("result").unwrap().uint32(), Some(0));
    assert_eq!(data.get("err").unwrap().text(), Some("not found"));
}

#[test]
fn nonce_is_required_and_must_match() {
    let k = key();
    let mut srv = Server::new(vec![key()]);
    let mut s = Session::default();
    srv.receive(&mut s, NOW, &request(&k, 1, NOW as u32, None, "null"), 0)
        .unwrap();
    assert_eq!(s.nonce(), 1, "a zero nonce becomes 1");
    let e = srv.receive(&mut s, NOW, &request(&k, 2, NOW as u32, None, "stop"), 9);
    assert_eq!(e, Err(RndcError::BadNonce));
    let e = srv.receive(&mut s, NOW, &request(&k, 3, NOW as u32, Some(2), "stop"), 9);
    assert_eq!(e, Err(RndcError::BadNonce));
}

#[test]
fn clock_window_expiry_duplicates_keys_and_replies() {
    let k = key();
    let mut srv = Server::new(vec![key()]);
    let tim = NOW as u32;
    let mut s = Session::default();
    assert_eq!(
        srv.receive(&mut s, NOW + 301, &request(&k, 1, tim, None, "null"), 1),
        Err(RndcError::ClockSkew)
    );
    assert_eq!(
        srv.receive(&mut s, NOW - 301, &request(&k, 1, tim, None, "null"), 1),
        Err(RndcError::ClockSkew)
    );
    // Inside the window but after _exp (tim + 60).
    assert_eq!(
        srv.receive(&mut s, NOW + 61, &request(&k, 1, tim, None, "null"), 1),
        Err(RndcError::Expired)
    );
    let frame = request(&k, 1, tim, None, "null");
    assert!(srv.receive(&mut s, NOW + 300 - 240, &frame, 1).is_ok());
    let mut s2 = Session::default();
    assert_eq!(
        srv.receive(&mut s2, NOW, &frame, 1),
        Err(RndcError::Duplicate)
    );
    // After the lifetime the entry is gone (the clock window now rejects it instead).
    assert_eq!(
        srv.receive(&mut s2, NOW + 60 + DUP_LIFETIME, &frame, 1),
        Err(RndcError::ClockSkew)
    );
    assert!(srv.dups.is_empty());
    let other = Key::from_conf("rndc-key", "hmac-sha256", "b3RoZXI=").unwrap();
    assert_eq!(
        srv.receive(&mut s2, NOW, &request(&other, 5, tim, None, "null"), 1),
        Err(RndcError::BadAuth)
    );
    // A reply is never accepted as a request.
    let mut s3 = Session::default();
    let Step::Handshake(reply) = srv
        .receive(&mut s3, NOW, &request(&k, 6, tim, None, "null"), 3)
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(
        srv.receive(&mut Session::default(), NOW, &reply, 1),
        Err(RndcError::Reply)
    );
}

#[test]
fn second_key_verifies_and_signs_the_reply() {
    let k2 = Key::from_conf("two", "hmac-sha512", "dHdv").unwrap();
    let mut srv = Server::new(vec![key(), k2.clone()]);
    let mut s = Session::default();
    let Step::Handshake(reply) = srv
        .receive(&mut s, NOW, &request(&k2, 1, NOW as u32, None, "null"), 4)
        .unwrap()
    else {
        panic!()
    };
    let d = codec::decode(&reply).unwrap();
    assert!(k2.verify(&reply, &d));
    assert!(!key().verify(&reply, &d));
}
