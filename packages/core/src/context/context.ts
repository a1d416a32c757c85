/**
 * The explicit request context (Go's ctx made explicit): cancellation and
 * deadline in one AbortSignal, the namespace, and a logger carrying fields.
 * Every core or plugin function that does I/O takes it first. Nothing here is
 * global and nothing uses AsyncLocalStorage.
 */
import { failedPrecondition } from "@sandboxd/errdefs";
import type { Logger } from "../log/log.js";
import { silentLogger } from "../log/log.js";
import { validate } from "../identifiers/identifiers.js";
import { namespaceRequiredText } from "../messages.js";

export interface Ctx {
  /** Fires on cancellation or deadline; work tied to the request listens to it. */
  readonly signal: AbortSignal;
  /** Epoch ms after which the work is abandoned, propagated as grpc-timeout / timeout_nano. */
  readonly deadline?: number | undefined;
  readonly namespace?: string | undefined;
  readonly log: Logger;
}

const never = new AbortController().signal;

/** A context that is never cancelled: the root for long-lived work. */
export function background(log: Logger = silentLogger): Ctx {
  return { signal: never, log };
}

export function withNamespace(ctx: Ctx, namespace: string): Ctx {
  return { ...ctx, namespace, log: ctx.log.child({ namespace }) };
}

export function withLogFields(ctx: Ctx, fields: Record<string, unknown>): Ctx {
  return { ...ctx, log: ctx.log.child(fields) };
}

export function withSignal(ctx: Ctx, signal: AbortSignal): Ctx {
  return { ...ctx, signal };
}

/**
 * A child context that is cancelled when the parent is, or after `ms`.
 * Call `done()` when the work ends: it clears the timer and unlinks the
 * listener from the parent, so long-lived parents do not accumulate listeners.
 */
export function withTimeout(ctx: Ctx, ms: number): { ctx: Ctx; done: () => void } {
  const controller = new AbortController();
  const deadline = Math.min(Date.now() + ms, ctx.deadline ?? Number.POSITIVE_INFINITY);
  const onParentAbort = (): void => controller.abort(ctx.signal.reason);
  const timer = setTimeout(
    () => controller.abort(new DOMException("context deadline exceeded", "TimeoutError")),
    Math.max(0, deadline - Date.now()),
  );
  timer.unref?.();
  if (ctx.signal.aborted) controller.abort(ctx.signal.reason);
  else ctx.signal.addEventListener("abort", onParentAbort, { once: true });
  const done = (): void => {
    clearTimeout(timer);
    ctx.signal.removeEventListener("abort", onParentAbort);
  };
  return { ctx: { ...ctx, signal: controller.signal, deadline }, done };
}

/**
 * A context for cleanup that must run even when the request that started it
 * was cancelled (containerd's cleanup.Do): keeps namespace and logger, drops
 * the parent's cancellation, and gets its own deadline.
 */
export function detached(ctx: Ctx, ms = 10_000): { ctx: Ctx; done: () => void } {
  return withTimeout({ signal: never, namespace: ctx.namespace, log: ctx.log }, ms);
}

/** The namespace of the request, validated; FailedPrecondition when absent. */
export function namespaceRequired(ctx: Ctx): string {
  const ns = ctx.namespace;
  if (!ns) throw failedPrecondition(namespaceRequiredText);
  validate(ns);
  return ns;
}

/** Milliseconds left before the deadline, or undefined without one. */
export function remainingMs(ctx: Ctx): number | undefined {
  return ctx.deadline === undefined ? undefined : Math.max(0, ctx.deadline - Date.now());
}
