##! The shape of Zeek's notice record, written from the field list that
##! Zeek's documentation gives for Notice::Info
##! (base/frameworks/notice/main.zeek).

module Notice;

export {
	redef enum Log::ID += { LOG, ALARM_LOG };

	type Type: enum {
		Tally,
	};

	type Action: enum {
		ACTION_NONE,
		ACTION_LOG,
		ACTION_EMAIL,
		ACTION_ALARM,
		ACTION_DROP,
	};

	type ActionSet: set[Notice::Action];

	option default_suppression_interval = 1hrs;

	type Info: record {
		ts:                  time            &log &optional;
		uid:                 string          &log &optional;
		id:                  conn_id         &log &optional;
		conn:                connection      &optional;
		f:                   fa_file         &optional;
		fuid:                string          &log &optional;
		file_mime_type:      string          &log &optional;
		file_desc:           string          &log &optional;
		proto:               transport_proto &log &optional;
		note:                Type            &log;
		msg:                 string          &log &optional;
		sub:                 string          &log &optional;
		src:                 addr            &log &optional;
		dst:                 addr            &log &optional;
		p:                   port            &log &optional;
		n:                   count           &log &optional;
		peer_name:           string          &optional;
		peer_descr:          string          &log &optional;
		actions:             ActionSet       &log &default=ActionSet();
		email_dest:          set[string]     &log &default=set();
		email_body_sections: vector of string &optional;
		email_delay_tokens:  set[string]     &optional;
		identifier:          string          &optional;
		suppress_for:        interval        &log &default=default_suppression_interval;
	};

	global begin_suppression: event(ts: time, suppress_for: interval, note: Type, identifier: string);
	global suppressed: event(n: Notice::Info);
	global log_notice: event(rec: Info);
}

module GLOBAL;

function NOTICE(n: Notice::Info)
	{
	hook Notice::notice(n);
	}
