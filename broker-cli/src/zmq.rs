//! The ZeroMQ parts of the CLI: `broker zmq-proxy`, and the options that
//! `broker node` and `broker bench` share to join a cluster.

use std::path::PathBuf;

use anyhow::Context;
use broker_core::zeromq::{
    CurveKey, CurveKeys, DEFAULT_PROXY_XPUB, DEFAULT_PROXY_XSUB, DEFAULT_STALL_TIMEOUT,
    ProxyOptions, ZmqProxy,
};
use clap::Args;
use serde_json::json;

use crate::args::UsageError;
use crate::node::shutdown_signal;

pub(crate) const PROXY_EXAMPLES: &str = "\
Examples:
  # the central proxy on Zeek's default ports (run_proxy_thread = F on the manager)
  broker zmq-proxy --xsub tcp://127.0.0.1:5556 --xpub tcp://127.0.0.1:5555
  # with CURVE, keys from Zeek's environment variables
  ZEEK_CLUSTER_BACKEND_ZEROMQ_CURVE_SERVER_SECRETKEY=... \\
  ZEEK_CLUSTER_BACKEND_ZEROMQ_CURVE_CLIENT_PUBLICKEY=... \\
    broker zmq-proxy --xsub tcp://0.0.0.0:27761 --xpub tcp://0.0.0.0:27760

Prints {\"type\":\"zmq-proxy\",\"xsub\":..,\"xpub\":..} once bound, and its counters as
{\"type\":\"zmq-proxy-stats\",...} when stopped (SIGINT/SIGTERM).";

/// `XSUB_ENDPOINT,XPUB_ENDPOINT`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ProxyEndpoints {
    pub(crate) xsub: String,
    pub(crate) xpub: String,
}

pub(crate) fn parse_proxy_endpoints(s: &str) -> Result<ProxyEndpoints, String> {
    match s.split_once(',') {
        Some((xsub, xpub)) if !xsub.is_empty() && !xpub.is_empty() && !xpub.contains(',') => {
            Ok(ProxyEndpoints {
                xsub: xsub.to_owned(),
                xpub: xpub.to_owned(),
            })
        }
        _ => Err(format!(
            "expected XSUB_ENDPOINT,XPUB_ENDPOINT (e.g. {DEFAULT_PROXY_XSUB},{DEFAULT_PROXY_XPUB}), got {s:?}"
        )),
    }
}

/// The CURVE keys, as Zeek takes them: four Z85 keys. Each flag takes the
/// key itself or `@FILE` (a file holding it, which keeps secrets out of
/// process listings); without flags, Zeek's
/// `ZEEK_CLUSTER_BACKEND_ZEROMQ_CURVE_*` variables are read. Z85 has `@`
/// and `-` among its characters: a 40-character value starting with `@`
/// is a key unless a file of that name exists, and values may start with
/// `-`.
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct CurveArgs {
    /// CURVE: the cluster's server public key (Z85 or @FILE); nodes need it.
    #[arg(long, value_name = "KEY", allow_hyphen_values = true)]
    zeromq_curve_server_publickey: Option<String>,
    /// CURVE: the server secret key (Z85 or @FILE); the proxy and loggers need it.
    #[arg(long, value_name = "KEY", allow_hyphen_values = true)]
    zeromq_curve_server_secretkey: Option<String>,
    /// CURVE: the cluster's client public key (Z85 or @FILE); everyone needs it.
    #[arg(long, value_name = "KEY", allow_hyphen_values = true)]
    zeromq_curve_client_publickey: Option<String>,
    /// CURVE: the client secret key (Z85 or @FILE); nodes need it.
    #[arg(long, value_name = "KEY", allow_hyphen_values = true)]
    zeromq_curve_client_secretkey: Option<String>,
}

impl CurveArgs {
    /// The keys from the flags or the environment; `None` for plain TCP.
    pub(crate) fn keys(&self) -> anyhow::Result<Option<CurveKeys>> {
        let flags = [
            &self.zeromq_curve_server_publickey,
            &self.zeromq_curve_server_secretkey,
            &self.zeromq_curve_client_publickey,
            &self.zeromq_curve_client_secretkey,
        ];
        let env = CurveKeys::from_env()?;
        if flags.iter().all(|f| f.is_none()) {
            return Ok(env);
        }
        if env.is_some() {
            return Err(UsageError(
                "CURVE keys given both as flags and in ZEEK_CLUSTER_BACKEND_ZEROMQ_CURVE_* variables"
                    .into(),
            )
            .into());
        }
        let key =
            |name: &'static str, value: &Option<String>| -> anyhow::Result<Option<CurveKey>> {
                let Some(value) = value else {
                    return Ok(None);
                };
                let text = match key_file(value) {
                    Some(path) => std::fs::read_to_string(path)
                        .with_context(|| format!("cannot read the {name} from {path}"))?,
                    None => value.clone(),
                };
                CurveKey::from_z85(name, &text)
                    .map(Some)
                    .map_err(|e| UsageError(e.to_string()).into())
            };
        let mut keys = CurveKeys::default();
        keys.server_public = key("server public key", &self.zeromq_curve_server_publickey)?;
        keys.server_secret = key("server secret key", &self.zeromq_curve_server_secretkey)?;
        keys.client_public = key("client public key", &self.zeromq_curve_client_publickey)?;
        keys.client_secret = key("client secret key", &self.zeromq_curve_client_secretkey)?;
        Ok(Some(keys))
    }
}

/// The file a key flag names (`@FILE`), or `None` for a key given as is.
fn key_file(value: &str) -> Option<&str> {
    let path = value.strip_prefix('@')?;
    // A Z85 key may start with `@` too.
    let could_be_key = value.len() == 40 && CurveKey::from_z85("key", value).is_ok();
    (!could_be_key || std::path::Path::new(path).exists()).then_some(path)
}

#[derive(Args, Debug)]
pub(crate) struct ProxyArgs {
    /// Bind the XSUB that nodes' XPUBs connect to (Zeek's listen_xsub_endpoint).
    #[arg(long, value_name = "ENDPOINT", default_value = DEFAULT_PROXY_XSUB)]
    xsub: String,
    /// Bind the XPUB that nodes' XSUBs connect to (Zeek's listen_xpub_endpoint).
    #[arg(long, value_name = "ENDPOINT", default_value = DEFAULT_PROXY_XPUB)]
    xpub: String,
    #[command(flatten)]
    curve: CurveArgs,
    /// Once bound, write the XSUB endpoint and the XPUB endpoint (one per
    /// line, with the ports the OS chose for port 0) to F.
    #[arg(long, value_name = "F")]
    ready_file: Option<PathBuf>,
    /// How long forwarding waits for a subscriber whose queue is full
    /// before it drops for that subscriber for half a second, in
    /// milliseconds (0: drop at once, as a plain PUB socket does; Zeek's
    /// proxy waits forever). Raise it where subscribers may be held up for
    /// long and must not lose messages.
    #[arg(long, value_name = "MS",
          default_value_t = DEFAULT_STALL_TIMEOUT.as_millis() as u64,
          value_parser = clap::value_parser!(u64).range(0..=3_600_000))]
    stall_timeout: u64,
}

pub(crate) async fn run_proxy(args: ProxyArgs) -> anyhow::Result<()> {
    let mut options = ProxyOptions::new(&args.xsub, &args.xpub);
    options.curve = args.curve.keys()?;
    options.stall_timeout = std::time::Duration::from_millis(args.stall_timeout);
    let proxy = ZmqProxy::start(options)?;
    if let Some(path) = &args.ready_file {
        let tmp = path.with_extension("tmp");
        let text = format!("{}\n{}\n", proxy.xsub_endpoint(), proxy.xpub_endpoint());
        std::fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    }
    println!(
        "{}",
        json!({"type": "zmq-proxy", "xsub": proxy.xsub_endpoint(), "xpub": proxy.xpub_endpoint()})
    );
    shutdown_signal().await;
    let s = proxy.stats();
    proxy.stop();
    println!(
        "{}",
        json!({
            "type": "zmq-proxy-stats",
            "messages_forwarded": s.messages_forwarded,
            "bytes_forwarded": s.bytes_forwarded,
            "stalls": s.stalls,
            "messages_lossy": s.messages_lossy,
            "subscriptions_forwarded": s.subscriptions_forwarded,
            "subscription_bytes": s.subscription_bytes,
            "subscriptions_refused": s.subscriptions_refused,
            "clients_refused": s.clients_refused,
        })
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_endpoint_pairs() {
        let p = parse_proxy_endpoints("tcp://127.0.0.1:5556,tcp://127.0.0.1:5555").unwrap();
        assert_eq!(p.xsub, "tcp://127.0.0.1:5556");
        assert_eq!(p.xpub, "tcp://127.0.0.1:5555");
        assert!(parse_proxy_endpoints("tcp://127.0.0.1:5556").is_err());
        assert!(parse_proxy_endpoints(",x").is_err());
        assert!(parse_proxy_endpoints("a,b,c").is_err());
    }

    #[test]
    fn a_key_flag_takes_a_key_that_starts_with_a_hyphen() {
        #[derive(clap::Parser)]
        struct Flags {
            #[command(flatten)]
            curve: CurveArgs,
        }
        let key = "-GTV)8F*N9N0K>y3[q<L8)hLf&w7wKMw/#A)KRGx";
        let flags = <Flags as clap::Parser>::try_parse_from([
            "broker",
            "--zeromq-curve-client-secretkey",
            key,
        ])
        .unwrap();
        assert_eq!(
            flags.curve.zeromq_curve_client_secretkey.as_deref(),
            Some(key)
        );
    }

    #[test]
    fn a_key_that_starts_with_at_is_a_key_unless_such_a_file_exists() {
        let key = "@GTV)8F*N9N0K>y3[q<L8)hLf&w7wKMw/#A)KRGx";
        assert_eq!(key.len(), 40);
        assert_eq!(key_file(key), None);
        assert_eq!(
            key_file("@/etc/keys/server.pk"),
            Some("/etc/keys/server.pk")
        );
        // 40 characters of Z85 naming a file that exists: the file.
        let path = format!("/tmp/broker-key-{:023}", std::process::id());
        let value = format!("@{path}");
        assert_eq!(value.len(), 40);
        assert_eq!(key_file(&value), None);
        std::fs::write(&path, "x").unwrap();
        let found = key_file(&value).map(str::to_owned);
        let _ = std::fs::remove_file(&path);
        assert_eq!(found, Some(path));
    }
}
