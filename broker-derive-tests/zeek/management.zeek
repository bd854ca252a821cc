##! The shapes of the Management framework's types and a few of its
##! controller API events, written from Zeek's documentation of
##! policy/frameworks/management/types.zeek and controller/api.zeek.

module Management;

export {
	type Role: enum {
		NONE,
		AGENT,
		CONTROLLER,
		NODE,
	};

	type State: enum {
		PENDING,
		RUNNING,
		STOPPED,
		FAILED,
		CRASHED,
		UNKNOWN,
	};

	type Instance: record {
		name:        string;
		host:        addr;
		listen_port: port &optional;
	};

	type InstanceVec: vector of Instance;

	type Result: record {
		reqid:    string;
		success:  bool   &default=T;
		instance: string &optional;
		data:     any    &optional;
		error:    string &optional;
		node:     string &optional;
	};

	type ResultVec: vector of Result;

	global result_to_string: function(res: Result): string;
}

module Management::Controller::API;

export {
	global get_instances_request: event(reqid: string);
	global get_instances_response: event(reqid: string, result: Management::Result);
	global deploy_response: event(reqid: string, results: Management::ResultVec);
	global test_timeout_request: event(reqid: string, with_state: bool);
}
