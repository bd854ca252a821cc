##! A site's own declarations, as a Zeek deployment would write them: the
##! fixture of broker-derive-tests' compile-time checks.

@load base/frameworks/notice

module Site;

export {
	## How bad a finding is.
	type Level: enum {
		LOW,    ##< worth a look
		MEDIUM,
		HIGH,   ##< page someone
	};

	## A scan seen by a worker.
	type Scan: record {
		src:      addr;
		ports:    set[port];
		first:    time;
		duration: interval &optional;
		note:     string   &default="";
	};

	## Raised by workers, handled by the manager.
	global scan_detected: event(src: addr, ports: vector of port, first_seen: time);
	global scan_summary: event(scan: Scan, level: Level, hosts: table[addr] of count);
	global heartbeat: event();
	global tagged: event(n: count, tags: set[string, count]);

	## Published by the manager.
	global scan_threshold: count = 25 &redef;
	const watched: set[subnet] = { 10.0.0.0/8 } &redef;
	option quiet = F;
}

redef enum Level += { CRITICAL };

# Declared by Zeek's notice framework, extended here.
redef record Notice::Info += {
	site_tag: string &optional &log;
};

event zeek_init()
	{
	print "site loaded";
	}
