/**
 * containerd.services.version.v1.Version. The version is containerd's API
 * level sandboxd implements with sandboxd's own version as semver build
 * metadata (`1.7.0+sandboxd.0.1.0`): clients that compare containerd
 * versions see 1.7.0, people see what answered.
 */
import type { ServiceImpl } from "@sandboxd/grpc";
import { Version } from "@sandboxd/api/services/version/v1/version_pb";

export interface VersionInfo {
  version: string;
  revision: string;
}

export function versionService(info: VersionInfo): ServiceImpl<typeof Version> {
  return { version: () => info };
}

export { Version };
