//! The event stream as `bpfgate log` and `bpfgate rollout` read it from the pinned iterator: never a panic, whatever
//! the bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(events) = bpfgate::inspect::events::parse(data) {
        let mut out = String::new();
        let names = ["full".to_string(), "readonly".to_string()];
        bpfgate::inspect::events::print_since(&events, 0, false, &names, &mut out);
        bpfgate::inspect::events::print_since(&events, 0, true, &[], &mut out);
        let plan = bpfgate::inspect::rollout::plan(&events, &[]);
        out += &bpfgate::inspect::rollout::text(&plan, &[]);
        out += &bpfgate::inspect::rollout::json(&plan, &[]);
    }
});
