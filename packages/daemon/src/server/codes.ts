/** gRPC code names as grpc-go prints them (OK, NotFound, ...), for metrics and logs. */
import { Code } from "@sandboxd/errdefs";

const names = new Map<number, string>(Object.entries(Code).map(([name, code]) => [code, name]));

export function codeNameOf(code: number): string {
  return names.get(code) ?? `Code(${code})`;
}
