//! Endpoints peering over real loopback TCP (plain: SSL disabled).

use std::time::Duration;

use broker_core::data::Data;
use broker_core::options::Options;
use broker_core::runtime::{Endpoint, EndpointError, StatusEvent, StatusSubscriber};
use broker_core::status::{ErrorCode, PeerStatus, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const WAIT: Duration = Duration::from_secs(10);

fn options() -> Options {
    Options {
        disable_ssl: true,
        default_listen_retry: Duration::ZERO,
        ..Options::default()
    }
}

fn endpoint() -> Endpoint {
    Endpoint::new(options()).unwrap()
}

/// Two peered endpoints: (listener, dialer, listener's port).
async fn pair() -> (Endpoint, Endpoint, u16) {
    pair_with(options()).await
}

/// [`pair`] with a listener built from `server_options`.
async fn pair_with(server_options: Options) -> (Endpoint, Endpoint, u16) {
    pair_of(server_options, options()).await
}

/// Two peered endpoints built from their own options.
async fn pair_of(server_options: Options, client_options: Options) -> (Endpoint, Endpoint, u16) {
    let server = Endpoint::new(server_options).unwrap();
    let client = Endpoint::new(client_options).unwrap();
    let port = server.listen("127.0.0.1", 0).await.unwrap();
    client
        .peer_and_wait("127.0.0.1", port, Duration::ZERO)
        .await
        .unwrap();
    server.await_peer(client.node_id(), WAIT).await.unwrap();
    (server, client, port)
}

async fn next_status(sub: &mut StatusSubscriber) -> StatusEvent {
    sub.recv_timeout(WAIT)
        .await
        .expect("a status event in time")
}

fn status_code(event: &StatusEvent) -> Option<StatusCode> {
    match event {
        StatusEvent::Status(s) => Some(s.code),
        StatusEvent::Error(_) => None,
    }
}

#[tokio::test]
async fn prefix_a_matches_alice_and_amy_but_not_bob() {
    let (server, client, _) = pair().await;
    let mut sub = server.subscribe(["a"]).await.unwrap();
    // The subscription travels to the client as a routing update.
    tokio::time::sleep(Duration::from_millis(100)).await;
    for topic in ["alice", "bob", "amy"] {
        client.publish(topic, Data::from(topic)).await.unwrap();
    }
    let first = sub.recv_timeout(WAIT).await.unwrap();
    let second = sub.recv_timeout(WAIT).await.unwrap();
    assert_eq!(first.topic.as_str(), "alice");
    assert_eq!(second.topic.as_str(), "amy");
    assert!(sub.recv_timeout(Duration::from_millis(200)).await.is_none());
}

#[tokio::test]
async fn a_zeek_event_publishes_as_it_is() {
    use broker_core::zeek::{Event, Message};
    let (server, client, _) = pair().await;
    let mut sub = server.subscribe(["zeek/events"]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let event = Event::new("Demo::ping", vec![Data::Count(42), Data::from("hi")]);
    client
        .publish("zeek/events/x", event.clone())
        .await
        .unwrap();
    let msg = sub.recv_timeout(WAIT).await.expect("delivered");
    assert_eq!(Message::from_data(&msg.data), Ok(Message::Event(event)));
}

#[tokio::test]
async fn endpoint_never_receives_its_own_publications() {
    let (server, client, _) = pair().await;
    let mut own = client.subscribe(["/t"]).await.unwrap();
    let mut other = server.subscribe(["/t"]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    client.publish("/t/x", Data::Count(1)).await.unwrap();
    assert!(other.recv_timeout(WAIT).await.is_some());
    assert!(own.recv_timeout(Duration::from_millis(200)).await.is_none());
}

#[tokio::test]
async fn both_sides_see_discovered_then_added_with_the_address() {
    let server = endpoint();
    let client = endpoint();
    let mut server_status = server.status_subscriber(true).await.unwrap();
    let mut client_status = client.status_subscriber(true).await.unwrap();
    let port = server.listen("127.0.0.1", 0).await.unwrap();
    client
        .peer_and_wait("127.0.0.1", port, Duration::ZERO)
        .await
        .unwrap();
    for (sub, peer) in [
        (&mut server_status, client.node_id()),
        (&mut client_status, server.node_id()),
    ] {
        let first = next_status(sub).await;
        let second = next_status(sub).await;
        assert_eq!(status_code(&first), Some(StatusCode::EndpointDiscovered));
        assert_eq!(status_code(&second), Some(StatusCode::PeerAdded));
        let StatusEvent::Status(added) = second else {
            unreachable!()
        };
        assert_eq!(added.endpoint.id, Some(peer));
        assert_eq!(added.endpoint.network.unwrap().address, "127.0.0.1");
        assert_eq!(added.message, "handshake successful");
    }
    let peers = client.peers().await.unwrap();
    assert_eq!(peers.len(), 1);
    assert_eq!(peers[0].status, PeerStatus::Peered);
    assert!(peers[0].is_outbound);
    let peers = server.peers().await.unwrap();
    assert!(!peers[0].is_outbound);
}

#[tokio::test]
async fn unpeer_gives_removed_on_our_side_and_lost_on_theirs() {
    let (server, client, port) = pair().await;
    let mut server_status = server.status_subscriber(true).await.unwrap();
    let mut client_status = client.status_subscriber(true).await.unwrap();
    assert!(client.unpeer("127.0.0.1", port).await.unwrap());
    assert_eq!(
        status_code(&next_status(&mut client_status).await),
        Some(StatusCode::PeerRemoved)
    );
    assert_eq!(
        status_code(&next_status(&mut client_status).await),
        Some(StatusCode::EndpointUnreachable)
    );
    assert_eq!(
        status_code(&next_status(&mut server_status).await),
        Some(StatusCode::PeerLost)
    );
    assert_eq!(
        status_code(&next_status(&mut server_status).await),
        Some(StatusCode::EndpointUnreachable)
    );
    assert!(client.peers().await.unwrap().is_empty());
}

#[tokio::test]
async fn unpeering_an_unknown_peer_is_peer_invalid() {
    let client = endpoint();
    let mut status = client.status_subscriber(false).await.unwrap();
    assert!(!client.unpeer("127.0.0.1", 1).await.unwrap());
    match next_status(&mut status).await {
        StatusEvent::Error(e) => assert_eq!(e.code, ErrorCode::PeerInvalid),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn killed_peer_is_lost() {
    let (server, client, _) = pair().await;
    let mut status = server.status_subscriber(true).await.unwrap();
    drop(client);
    assert_eq!(
        status_code(&next_status(&mut status).await),
        Some(StatusCode::PeerLost)
    );
}

#[tokio::test]
async fn closed_port_gives_peer_unavailable() {
    // Bind and release a port so that nothing listens on it.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let client = endpoint();
    let mut status = client.status_subscriber(false).await.unwrap();
    let err = client
        .peer_and_wait("127.0.0.1", port, Duration::ZERO)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        EndpointError::Peer {
            code: ErrorCode::PeerUnavailable,
            ..
        }
    ));
    match next_status(&mut status).await {
        StatusEvent::Error(e) => assert_eq!(e.code, ErrorCode::PeerUnavailable),
        other => panic!("{other:?}"),
    }
    // With a retry interval, every attempt reports again.
    assert!(
        client
            .peer("127.0.0.1", port, Duration::from_millis(100))
            .await
            .unwrap()
    );
    for _ in 0..2 {
        match next_status(&mut status).await {
            StatusEvent::Error(e) => assert_eq!(e.code, ErrorCode::PeerUnavailable),
            other => panic!("{other:?}"),
        }
    }
    let peers = client.peers().await.unwrap();
    assert!(matches!(
        peers[0].status,
        PeerStatus::Connecting | PeerStatus::Reconnecting
    ));
}

#[tokio::test]
async fn outbound_peering_redials_after_the_listener_restarts() {
    let server = endpoint();
    let port = server.listen("127.0.0.1", 0).await.unwrap();
    let client = endpoint();
    client
        .peer("127.0.0.1", port, Duration::from_millis(100))
        .await
        .unwrap();
    server.await_peer(client.node_id(), WAIT).await.unwrap();
    server.shutdown().await.unwrap();
    drop(server);
    // A new endpoint on the same port (SO_REUSEADDR lets it bind at once).
    let restarted = endpoint();
    let mut sub = restarted.subscribe(["/again"]).await.unwrap();
    assert_eq!(restarted.listen("127.0.0.1", port).await.unwrap(), port);
    restarted.await_peer(client.node_id(), WAIT).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    client.publish("/again", Data::Count(1)).await.unwrap();
    assert_eq!(sub.recv_timeout(WAIT).await.unwrap().data, Data::Count(1));
}

/// A view subscriber and a value subscriber on one endpoint: each gets
/// every message in order, as a view and as a value that agree; a slow view
/// subscriber behind a short queue holds the endpoint up as any subscriber
/// does, and loses nothing.
#[tokio::test]
async fn views_and_values_arrive_alike_and_in_order() {
    use broker_core::zeek::{Event, Message};
    let server_options = Options {
        congestion_queue_size: 4,
        ..options()
    };
    let (server, client, _) = pair_with(server_options).await;
    let mut views = server.subscribe_views(["/v"]).await.unwrap();
    let mut values = server.subscribe(["/v"]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let record = broker_core::payloads::conn(9);
    let sender = {
        let record = record.clone();
        tokio::spawn(async move {
            for i in 0..2_000u64 {
                let event = Event::new("conn", vec![Data::Count(i), record.clone()]);
                client.publish("/v/conn", event).await.unwrap();
            }
            client
        })
    };
    for i in 0..2_000u64 {
        let view = views.recv_timeout(WAIT).await.expect("a view in time");
        let value = values.recv_timeout(WAIT).await.expect("a value in time");
        assert_eq!(view.topic, value.topic);
        assert_eq!(view.value.to_data(), value.data);
        // Zeek's event layout, read in place: [1, 1, [name, [args]]].
        let body = view.value.root().get(2).expect("event body");
        assert_eq!(body.get(0).and_then(|n| n.as_str()), Some("conn"));
        let args = body.get(1).expect("arguments");
        assert_eq!(args.get(0).and_then(|a| a.as_count()), Some(i));
        assert_eq!(args.get(1).map(|r| r.to_data()), Some(record.clone()));
        let Ok(Message::Event(event)) = Message::from_data(&value.data) else {
            panic!("not an event: {}", value.data);
        };
        assert_eq!(event.args[0], Data::Count(i));
    }
    assert!(
        views
            .recv_timeout(Duration::from_millis(200))
            .await
            .is_none()
    );
    drop(sender.await.unwrap());
}

#[tokio::test]
async fn twenty_thousand_messages_arrive_once_and_in_order() {
    let (server, client, _) = pair().await;
    let mut sub = server.subscribe(["/seq"]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let sender = tokio::spawn(async move {
        for i in 0..20_000u64 {
            client.publish("/seq", Data::Count(i)).await.unwrap();
        }
        client
    });
    for i in 0..20_000u64 {
        let msg = sub.recv_timeout(WAIT).await.expect("message in time");
        assert_eq!(msg.data, Data::Count(i));
    }
    assert!(sub.recv_timeout(Duration::from_millis(200)).await.is_none());
    drop(sender.await.unwrap());
}

/// The driver writes small chunks itself while a connection's writer is
/// idle and hands what does not leave at once (and large chunks) to the
/// writer task: on plain TCP with `try_write`, over TLS by polling the
/// stream's write half once. A publisher that trickles messages of 2–32 KB
/// (small chunks) to a subscriber that starts late behind a short queue (so
/// the receiver stops reading and the socket buffers fill) takes every path:
/// whole and partial direct writes, records left to flush, the writer, then
/// direct again.
async fn late_reader_gets_everything_in_order(transport: Options) {
    let server_options = Options {
        congestion_queue_size: 4,
        ..transport.clone()
    };
    let (server, client, _) = pair_of(server_options, transport).await;
    let mut sub = server.subscribe(["/big"]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    const COUNT: usize = 1_500;
    let body = |i: usize| vec![b'a' + (i % 26) as u8; 2_000 + (i * 7_919) % 30_000];
    let sender = tokio::spawn(async move {
        for i in 0..COUNT {
            let data = Data::String(body(i).into());
            client.publish("/big", data).await.unwrap();
            if i % 4 == 0 {
                tokio::time::sleep(Duration::from_micros(50)).await;
            }
        }
        client
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    for i in 0..COUNT {
        let msg = sub.recv_timeout(WAIT).await.expect("message in time");
        let Data::String(got) = msg.data else {
            panic!("not a string: message {i}");
        };
        assert!(got.as_bytes() == body(i).as_slice(), "message {i} differs");
    }
    assert!(sub.recv_timeout(Duration::from_millis(200)).await.is_none());
    drop(sender.await.unwrap());
}

#[tokio::test]
async fn messages_to_a_late_reader_arrive_whole_and_in_order() {
    late_reader_gets_everything_in_order(options()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_to_a_late_reader_arrive_whole_and_in_order_over_tls() {
    let mut modes = vec![broker_core::options::UnauthenticatedTls::EphemeralCertificates];
    if cfg!(feature = "openssl") {
        modes.push(broker_core::options::UnauthenticatedTls::Anonymous);
    }
    for unauthenticated_tls in modes {
        late_reader_gets_everything_in_order(Options {
            disable_ssl: false,
            unauthenticated_tls,
            ..options()
        })
        .await;
    }
}

#[tokio::test]
async fn garbage_and_huge_length_headers_do_not_disturb_other_peers() {
    let (server, client, port) = pair().await;
    let mut sub = server.subscribe(["/ok"]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // A peer that claims a 4 GiB frame, and one that sends garbage.
    let mut huge = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    huge.write_all(&[0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4])
        .await
        .unwrap();
    let mut garbage = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    garbage
        .write_all(&[0, 0, 0, 9, 0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3, 4])
        .await
        .unwrap();
    // Both get closed promptly.
    for stream in [&mut huge, &mut garbage] {
        let mut buf = vec![0u8; 1024];
        let closed = tokio::time::timeout(WAIT, async {
            loop {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        })
        .await;
        assert!(closed.is_ok(), "the bad connection was closed");
    }
    client.publish("/ok", Data::Count(7)).await.unwrap();
    assert_eq!(sub.recv_timeout(WAIT).await.unwrap().data, Data::Count(7));
}

#[tokio::test]
async fn half_open_connection_that_never_handshakes_is_dropped() {
    let server = Endpoint::new(Options {
        handshake_timeout: Duration::from_millis(300),
        ..options()
    })
    .unwrap();
    let port = server.listen("127.0.0.1", 0).await.unwrap();
    let mut silent = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut buf = Vec::new();
    // We get the probe, then the close, without sending anything.
    let read = tokio::time::timeout(WAIT, silent.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "closed after the handshake timeout");
    assert_eq!(buf, [0, 0, 0, 5, 7, 0x5a, 0x45, 0x45, 0x4b]);
}

#[tokio::test]
async fn listening_on_a_busy_port_without_retry_fails() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let ep = endpoint();
    let err = ep.listen("127.0.0.1", port).await.unwrap_err();
    assert!(matches!(err, EndpointError::Listen { .. }), "{err}");
}

#[tokio::test]
async fn default_options_build_an_endpoint_with_tls() {
    let ep = Endpoint::new(Options::default()).unwrap();
    assert!(!ep.options().disable_ssl);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_stops_reading_does_not_stop_the_others() {
    let hub = Endpoint::new(Options {
        peer_buffer_size: 64,
        peer_stall_timeout: Duration::from_millis(300),
        ..options()
    })
    .unwrap();
    let port = hub.listen("127.0.0.1", 0).await.unwrap();
    let healthy = endpoint();
    let stuck = Endpoint::new(Options {
        congestion_queue_size: 4,
        ..options()
    })
    .unwrap();
    let mut good = healthy.subscribe(["/big"]).await.unwrap();
    // Subscribed but never read: its queue fills, it stops reading its socket.
    let _never_read = stuck.subscribe(["/big"]).await.unwrap();
    for ep in [&healthy, &stuck] {
        ep.peer_and_wait("127.0.0.1", port, Duration::ZERO)
            .await
            .unwrap();
        hub.await_peer(ep.node_id(), WAIT).await.unwrap();
    }
    const N: u64 = 2_000;
    let blob = "x".repeat(16 * 1024);
    let publisher = tokio::spawn(async move {
        for i in 0..N {
            hub.publish(
                "/big",
                Data::Vector(vec![Data::Count(i), Data::from(blob.as_str())]),
            )
            .await
            .unwrap();
        }
        hub
    });
    for i in 0..N {
        let msg = good
            .recv_timeout(WAIT)
            .await
            .expect("the healthy peer keeps receiving");
        assert_eq!(msg.data.as_vector().unwrap()[0], Data::Count(i));
    }
    let hub = tokio::time::timeout(WAIT, publisher)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        hub.peers().await.unwrap().len(),
        2,
        "the stuck peer is still peered"
    );
}

/// With `busy_poll`, round trips between two endpoints work as without it
/// (the speed is for `broker bench ping`, not for a test), and both
/// endpoints shut down.
#[test]
fn busy_polling_endpoints_exchange_round_trips_and_shut_down() {
    let spinning = || {
        Endpoint::new(Options {
            busy_poll: Duration::from_micros(200),
            ..options()
        })
        .unwrap()
    };
    let (server, client) = (spinning(), spinning());
    server.block_on(async {
        let port = server.listen("127.0.0.1", 0).await.unwrap();
        let mut pings = server.subscribe(["/ping"]).await.unwrap();
        let mut pongs = client.subscribe(["/pong"]).await.unwrap();
        client
            .peer_and_wait("127.0.0.1", port, Duration::ZERO)
            .await
            .unwrap();
        server.await_peer(client.node_id(), WAIT).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        for i in 0..200u64 {
            client.publish("/ping", Data::Count(i)).await.unwrap();
            let ping = pings.recv_timeout(WAIT).await.expect("ping in time");
            server.publish("/pong", ping.data).await.unwrap();
            let pong = pongs.recv_timeout(WAIT).await.expect("pong in time");
            assert_eq!(pong.data, Data::Count(i));
        }
        tokio::time::timeout(WAIT, client.shutdown())
            .await
            .expect("client shuts down in time")
            .unwrap();
        tokio::time::timeout(WAIT, server.shutdown())
            .await
            .expect("server shuts down in time")
            .unwrap();
    });
}

#[tokio::test]
async fn inbound_connections_beyond_max_connections_are_closed() {
    let server = Endpoint::new(Options {
        max_connections: 2,
        ..options()
    })
    .unwrap();
    let port = server.listen("127.0.0.1", 0).await.unwrap();
    let mut first = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let second = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut third = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut byte = [0u8; 1];
    let n = tokio::time::timeout(WAIT, third.read(&mut byte))
        .await
        .expect("the third connection is closed in time")
        .unwrap_or(0);
    assert_eq!(n, 0, "closed without data");
    // The first two stay open: the handshake starts (or nothing comes yet).
    let r = tokio::time::timeout(Duration::from_millis(200), first.read(&mut byte)).await;
    assert!(!matches!(r, Ok(Ok(0)) | Ok(Err(_))), "{r:?}");
    // Once they go, a real peer fits again.
    drop((first, second));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let client = endpoint();
    client
        .peer_and_wait("127.0.0.1", port, Duration::ZERO)
        .await
        .unwrap();
}
