/**
 * What stands between a missed target and its goal, in this run's own
 * figures (the profile's steps, the memory parts), so that the results file
 * says not only that a target is missed but where the time or memory goes.
 */
import { SdkStep, SbxPhase } from "./profile.js";
import { fmt } from "./report.js";
import { MB, type BenchResults } from "./results.js";
import { System } from "./start-to-exit.js";

export function explanations(r: BenchResults): string[] {
  const out: string[] = [];
  const st = r.startToExit?.results;
  const p = r.profile;
  const runc = st?.[System.runc]?.summary.median;
  const sdk = st?.[System.sdk]?.summary.median;
  const sdkNone = st?.[System.sdkNone]?.summary.median;
  const sdkBare = st?.[System.sdkBare]?.summary.median;
  const step = (s: string): number =>
    p?.sdk.steps.find((x) => x.step === s)?.clientMs.median ?? Number.NaN;
  if (runc !== undefined && sdkNone !== undefined && sdkNone > 2.0 * runc && p) {
    const pod = step(SdkStep.start) + step(SdkStep.shutdown);
    const container =
      step(SdkStep.newTask) +
      step(SdkStep.taskStart) +
      step(SdkStep.exit) +
      step(SdkStep.taskDelete);
    out.push(
      `**SDK vs runc run** (${fmt(sdkNone)} ms with no pod network, ${fmt(sdk ?? NaN)} ms with the CNI network, vs ${fmt(runc)} ms): \`runc run\` is one process that creates, starts and deletes a container with no pod and no seccomp filter. ` +
        (sdkBare !== undefined
          ? `Without the RuntimeDefault seccomp filter (which runc compiles at every create) the SDK takes ${fmt(sdkBare)} ms (${fmt(sdkBare / runc, 2)}×). `
          : "") +
        `In the profile's SDK run (CNI network, ${fmt(p.sdk.totalMs.median)} ms) the pod (Controller.Start and the shutdown: namespace pins, cgroup, CNI ADD and DEL) takes ${fmt(pod)} ms, ` +
        `the container (Tasks.Create with conmon and \`runc create\`, \`runc start\`, the exit, \`runc delete\`) ${fmt(container)} ms: ` +
        "conmon, `runc create`, `runc start` and `runc delete` are four processes run one after the other, where `runc run` is one.",
    );
  }
  const ctr = st?.[System.ctrContainerd]?.summary.median;
  const sbx = st?.[System.sbx]?.summary.median;
  if (ctr !== undefined && sbx !== undefined && sbx > 1.0 * ctr && p) {
    const phase = (s: string): number =>
      p.sbx.phases.find((x) => x.step === s)?.clientMs.median ?? Number.NaN;
    const pod = step(SdkStep.start) + step(SdkStep.shutdown);
    out.push(
      `**sbx run --rm vs ctr run --rm** (${fmt(sbx)} vs ${fmt(ctr)} ms): before its first RPC reaches sandboxd, sbx spends ${fmt(phase(SbxPhase.startup))} ms ` +
        `(sbx-client hands the command to sandboxd's CLI server, where it runs; a Node started for the call instead would take ${fmt(p.nodeStartup.bareMs.median)} ms for Node itself and ${fmt(p.nodeStartup.importMs.median)} ms for \`sbx --version\`) and ${p.cpuMsPerRun.sbx["sbx process"] ?? "?"} ms of CPU per run in its own processes; ` +
        `then its RPCs take ${fmt(phase(SbxPhase.rpcs))} ms (the SDK's whole run in the same profile: ${fmt(p.sdk.totalMs.median)} ms). ` +
        `ctr's container gets no pod and no CNI network; the pod alone takes ${fmt(pod)} ms in the profile${pod > ctr ? `, more than ctr's whole run` : ""}.`,
    );
  }
  const m = r.memory?.sbx;
  if (m && m.perPodPssKiB > MB && r.memory) {
    const fresh = r.memory.freshPssKiB?.sandboxd;
    const fixed = ["sandboxd", "sbx-sandboxer"].reduce(
      (a, k) => a + (m.full.parts[k]?.pssKiB ?? 0),
      0,
    );
    out.push(
      `**Runtime PSS per pod** (${fmt(m.perPodPssKiB / MB, 2)} MB at ${r.memory.pods} pods): sandboxd and sbx-sandboxer are two Node processes, ${fmt(fixed / MB, 1)} MB together at ${r.memory.pods} pods ` +
        `(${fmt(fixed / MB / r.memory.pods, 2)} MB per pod at this count${fresh !== undefined ? `; sandboxd alone ${fmt((m.full.parts.sandboxd?.pssKiB ?? 0) / MB, 1)} MB, against ${fmt(fresh / MB, 1)} MB right after it started` : ""}); what one more pod costs is ${fmt(m.incrementPerPodPssKiB / MB, 2)} MB (mostly its conmon), ` +
        `against ${fmt(r.memory.containerd.incrementPerPodPssKiB / MB, 2)} MB for a containerd-shim-runc-v2. ` +
        (m.incrementPerPodPssKiB < MB
          ? `The total per pod falls under 1 MB only once the daemons' ${fmt(fixed / MB, 0)} MB is spread over about ${fmt(fixed / (MB - m.incrementPerPodPssKiB), 0)} pods or more.`
          : "Even one more pod costs more than 1 MB."),
    );
  }
  return out;
}
