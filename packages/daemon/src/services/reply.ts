/** What a local service returns: the init shape of a response message (protobuf-es). */
import type { DescMessage, MessageInitShape } from "@bufbuild/protobuf";

export type Reply<D extends DescMessage> = MessageInitShape<D>;

/** google.protobuf.Empty */
export type Empty = Record<string, never>;
export const empty: Empty = Object.freeze({});

/** The elements of an array as an AsyncIterable (a server stream of known items). */
export function streamOf<T>(items: readonly T[]): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator]() {
      const it = items[Symbol.iterator]();
      return { next: () => Promise.resolve(it.next()) };
    },
  };
}
