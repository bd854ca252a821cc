module Site;

export {
	type Info: record {
		ts: time;
		uid string;
	};
}
