package main

import (
	"fmt"
	"strings"
	"time"
)

// result is one scenario's outcome against one target.
type result struct {
	ok, errors int64         // 2xx answers; everything else (other statuses, broken connections)
	elapsed    time.Duration // the measuring window
	p50, p99   time.Duration
	cpu        time.Duration // the gateway's CPU time during the run (through Tollgate only)
}

func (r *result) rps() float64 { return float64(r.ok) / r.elapsed.Seconds() }

// cpuPerCall is the gateway's CPU time per 2xx answer.
func (r *result) cpuPerCall() time.Duration {
	if r.ok == 0 {
		return 0
	}
	return r.cpu / time.Duration(r.ok)
}

// row is one scenario measured direct, through the reference relay (or nil) and
// through Tollgate.
type row struct {
	scenario
	direct, relayed, through *result
}

// loadedPlain reports a loaded scenario of plain (not streamed) calls.
func (r row) loadedPlain() bool { return r.conns > 1 && strings.HasPrefix(r.name, "plain") }

func (r row) addedP50() time.Duration { return r.through.p50 - r.direct.p50 }
func (r row) addedP99() time.Duration { return r.through.p99 - r.direct.p99 }

const rowFormat = "%-36s %10s %11s %10s %10s %7s %12s\n"

func printHeader() {
	fmt.Printf(rowFormat, "scenario", "direct/s", "Tollgate/s", "added p50", "added p99", "errors", "gw CPU/call")
}

func (r row) print() {
	errs := count(r.through.errors)
	if r.direct.errors > 0 {
		errs += fmt.Sprintf(" (direct %d)", r.direct.errors)
	}
	fmt.Printf(rowFormat, r.name, count(int64(r.direct.rps())), count(int64(r.through.rps())),
		fmt.Sprintf("%+.2f ms", ms(r.addedP50())), fmt.Sprintf("%+.2f ms", ms(r.addedP99())), errs,
		fmt.Sprintf("%.0f µs", float64(r.through.cpuPerCall())/float64(time.Microsecond)))
	if rl := r.relayed; rl != nil {
		fmt.Printf(rowFormat, "  reference relay, same calls", "", count(int64(rl.rps())),
			fmt.Sprintf("%+.2f ms", ms(rl.p50-r.direct.p50)), fmt.Sprintf("%+.2f ms", ms(rl.p99-r.direct.p99)), count(rl.errors), "")
	}
}

// report is everything measured in one run.
type report struct {
	rows    []row
	idle    *idleResult
	billing billed
}

// served2xx is the number of 2xx answers clients got from the gateway.
func (rep *report) served2xx() int64 {
	var n int64
	for _, r := range rep.rows {
		n += r.through.ok
	}
	if rep.idle != nil {
		n += int64(rep.idle.held)
	}
	return n
}

// target is one of issue 6's figures. Speed targets are printed, not enforced: CI
// runs the benchmark on a shared machine.
type target struct {
	what, want, got string
	met, enforced   bool
}

func (rep *report) targets() []target {
	var ts []target
	for _, r := range rep.rows {
		switch {
		case r.loadedPlain():
			ts = append(ts, target{what: r.name, want: "≥ 10,000 calls/s", got: count(int64(r.through.rps())), met: r.through.rps() >= 10000},
				target{what: "gateway CPU per call, " + r.name, want: "≤ 100 µs", got: fmt.Sprintf("%.0f µs", float64(r.through.cpuPerCall())/1e3), met: r.through.cpuPerCall() <= 100*time.Microsecond})
		case r.conns > 1:
			ts = append(ts, target{what: r.name, want: "≥ 3,000 calls/s", got: count(int64(r.through.rps())), met: r.through.rps() >= 3000})
		default:
			ts = append(ts, target{what: "added p50, " + r.name, want: "≤ 0.3 ms", got: fmt.Sprintf("%.2f ms", ms(r.addedP50())), met: r.addedP50() <= 300*time.Microsecond},
				target{what: "added p99, " + r.name, want: "≤ 1.5 ms", got: fmt.Sprintf("%.2f ms", ms(r.addedP99())), met: r.addedP99() <= 1500*time.Microsecond})
		}
	}
	if i := rep.idle; i != nil {
		ts = append(ts, target{what: fmt.Sprintf("gateway RSS, %s idle streams", count(targetStreams)), want: "< 300 MB", got: mb(i.atTarget()),
			met: i.openErr == nil && i.atTarget() < 300<<20})
	}
	var errs int64
	for _, r := range rep.rows {
		errs += r.direct.errors + r.through.errors
		if r.relayed != nil {
			errs += r.relayed.errors
		}
	}
	ts = append(ts, target{what: "answers that were not 2xx (or broke)", want: "0", got: count(errs), met: errs == 0, enforced: true},
		target{what: "billing: usage records = debits = 2xx answers", want: "equal, 0 held", got: map[bool]string{true: "equal", false: "MISMATCH"}[rep.billing.ok()], met: rep.billing.ok(), enforced: true})
	return ts
}

// verdict prints the targets and fails the run on a missed enforced one.
func (rep *report) verdict() error {
	fmt.Printf("\n%-52s %-18s %-12s %s\n", "targets (issue 6)", "target", "measured", "")
	failed := false
	for _, t := range rep.targets() {
		status := "met"
		if !t.met {
			status = "missed"
			if t.enforced {
				status, failed = "FAILED", true
			}
		}
		fmt.Printf("  %-50s %-18s %-12s %s\n", t.what, t.want, t.got, status)
	}
	fmt.Println("Speed and memory targets are reported, not enforced (CI shares its machine; cmd/tollgate's idle-stream test guards memory); errors and billing are.")
	rep.printHostSpeed()
	if failed || (rep.idle != nil && (rep.idle.openErr != nil || rep.idle.settledErr != nil)) {
		return errFailed
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func mb(bytes int64) string { return fmt.Sprintf("%.0f MB", float64(bytes)/(1<<20)) }

// count formats n with thousands separators.
func count(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + count(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// referenceDirect is what the fake alone served, plain at 32 connections under wrk,
// on the machine issue 6's figures were taken on.
const referenceDirect = 56000

// printHostSpeed sets the loaded figures beside the host's speed of the moment: a
// shared machine's speed swings (the fake alone has done 17,000 to 56,000 calls/s
// here), and every speed target assumes the issue's. It is context, not a verdict.
func (rep *report) printHostSpeed() {
	var plain, stream *row
	for i := range rep.rows {
		switch r := &rep.rows[i]; {
		case r.loadedPlain():
			plain = r
		case r.conns > 1:
			stream = r
		}
	}
	if plain == nil || plain.direct.rps() == 0 {
		return
	}
	speed := plain.direct.rps() / referenceDirect
	fmt.Printf("\nhost speed: the fake alone did %s plain calls/s at %d connections, %.2f× the %s it did at 32 on the issue's machine.\n",
		count(int64(plain.direct.rps())), plain.conns, speed, count(referenceDirect))
	fmt.Printf("  scaled to that machine: plain %s calls/s at %.0f µs of gateway CPU each", count(int64(plain.through.rps()/speed)),
		float64(plain.through.cpuPerCall())/1e3*speed)
	if stream != nil {
		fmt.Printf(", stream %s calls/s", count(int64(stream.through.rps()/speed)))
	}
	fmt.Println(" (a linear estimate)")
}
