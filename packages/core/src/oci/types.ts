// The seccomp part of the OCI runtime-spec (v1.1, linux.seccomp) as JSON.

/** One argument condition of a syscall rule (`SCMP_CMP_*`). */
export interface LinuxSeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op:
    | "SCMP_CMP_NE"
    | "SCMP_CMP_LT"
    | "SCMP_CMP_LE"
    | "SCMP_CMP_EQ"
    | "SCMP_CMP_GE"
    | "SCMP_CMP_GT"
    | "SCMP_CMP_MASKED_EQ";
}

/** A rule: these syscall names get `action` (when every `args` condition holds). */
export interface LinuxSyscall {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: LinuxSeccompArg[];
}

/** `linux.seccomp` of an OCI spec. */
export interface LinuxSeccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  listenerPath?: string;
  listenerMetadata?: string;
  syscalls?: LinuxSyscall[];
}
