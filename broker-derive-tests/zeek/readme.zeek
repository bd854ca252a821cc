# The README's event, as the Zeek side declares it.
module Alerts;

export {
	global scan_detected: event(src: addr, ports: vector of port);
}
