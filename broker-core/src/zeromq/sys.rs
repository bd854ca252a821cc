//! The few libzmq calls the `zmq` crate does not wrap, and the I/O threads'
//! plumbing: a wakeup pipe, a stop flag, the CURVE keys and ZAP handler.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::{CurveKey, ZmqError};

/// Sets an integer socket option by number (`XPUB_VERBOSER`, `XPUB_NODROP`:
/// the `zmq` crate has no setter for them).
#[allow(unsafe_code)]
pub(crate) fn set_int_option(
    socket: &mut zmq::Socket,
    option: u32,
    value: i32,
) -> Result<(), ZmqError> {
    let option = std::ffi::c_int::try_from(option)
        .map_err(|_| ZmqError::socket("setsockopt", zmq::Error::EINVAL))?;
    let value: std::ffi::c_int = value;
    // SAFETY: the socket pointer comes from a live `zmq::Socket` borrowed
    // mutably for the call, so it is valid and not used concurrently;
    // `value` is a c_int on our stack that outlives the call, and its exact
    // size is passed, as zmq_setsockopt requires for integer options.
    let rc = unsafe {
        zmq_sys::zmq_setsockopt(
            socket.as_mut_ptr(),
            option,
            (&raw const value).cast::<std::ffi::c_void>(),
            std::mem::size_of::<std::ffi::c_int>(),
        )
    };
    status(rc).map_err(|e| ZmqError::socket("setsockopt", e))
}

#[allow(unsafe_code)]
fn zmq_errno() -> i32 {
    // SAFETY: zmq_errno takes no arguments and only reads the calling
    // thread's errno.
    unsafe { zmq_sys::zmq_errno() }
}

/// A libzmq return code as a result: negative means failed, with errno.
fn status(rc: i32) -> Result<(), zmq::Error> {
    if rc < 0 {
        Err(zmq::Error::from_raw(zmq_errno()))
    } else {
        Ok(())
    }
}

// libzmq's `zmq_curve_public` (since 4.2.1), which zmq-sys declares but does
// not export.
#[allow(unsafe_code)]
unsafe extern "C" {
    fn zmq_curve_public(
        z85_public_key: *mut std::ffi::c_char,
        z85_secret_key: *const std::ffi::c_char,
    ) -> std::ffi::c_int;
}

/// The public key of a CURVE secret key (`zmq_curve_public`).
#[allow(unsafe_code)]
pub(crate) fn curve_public(secret: &CurveKey) -> Result<CurveKey, ZmqError> {
    let secret_z85 = secret.to_z85();
    let mut secret_c = [0u8; 41];
    secret_c[..40].copy_from_slice(secret_z85.as_bytes());
    let mut public_c = [0u8; 41];
    // SAFETY: zmq_curve_public reads a NUL-terminated 40-character Z85
    // string (`secret_c`: 40 characters and a NUL) and writes 40 characters
    // and a NUL into a 41-byte buffer (`public_c`); both arrays live on our
    // stack for the whole call.
    let rc = unsafe {
        zmq_curve_public(
            public_c.as_mut_ptr().cast::<std::ffi::c_char>(),
            secret_c.as_ptr().cast::<std::ffi::c_char>(),
        )
    };
    if rc != 0 {
        return Err(ZmqError::NoCurve);
    }
    let text = std::str::from_utf8(&public_c[..40]).map_err(|_| ZmqError::NoCurve)?;
    CurveKey::from_z85("public key", text)
}

/// One message read without waiting: at most `keep` frames are kept (the
/// rest are read and discarded), with the message's frame count and size.
/// `None` when no message is waiting.
pub(crate) struct Received {
    pub(crate) frames: Vec<Vec<u8>>,
    pub(crate) count: usize,
    pub(crate) bytes: usize,
}

pub(crate) fn recv_bounded(socket: &zmq::Socket, keep: usize) -> Option<Received> {
    let mut msg = zmq::Message::new();
    socket.recv(&mut msg, zmq::DONTWAIT).ok()?;
    let mut received = Received {
        frames: Vec::with_capacity(keep.min(8)),
        count: 0,
        bytes: 0,
    };
    loop {
        received.count += 1;
        received.bytes += msg.len();
        if received.frames.len() < keep {
            received.frames.push(msg.to_vec());
        }
        // The other parts of a message arrive with its first.
        if !msg.get_more() || socket.recv(&mut msg, zmq::DONTWAIT).is_err() {
            return Some(received);
        }
    }
}

/// One frame of a message as libzmq holds it (a `zmq_msg_t`), moved from a
/// socket to another without copying: a send hands the content over and
/// leaves the frame empty, a receive replaces the content. Unlike a
/// `zmq::Message` given to `zmq::Socket::send`, a frame whose send fails
/// keeps its content (`zmq_msg_send(3)`), so it can be sent again.
///
/// A `zmq_msg_t` holds no pointer into itself (short contents are stored
/// inline and found from the struct's address at each call), so moving a
/// frame between calls is sound; the `zmq` crate moves its messages the same
/// way.
pub(crate) struct Frame(zmq_sys::zmq_msg_t);

impl Frame {
    /// An empty frame.
    #[allow(unsafe_code)]
    pub(crate) fn new() -> Frame {
        let mut msg = zmq_sys::zmq_msg_t::default();
        // SAFETY: `msg` is a writable zmq_msg_t on our stack; zmq_msg_init
        // makes it an empty message and cannot fail (it always returns 0).
        unsafe { zmq_sys::zmq_msg_init(&mut msg) };
        Frame(msg)
    }

    /// Receives the next frame from `socket` into this one (its old content
    /// is released by libzmq).
    #[allow(unsafe_code)]
    pub(crate) fn recv(&mut self, socket: &mut zmq::Socket, flags: i32) -> Result<(), zmq::Error> {
        // SAFETY: `self.0` is an initialised message (`new` and every
        // libzmq call on it leave it so), borrowed mutably for the call; the
        // socket pointer comes from a live `zmq::Socket` borrowed mutably, so
        // it is valid and not used by anyone else meanwhile.
        let rc = unsafe { zmq_sys::zmq_msg_recv(&mut self.0, socket.as_mut_ptr(), flags) };
        status(rc)
    }

    /// Sends this frame on `socket`: on success the content is handed over
    /// and the frame is empty; on failure it is unchanged.
    #[allow(unsafe_code)]
    pub(crate) fn send(&mut self, socket: &mut zmq::Socket, flags: i32) -> Result<(), zmq::Error> {
        // SAFETY: as in `recv`: an initialised message and a live socket,
        // both borrowed mutably for the call.
        let rc = unsafe { zmq_sys::zmq_msg_send(&mut self.0, socket.as_mut_ptr(), flags) };
        status(rc)
    }

    /// Whether more frames of the same message follow (of the last frame
    /// received).
    #[allow(unsafe_code)]
    pub(crate) fn more(&self) -> bool {
        // SAFETY: reads an initialised message borrowed for the call.
        unsafe { zmq_sys::zmq_msg_more(&self.0) != 0 }
    }

    /// The content's size in bytes.
    #[allow(unsafe_code)]
    pub(crate) fn len(&self) -> usize {
        // SAFETY: reads an initialised message borrowed for the call.
        unsafe { zmq_sys::zmq_msg_size(&self.0) }
    }
}

impl Drop for Frame {
    #[allow(unsafe_code)]
    fn drop(&mut self) {
        // SAFETY: releases the content of an initialised message that is
        // not used afterwards; closing a message never fails for a valid
        // one.
        unsafe { zmq_sys::zmq_msg_close(&mut self.0) };
    }
}

/// Wakes an I/O thread from its `zmq::poll` (the writing end of a socket
/// pair whose reading end the thread polls).
#[derive(Debug)]
pub(crate) struct Waker(UnixStream);

impl Waker {
    /// Makes the next (or current) poll return.
    pub(crate) fn wake(&self) {
        // Full means a wakeup is pending already.
        let _ = (&self.0).write(&[1]);
    }
}

/// The polled end of a [`Waker`].
pub(crate) struct WakeFd(UnixStream);

impl WakeFd {
    pub(crate) fn fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }

    /// Reads every pending wakeup.
    pub(crate) fn drain(&self) {
        let mut buf = [0u8; 64];
        while let Ok(n) = (&self.0).read(&mut buf) {
            if n < buf.len() {
                break;
            }
        }
    }
}

/// A connected waker pair, both ends non-blocking.
pub(crate) fn wake_pair() -> Result<(Waker, WakeFd), ZmqError> {
    let (a, b) = UnixStream::pair().map_err(ZmqError::Thread)?;
    a.set_nonblocking(true).map_err(ZmqError::Thread)?;
    b.set_nonblocking(true).map_err(ZmqError::Thread)?;
    Ok((Waker(a), WakeFd(b)))
}

/// Tells an I/O thread to stop (and wakes it).
#[derive(Debug, Clone)]
pub(crate) struct Stop {
    flag: Arc<AtomicBool>,
    waker: Option<Arc<Waker>>,
}

impl Stop {
    pub(crate) fn new(waker: Option<Arc<Waker>>) -> Stop {
        Stop {
            flag: Arc::new(AtomicBool::new(false)),
            waker,
        }
    }

    pub(crate) fn stop(&self) {
        self.flag.store(true, Ordering::SeqCst);
        if let Some(waker) = &self.waker {
            waker.wake();
        }
    }

    pub(crate) fn is_stopped(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
}

/// The address libzmq's ZAP requests go to.
const ZAP_ENDPOINT: &str = "inproc://zeromq.zap.01";

/// A ZAP handler (RFC 27) that accepts exactly one CURVE client key, as
/// Zeek's proxy and loggers do; bound in the server sockets' context before
/// they bind.
pub(crate) struct Zap {
    socket: zmq::Socket,
    client_public: [u8; 32],
}

impl Zap {
    pub(crate) fn bind(ctx: &zmq::Context, client_public: &CurveKey) -> Result<Zap, ZmqError> {
        let socket = ctx
            .socket(zmq::REP)
            .map_err(|e| ZmqError::socket("ZAP socket", e))?;
        socket
            .bind(ZAP_ENDPOINT)
            .map_err(|e| ZmqError::socket("ZAP bind", e))?;
        Ok(Zap {
            socket,
            client_public: *client_public.as_bytes(),
        })
    }

    pub(crate) fn socket(&self) -> &zmq::Socket {
        &self.socket
    }

    /// Answers every waiting request; returns how many were refused.
    pub(crate) fn serve(&self) -> u64 {
        let mut refused = 0;
        while let Ok(frames) = self.socket.recv_multipart(zmq::DONTWAIT) {
            // version, request id, domain, address, identity, mechanism,
            // credentials...
            let ok = frames.len() >= 7
                && frames[0] == b"1.0"
                && frames[5] == b"CURVE"
                && frames[6] == self.client_public;
            if !ok {
                refused += 1;
            }
            let id = frames.get(1).cloned().unwrap_or_default();
            let reply: [&[u8]; 6] = if ok {
                [b"1.0", &id, b"200", b"OK", b"0", b""]
            } else {
                [b"1.0", &id, b"400", b"unknown client key", b"", b""]
            };
            if self.socket.send_multipart(reply, zmq::DONTWAIT).is_err() {
                break;
            }
        }
        refused
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libzmq_has_curve() {
        assert_eq!(
            zmq::has("curve"),
            Some(true),
            "libzmq without CURVE: see docs/zeromq.md"
        );
    }

    #[test]
    fn the_public_key_follows_from_the_secret_key() {
        let pair = zmq::CurveKeyPair::new().unwrap();
        let secret = CurveKey::from_bytes(pair.secret_key);
        assert_eq!(
            curve_public(&secret).unwrap(),
            CurveKey::from_bytes(pair.public_key)
        );
    }

    #[test]
    fn verboser_and_nodrop_can_be_set() {
        let ctx = zmq::Context::new();
        let mut xpub = ctx.socket(zmq::XPUB).unwrap();
        set_int_option(&mut xpub, zmq_sys::ZMQ_XPUB_VERBOSER, 1).unwrap();
        set_int_option(&mut xpub, zmq_sys::ZMQ_XPUB_NODROP, 0).unwrap();
        assert!(set_int_option(&mut xpub, 99_999, 1).is_err());
    }

    #[test]
    fn frames_move_between_sockets_and_a_failed_send_keeps_the_content() {
        let ctx = zmq::Context::new();
        let mut push = ctx.socket(zmq::PUSH).unwrap();
        let mut pull = ctx.socket(zmq::PULL).unwrap();
        pull.bind("inproc://frames").unwrap();
        push.connect("inproc://frames").unwrap();
        // Short content (stored inline) and long content (on the heap).
        let long = vec![7u8; 10_000];
        push.send_multipart([&b"short"[..], &long[..]], 0).unwrap();
        let mut frame = Frame::new();
        assert_eq!(frame.len(), 0);
        frame.recv(&mut pull, 0).unwrap();
        assert_eq!((frame.len(), frame.more()), (5, true));
        // No peer: the send fails and the frame keeps its content.
        let mut lonely = ctx.socket(zmq::PUSH).unwrap();
        assert_eq!(
            frame.send(&mut lonely, zmq::DONTWAIT),
            Err(zmq::Error::EAGAIN)
        );
        assert_eq!(frame.len(), 5);
        // Moved, then sent: handed over, and the frame is empty.
        let mut moved = frame;
        moved.send(&mut push, zmq::SNDMORE).unwrap();
        assert_eq!(moved.len(), 0);
        moved.recv(&mut pull, 0).unwrap();
        assert_eq!((moved.len(), moved.more()), (10_000, false));
        moved.send(&mut push, 0).unwrap();
        assert_eq!(
            pull.recv_multipart(0).unwrap(),
            [b"short".to_vec(), long.clone()]
        );
        // Receiving into a frame that still holds content releases it.
        push.send(&b"a"[..], 0).unwrap();
        push.send(&b"b"[..], 0).unwrap();
        moved.recv(&mut pull, 0).unwrap();
        moved.recv(&mut pull, 0).unwrap();
        assert_eq!(moved.len(), 1);
        assert_eq!(
            moved.recv(&mut pull, zmq::DONTWAIT),
            Err(zmq::Error::EAGAIN)
        );
    }

    #[test]
    fn a_waker_wakes_a_poll() {
        let (waker, fd) = wake_pair().unwrap();
        let mut items = [zmq::PollItem::from_fd(fd.fd(), zmq::POLLIN)];
        assert_eq!(zmq::poll(&mut items, 0).unwrap(), 0);
        waker.wake();
        waker.wake();
        assert_eq!(zmq::poll(&mut items, 1000).unwrap(), 1);
        fd.drain();
        assert_eq!(zmq::poll(&mut items, 0).unwrap(), 0);
    }
}
