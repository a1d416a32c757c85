/**
 * Reading task events (/tasks/*) for the task list: which task an envelope is
 * about, the status it implies for the init process, and a key that tells
 * one exit from another (to drop duplicates).
 */
import { Topic, unpackAs } from "@sandboxd/api";
import {
  TaskCreateSchema,
  TaskDeleteSchema,
  TaskExitSchema,
  TaskPausedSchema,
  TaskResumedSchema,
  TaskStartSchema,
} from "@sandboxd/api/events/task_pb";
import type { Envelope } from "@sandboxd/api/types/event_pb";
import { Status } from "@sandboxd/api/types/task/task_pb";

const schemas = {
  [Topic.TaskCreate]: TaskCreateSchema,
  [Topic.TaskStart]: TaskStartSchema,
  [Topic.TaskExit]: TaskExitSchema,
  [Topic.TaskPaused]: TaskPausedSchema,
  [Topic.TaskResumed]: TaskResumedSchema,
  [Topic.TaskDelete]: TaskDeleteSchema,
} as const;

/** The container id of a task event, and for an exit a key naming that exit. */
export function taskEventKey(envelope: Envelope): { id?: string; event?: string } {
  const schema = schemas[envelope.topic as keyof typeof schemas] as
    (typeof schemas)[keyof typeof schemas] | undefined;
  if (!schema || !envelope.event) return {};
  let decoded;
  try {
    decoded = unpackAs(envelope.event, schema);
  } catch {
    return {};
  }
  if (!decoded) return {};
  if (decoded.$typeName === TaskExitSchema.typeName) {
    const e = decoded;
    return { id: e.containerId, event: exitKey(e.id || e.containerId, e.pid, e.exitStatus) };
  }
  return { id: (decoded as { containerId: string }).containerId };
}

/**
 * Identifies one exit of one process (exec id or container id, pid, status).
 * A process exits once, so the time is left out: the same exit reported by a
 * shim and read back by the daemon may carry times of different precision.
 */
function exitKey(processId: string, pid: number, exitStatus: number): string {
  return `${processId}/${pid}/${exitStatus}`;
}

/** The init process status an event implies, if any. */
export function taskStatusFromEvent(envelope: Envelope, containerId: string): Status | undefined {
  switch (envelope.topic) {
    case Topic.TaskCreate:
      return Status.CREATED;
    case Topic.TaskStart:
    case Topic.TaskResumed:
      return Status.RUNNING;
    case Topic.TaskPaused:
      return Status.PAUSED;
    case Topic.TaskExit: {
      const e = envelope.event ? unpackAs(envelope.event, TaskExitSchema) : undefined;
      return e && (e.id === "" || e.id === containerId) ? Status.STOPPED : undefined;
    }
    default:
      return undefined;
  }
}
