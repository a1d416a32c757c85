import { test } from "node:test";
import assert from "node:assert/strict";
import { exeName, parsePerfScript, rootOf } from "./proc-trace.js";

const script = [
  // sandboxer (100) forks 200 from its main thread; 200 execs runc, makes a thread 201,
  // forks 300 from that thread; 300 execs runc init; the thread exits last.
  "   100/100   10.000000: sched:sched_process_fork: comm=node pid=100 child_comm=node child_pid=200",
  "   200/200   10.001000: sched:sched_process_exec: filename=/usr/sbin/runc pid=200 old_pid=200",
  "   200/200   10.002000: sched:sched_process_fork: comm=runc pid=200 child_comm=runc child_pid=201",
  "   200/201   10.003000: sched:sched_process_fork: comm=runc pid=201 child_comm=runc child_pid=300",
  "   300/300   10.004000: sched:sched_process_exec: filename=/proc/self/fd/6 pid=300 old_pid=300",
  "   300/300   10.006000: sched:sched_process_exit: comm=runc:[2:INIT] pid=300 prio=120 group_dead=true",
  "   200/200   10.007000: sched:sched_process_exit: comm=runc pid=200 prio=120 group_dead=false",
  "   200/201   10.009000: sched:sched_process_exit: comm=runc pid=201 prio=120 group_dead=true",
  // Someone else's process.
  "   900/900   10.005000: sched:sched_process_exec: filename=/usr/bin/sleep pid=900 old_pid=900",
  "not a perf line",
].join("\n");

test("parses processes with their executable, fork and group exit times", () => {
  const { procs, parents } = parsePerfScript(script);
  assert.deepEqual([...procs.keys()].sort(), [200, 300, 900]);
  const runc = procs.get(200)!;
  assert.equal(runc.exe, "/usr/sbin/runc");
  assert.equal(runc.startMs, 10_000);
  // Ends when its last thread (201) exits, not when its main thread does.
  assert.equal(runc.endMs, 10_009);
  assert.equal(procs.get(300)!.endMs, 10_006);
  assert.equal(procs.get(900)!.endMs, undefined);
  assert.equal(parents.get(300), 201);
});

test("follows forks through threads to the root a process descends from", () => {
  const { parents } = parsePerfScript(script);
  assert.equal(rootOf(parents, 300, new Set([100])), 100);
  assert.equal(rootOf(parents, 200, new Set([100])), 100);
  assert.equal(rootOf(parents, 900, new Set([100])), undefined);
});

test("names runc's re-executions runc init", () => {
  assert.equal(exeName("/proc/self/fd/6"), "runc init");
  assert.equal(exeName("/proc/self/exe"), "runc init");
  assert.equal(exeName("/usr/lib/cni/bridge"), "bridge");
});
