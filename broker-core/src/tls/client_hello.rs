//! A look at the start of a TLS ClientHello: which cipher suites the client
//! offers, so a listener can hand the connection to the TLS stack that
//! speaks them (Broker's anonymous suite to OpenSSL, everything else to
//! rustls). Only reads; any malformation ends the look and the connection
//! goes to rustls, which then reports the error properly.

/// The most bytes worth looking at: one record header and a full record.
pub(crate) const MAX_PEEK: usize = 5 + (1 << 14) + 2048;

/// What the first bytes of a connection say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Peeked {
    /// Not a TLS ClientHello (or a malformed one).
    NotHello,
    /// A ClientHello so far; more bytes are needed to see its cipher suites.
    NeedMore,
    /// A ClientHello; whether it offers the suite asked about.
    Hello {
        /// The suite is in the client's list.
        offered: bool,
    },
}

/// Whether the ClientHello at the start of `bytes` offers `suite`.
pub(crate) fn offers_suite(bytes: &[u8], suite: u16) -> Peeked {
    // Record header: content type 22 (handshake), version 3.x, length.
    let Some(header) = bytes.get(..5) else {
        return match bytes {
            [] | [0x16] | [0x16, 0x03] | [0x16, 0x03, _] | [0x16, 0x03, _, _] => Peeked::NeedMore,
            _ => Peeked::NotHello,
        };
    };
    if header[0] != 0x16 || header[1] != 0x03 {
        return Peeked::NotHello;
    }
    let record_end = 5 + usize::from(u16::from_be_bytes([header[3], header[4]]));
    // Handshake header: type 1 (ClientHello), 24-bit length; then the
    // client version (2) and random (32).
    let mut at = 5;
    let Some(&kind) = bytes.get(at) else {
        return Peeked::NeedMore;
    };
    if kind != 1 {
        return Peeked::NotHello;
    }
    at += 4 + 2 + 32;
    let Some(&session_id_len) = bytes.get(at) else {
        return need_more_or_not(bytes, at, record_end);
    };
    if session_id_len > 32 {
        return Peeked::NotHello;
    }
    at += 1 + usize::from(session_id_len);
    let Some(len) = bytes.get(at..at + 2) else {
        return need_more_or_not(bytes, at + 2, record_end);
    };
    let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
    at += 2;
    if len % 2 != 0 || at + len > record_end {
        return Peeked::NotHello;
    }
    let Some(list) = bytes.get(at..at + len) else {
        return Peeked::NeedMore;
    };
    let offered = list
        .chunks_exact(2)
        .any(|pair| u16::from_be_bytes([pair[0], pair[1]]) == suite);
    Peeked::Hello { offered }
}

/// `NeedMore` while `needed` bytes still fit in the record, else `NotHello`.
fn need_more_or_not(bytes: &[u8], needed: usize, record_end: usize) -> Peeked {
    if needed > record_end || bytes.len() >= record_end {
        Peeked::NotHello
    } else {
        Peeked::NeedMore
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ClientHello record offering `suites`, with a session id of
    /// `session_id` bytes and a few bytes of extensions after the list.
    fn hello(suites: &[u16], session_id: u8) -> Vec<u8> {
        let mut body = vec![0x03, 0x03];
        body.extend([7u8; 32]);
        body.push(session_id);
        body.extend(std::iter::repeat_n(9u8, usize::from(session_id)));
        let list: Vec<u8> = suites.iter().flat_map(|s| s.to_be_bytes()).collect();
        body.extend(u16::try_from(list.len()).unwrap().to_be_bytes());
        body.extend(list);
        body.extend([1, 0, 0, 0]); // compression methods and empty extensions
        let mut handshake = vec![1];
        handshake.extend(&u32::try_from(body.len()).unwrap().to_be_bytes()[1..]);
        handshake.extend(body);
        let mut record = vec![0x16, 0x03, 0x01];
        record.extend(u16::try_from(handshake.len()).unwrap().to_be_bytes());
        record.extend(handshake);
        record
    }

    #[test]
    fn client_hello_with_the_anonymous_suite_is_recognised() {
        let bytes = hello(&[0x1302, 0x1301, 0xC019, 0x00FF], 32);
        assert_eq!(
            offers_suite(&bytes, 0xC019),
            Peeked::Hello { offered: true }
        );
        assert_eq!(
            offers_suite(&bytes, 0xC018),
            Peeked::Hello { offered: false }
        );
    }

    #[test]
    fn client_hello_without_the_anonymous_suite_is_told_apart() {
        let bytes = hello(&[0x1302, 0xC02C, 0xC030], 0);
        assert_eq!(
            offers_suite(&bytes, 0xC019),
            Peeked::Hello { offered: false }
        );
    }

    #[test]
    fn every_prefix_of_a_client_hello_asks_for_more() {
        let bytes = hello(&[0xC019], 32);
        let list_end = 5 + 4 + 2 + 32 + 1 + 32 + 2 + 2;
        for cut in 0..list_end {
            assert_eq!(
                offers_suite(&bytes[..cut], 0xC019),
                Peeked::NeedMore,
                "cut at {cut}"
            );
        }
        assert_eq!(
            offers_suite(&bytes[..list_end], 0xC019),
            Peeked::Hello { offered: true }
        );
    }

    #[test]
    fn other_bytes_are_not_a_hello() {
        // A Broker frame (plain TCP peer), an HTTP request, an alert record.
        assert_eq!(
            offers_suite(&[0, 0, 0, 0x17, 6, 0x5A], 0xC019),
            Peeked::NotHello
        );
        assert_eq!(
            offers_suite(b"GET / HTTP/1.1\r\n", 0xC019),
            Peeked::NotHello
        );
        assert_eq!(
            offers_suite(&[0x15, 0x03, 0x03, 0, 2, 2, 40], 0xC019),
            Peeked::NotHello
        );
        // A ServerHello (type 2) where a ClientHello belongs.
        let mut bytes = hello(&[0xC019], 0);
        bytes[5] = 2;
        assert_eq!(offers_suite(&bytes, 0xC019), Peeked::NotHello);
    }

    #[test]
    fn malformed_lengths_are_not_a_hello() {
        // Session id longer than 32 bytes.
        let mut bytes = hello(&[0xC019], 0);
        bytes[5 + 4 + 2 + 32] = 33;
        assert_eq!(offers_suite(&bytes, 0xC019), Peeked::NotHello);
        // An odd cipher suite list length.
        let mut bytes = hello(&[0xC019], 0);
        let at = 5 + 4 + 2 + 32 + 1;
        bytes[at + 1] = 3;
        assert_eq!(offers_suite(&bytes, 0xC019), Peeked::NotHello);
        // A list running past its record.
        let mut bytes = hello(&[0xC019], 0);
        bytes[at] = 0x7F;
        assert_eq!(offers_suite(&bytes, 0xC019), Peeked::NotHello);
        // A record too short to hold the session id length.
        let bytes = [0x16, 0x03, 0x01, 0x00, 0x04, 1, 0, 0, 0];
        assert_eq!(offers_suite(&bytes, 0xC019), Peeked::NotHello);
    }

    #[test]
    fn a_decision_never_changes_when_more_bytes_arrive() {
        // Random inputs, half of them starting like a handshake record:
        // once a prefix is decided (hello or not), the whole input says the
        // same, so the listener may stop peeking at the first decision.
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut decided = 0;
        for round in 0..5_000u32 {
            let mut bytes = if round % 2 == 0 {
                hello(&[0x1301, 0xC019, 0xC02C], (round % 33) as u8)
            } else {
                Vec::new()
            };
            for _ in 0..(round % 90) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                bytes.push(state as u8);
            }
            if round % 4 == 0 && bytes.len() > 50 {
                // Corrupt one byte of the header area.
                let at = (state % 50) as usize;
                bytes[at] ^= (state >> 8) as u8 | 1;
            }
            let whole = offers_suite(&bytes, 0xC019);
            for cut in 0..bytes.len() {
                let part = offers_suite(&bytes[..cut], 0xC019);
                if part != Peeked::NeedMore {
                    decided += 1;
                    assert_eq!(part, whole, "round {round}, cut {cut}");
                }
            }
        }
        assert!(decided > 1_000, "the inputs exercised decisions");
    }
}
