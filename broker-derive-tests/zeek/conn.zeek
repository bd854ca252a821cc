##! The shape of Zeek's conn.log record, written from the field list that
##! Zeek's documentation gives for Conn::Info (base/protocols/conn/main.zeek),
##! with the global types it uses (declared by Zeek's init-bare.zeek).

type transport_proto: enum {
	unknown_transport,
	tcp,
	udp,
	icmp,
};

type conn_id: record {
	orig_h: addr;
	orig_p: port;
	resp_h: addr;
	resp_p: port;
};

module Conn;

export {
	redef enum Log::ID += { LOG };

	type Info: record {
		ts:             time            &log;
		uid:            string          &log;
		id:             conn_id         &log;
		proto:          transport_proto &log;
		service:        string          &log &optional;
		duration:       interval        &log &optional;
		orig_bytes:     count           &log &optional;
		resp_bytes:     count           &log &optional;
		conn_state:     string          &log &optional;
		local_orig:     bool            &log &optional;
		local_resp:     bool            &log &optional;
		missed_bytes:   count           &log &default=0;
		history:        string          &log &optional;
		orig_pkts:      count           &log &optional;
		orig_ip_bytes:  count           &log &optional;
		resp_pkts:      count           &log &optional;
		resp_ip_bytes:  count           &log &optional;
		tunnel_parents: set[string]     &log &optional;
	};

	global log_conn: event(rec: Info);
}
